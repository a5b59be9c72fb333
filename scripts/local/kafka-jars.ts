/**
 * The Kafka broker's jars: fetched once per Kafka version from Maven Central (with a progress bar
 * on the first start) into DRIFTLINE_CACHE_DIR, then used from there.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, DependencyUnavailableError } from "#core/errors";
import { type ProgressBar, startProgressBar } from "../progress-bar";
import type { LocalStackConfig } from "./config";

/** The broker's Maven project (pom.xml) and its log4j settings. */
export const KAFKA_DIR = resolve(import.meta.dirname, "kafka-broker");
/** Written last into a jar folder: its download is complete. */
const COMPLETE_MARKER = ".complete";

/**
 * The broker's jars, cached per Kafka version under DRIFTLINE_CACHE_DIR/kafka/<version>/libs.
 * Downloaded with Maven on first use only; a cached folder is used without calling mvn.
 */
export async function ensureKafkaJars(
  config: LocalStackConfig,
): Promise<{ dir: string; downloaded: boolean; ms: number }> {
  const started = performance.now();
  const versionDir = join(config.DRIFTLINE_CACHE_DIR, "kafka", config.KAFKA_VERSION);
  const dir = join(versionDir, "libs");
  if (existsSync(join(dir, COMPLETE_MARKER))) {
    return { dir, downloaded: false, ms: performance.now() - started };
  }
  mkdirSync(versionDir, { recursive: true });
  // Download into a private folder and rename it into place, so a concurrent or interrupted
  // download never leaves a half-filled folder that looks complete.
  const staging = join(versionDir, `libs.tmp-${process.pid}-${Date.now()}`);
  try {
    await runMaven([
      "-B",
      "-f",
      join(KAFKA_DIR, "pom.xml"),
      `-Dkafka.version=${config.KAFKA_VERSION}`,
      "dependency:copy-dependencies",
      `-DoutputDirectory=${staging}`,
      "-DincludeScope=runtime",
    ]);
    const jars = readdirSync(staging).filter((f) => f.endsWith(".jar"));
    if (!jars.some((f) => f.startsWith(`kafka_2.13-${config.KAFKA_VERSION}`))) {
      throw new DependencyUnavailableError(
        `Maven finished but no kafka_2.13-${config.KAFKA_VERSION}.jar is in ${staging}.`,
      );
    }
    writeFileSync(join(staging, COMPLETE_MARKER), `${jars.length} jars\n`);
    // Another process may have finished the same download first; its copy is as good as ours.
    if (!existsSync(join(dir, COMPLETE_MARKER))) {
      rmSync(dir, { recursive: true, force: true });
      try {
        renameSync(staging, dir);
      } catch (err) {
        if (!existsSync(join(dir, COMPLETE_MARKER))) throw err;
      }
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { dir, downloaded: true, ms: performance.now() - started };
}

/**
 * What a fresh machine downloads: the broker's jars (~46 MB) plus the Maven plugin that copies
 * them (~19 MB), measured from Maven's own "Downloaded" lines. The bar's total until it is passed.
 */
export const KAFKA_DOWNLOAD_ESTIMATE_BYTES = 65_000_000;

const MAVEN_UNITS: Record<string, number> = { B: 1, kB: 1_000, MB: 1_000_000, GB: 1_000_000_000 };

/**
 * Bytes of one transfer line of Maven's batch-mode output,
 * `[INFO] Downloaded from central: <url> (868 kB at 225 kB/s)`; undefined for any other line.
 */
export function mavenDownloadedBytes(line: string): number | undefined {
  const match = /Downloaded from [^:]+: \S+ \((\d+(?:\.\d+)?) (B|kB|MB|GB) at /.exec(line);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (MAVEN_UNITS[match[2]!] ?? 1));
}

/**
 * Runs mvn in batch mode. Its transfer lines drive a progress bar on stderr (a live bar on a
 * terminal, a line every few seconds otherwise), so a first start's download is never silent;
 * a cached start downloads nothing and shows nothing.
 */
function runMaven(args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn("mvn", args, { stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    let downloaded = 0;
    let files = 0;
    let bar: ProgressBar | undefined;
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      const bytes = mavenDownloadedBytes(line);
      if (bytes === undefined) return;
      downloaded += bytes;
      files += 1;
      if (bar === undefined) {
        process.stderr.write(
          `Fetching the Kafka broker's jars from Maven Central (once per Kafka version, about ${Math.round(KAFKA_DOWNLOAD_ESTIMATE_BYTES / 1e6)} MB on a new machine)\n`,
        );
        bar = startProgressBar({
          label: "Kafka jars",
          total: KAFKA_DOWNLOAD_ESTIMATE_BYTES,
          unit: "bytes",
          detail: "{files} files",
          payload: { files: 0 },
        });
      }
      if (downloaded > KAFKA_DOWNLOAD_ESTIMATE_BYTES) bar.setTotal(downloaded);
      bar.update(downloaded, { files });
    };
    for (const stream of [child.stdout, child.stderr]) {
      let pending = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        const lines = (pending + chunk).split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) onLine(line);
      });
      stream.on("end", () => pending && onLine(pending));
    }
    child.on("error", (error: NodeJS.ErrnoException) => {
      bar?.stop();
      if (error.code === "ENOENT") {
        reject(
          new ConfigError(
            "mvn was not found on PATH. It is needed once, to fetch the Kafka broker's jars from " +
              "Maven Central into the cache (Debian: apt-get install maven).",
            { cause: error },
          ),
        );
      } else reject(error);
    });
    child.on("close", (code) => {
      if (bar !== undefined) {
        if (code === 0) {
          bar.setTotal(downloaded);
          bar.update(downloaded, { files });
        }
        bar.stop();
      }
      if (code === 0) return resolvePromise();
      reject(
        new DependencyUnavailableError(
          `mvn could not fetch the Kafka jars (is Maven Central reachable?):\n${tail.join("\n").trim()}`,
        ),
      );
    });
  });
}
