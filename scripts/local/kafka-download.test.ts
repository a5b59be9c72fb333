/** The first start's Kafka download: bytes from Maven's transfer lines, progress on any stream. */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { startProgressBar } from "../progress-bar";
import { mavenDownloadedBytes } from "./kafka-jars";

describe("mavenDownloadedBytes", () => {
  it.each([
    // Lines as Maven 3.8 prints them in batch mode (-B), sizes in decimal units.
    [
      "[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka-metadata/3.9.1/kafka-metadata-3.9.1.jar (868 kB at 225 kB/s)",
      868_000,
    ],
    [
      "[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/3.9.1/kafka_2.13-3.9.1.jar (6.3 MB at 1.9 MB/s)",
      6_300_000,
    ],
    [
      "[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/maven/plugins/maven-plugins/43/maven-plugins-43.pom (7.5 kB at 57 kB/s)",
      7_500,
    ],
    ["Downloaded from mirror: https://m.example/x.jar (512 B at 1.0 kB/s)", 512],
  ])("%s", (line, bytes) => {
    expect(mavenDownloadedBytes(line)).toBe(bytes);
  });

  it("ignores every other line", () => {
    for (const line of [
      "[INFO] Downloading from central: https://repo.maven.apache.org/maven2/x/y.pom",
      "[INFO] Copying kafka_2.13-3.9.1.jar to /tmp/libs/kafka_2.13-3.9.1.jar",
      "[INFO] BUILD SUCCESS",
      "",
    ]) {
      expect(mavenDownloadedBytes(line)).toBeUndefined();
    }
  });
});

/** A stream that records what is written, a terminal or not. */
function capture(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  stream.isTTY = isTTY;
  stream.columns = 100;
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => chunks.join("") };
}

describe("download progress", () => {
  it("not a terminal: plain lines with bytes, no bar characters or cursor codes", () => {
    const out = capture(false);
    const bar = startProgressBar({
      label: "Kafka jars",
      total: 65_000_000,
      unit: "bytes",
      detail: "{files} files",
      payload: { files: 0 },
      stream: out.stream,
    });
    bar.update(6_300_000, { files: 12 });
    bar.setTotal(6_300_000);
    bar.stop();
    const lines = out.text().split("\n").filter(Boolean);
    expect(lines[0]).toMatch(/^Kafka jars: 0 B of 65\.0 MB \(0%\) \| 0 files, /);
    expect(lines.at(-1)).toMatch(/^Kafka jars: 6\.3 MB of 6\.3 MB \(100%\) \| 12 files, /);
    expect(out.text()).not.toContain("\u001b[");
  });

  it("a terminal: a bar redrawn in place", () => {
    const out = capture(true);
    (
      out.stream as unknown as {
        cursorTo: () => boolean;
        clearLine: () => boolean;
        moveCursor: () => boolean;
      }
    ).cursorTo = () => true;
    Object.assign(out.stream, { clearLine: () => true, moveCursor: () => true });
    const bar = startProgressBar({
      label: "Kafka jars",
      total: 1_000_000,
      unit: "bytes",
      stream: out.stream,
    });
    bar.update(500_000);
    bar.stop();
    expect(out.text()).toMatch(/Kafka jars \[[█░]+\] 50% \| 500\.0 kB of 1\.0 MB/);
  });
});
