/** Benchmark: the stream processor's end-to-end rate with anomaly detection off and on, in one run, side by side. */
// Usage: npm run bench:stream:anomaly [-- --rounds 1 --events 200000 --event-rate 550]
// Runs `bench:stream` (test/bench/stream.ts) with --no-anomaly and with anomaly detection on,
// alternately for --rounds rounds (each run has fresh topics and schema and the same seeded
// workload), and prints each end-to-end rate and the ratio on / off. Anything after the known
// options is passed on to bench:stream. The target is a ratio ≥ 0.90.
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { ROOT, table } from "./bench-support";

const { values, tokens } = parseArgs({
  options: {
    rounds: { type: "string", default: "1" },
    events: { type: "string", default: "200000" },
  },
  strict: false,
  tokens: true,
});
const passOn = tokens
  .filter((t) => t.kind === "option" && t.name !== "rounds" && t.name !== "events")
  .flatMap((t) =>
    t.kind === "option" ? [t.rawName, ...(t.value === undefined ? [] : [t.value])] : [],
  );

function runStream(anomaly: boolean): Promise<{ rate: number; correct: boolean }> {
  return new Promise((done, fail) => {
    const args = [
      "--import",
      "tsx",
      "test/bench/stream.ts",
      "--events",
      String(values.events),
      ...(anomaly ? [] : ["--no-anomaly"]),
      ...passOn,
    ];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += String(d);
      process.stdout.write(d);
    });
    child.on("exit", (code) => {
      const rate = /stream processor, end to end\s+([\d,]+) records\/s/.exec(out)?.[1];
      if (code !== 0 || rate === undefined) {
        fail(
          new Error(
            `bench:stream ${anomaly ? "with" : "without"} anomaly detection failed (exit ${code})`,
          ),
        );
        return;
      }
      done({
        rate: Number(rate.replaceAll(",", "")),
        correct: /totals in Postgres\s+correct/.test(out),
      });
    });
  });
}

const rows: string[][] = [];
const ratios: number[] = [];
for (let round = 1; round <= Number(values.rounds); round++) {
  const off = await runStream(false);
  const on = await runStream(true);
  ratios.push(on.rate / off.rate);
  rows.push([
    String(round),
    off.rate.toLocaleString("en-US"),
    on.rate.toLocaleString("en-US"),
    (on.rate / off.rate).toFixed(3),
    off.correct && on.correct ? "correct" : "WRONG",
  ]);
}
console.log("\nStream processor end to end, anomaly detection off and on (records/s)");
console.log(table(["round", "off", "on", "on / off", "totals"], rows));
const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
console.log(`mean ratio on / off ${mean.toFixed(3)} (target ≥ 0.90)`);
