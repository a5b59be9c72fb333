/** Helpers the benchmarks share: child processes, free ports, a private Upstash REST server and Kafka REST gateway, wrangler bundles in Miniflare, CPU from /proc, latency statistics and plain-text tables. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { allTopicNames } from "#core/topics";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { kafkaBrokers, kafkaRestGatewayService, kafkaService } from "../../scripts/local/kafka";
import { pingUpstashRest } from "../../scripts/local/upstash-rest-service";
import { modulesFromBundle } from "../../scripts/local/worker-bundle";

export const ROOT = resolve(import.meta.dirname, "../..");
const WRANGLER = resolve(ROOT, "node_modules/.bin/wrangler");

/** Runs a command in the repository root; rejects with its stderr when it exits non-zero. */
export function run(command: string, argv: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(command, argv, {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    child.on("exit", (code) =>
      code === 0 ? ok() : fail(new Error(`${command} ${argv.join(" ")} failed:\n${stderr}`)),
    );
  });
}

/** The bundle `wrangler deploy` would upload (the app's, or `entry`'s), written to `outdir`. */
export async function buildBundle(entry: string | undefined, outdir: string): Promise<string> {
  await run(WRANGLER, ["deploy", ...(entry ? [entry] : []), "--dry-run", "--outdir", outdir]);
  return outdir;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? ok(address.port) : fail()));
    });
  });
}

export interface PrivateKafkaRestGateway {
  url: string;
  /** Prefix of the topics this gateway serves (fresh per start). */
  prefix: string;
  /** Its own state folder (pid and log files). */
  stateDir: string;
  /** Stops the gateway, deletes its topics, stops the broker if it was started here, removes the folder. */
  stop(): Promise<void>;
}

/**
 * A Kafka REST gateway process of its own (own state folder, free port, fresh topic prefix
 * `<name>-<8 hex>.`, no auth) on the local broker, which is started if it is not running.
 */
export async function startPrivateKafkaRestGateway(name: string): Promise<PrivateKafkaRestGateway> {
  const stateDir = mkdtempSync(join(tmpdir(), `driftline-${name}-`));
  const prefix = `${name}-${randomUUID().slice(0, 8)}.`;
  const config = loadLocalStackConfig({
    ...process.env,
    DRIFTLINE_STATE_DIR: stateDir,
    KAFKA_REST_PORT: String(await freePort()),
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_REST_API_KEY: "",
    KAFKA_REST_API_SECRET: "",
  });
  const shared = loadLocalStackConfig();
  const kafka = kafkaService(shared);
  const kafkaEndpoint = await kafka.up();
  const gateway = kafkaRestGatewayService(config);
  const stop = async () => {
    await gateway.down();
    const admin = new Kafka({ brokers: kafkaBrokers(shared), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: allTopicNames(prefix) }).catch(() => undefined);
    await admin.disconnect();
    if (kafkaEndpoint.startedHere) await kafka.down();
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    const { url } = await gateway.up();
    return { url, prefix, stateDir, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

export interface UpstashRest {
  url: string;
  token: string;
  /** Set when this process started the server; kill it when done. */
  child?: ChildProcess;
}

/** A private Upstash REST server (in front of REDIS_URL) on a free port, e.g. so its CPU time can be measured. */
export async function startUpstashRest(
  token = "driftline-bench-token",
): Promise<Required<UpstashRest>> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ["--import", "tsx", resolve(ROOT, "scripts/local/upstash-rest-server.ts")],
    {
      cwd: ROOT,
      stdio: "ignore",
      env: { ...process.env, UPSTASH_REST_PORT: String(port), UPSTASH_REDIS_REST_TOKEN: token },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  // Up to 15 s: tsx compiles the server on first start.
  for (let i = 0; i < 150; i++) {
    if (await pingUpstashRest(url, token)) return { url, token, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`The Upstash REST server did not come up on ${url}; is Redis running?`);
}

/** The Upstash REST server at UPSTASH_REDIS_REST_URL when it answers, else a private one. */
export async function upstashEndpoint(): Promise<UpstashRest> {
  const token = process.env.UPSTASH_REDIS_REST_TOKEN ?? "driftline-local-token";
  const url = process.env.UPSTASH_REDIS_REST_URL ?? "http://127.0.0.1:8079";
  if (await pingUpstashRest(url, token)) return { url, token };
  return startUpstashRest(token);
}

/** Miniflare worker options for a wrangler `--outdir` bundle: its entry and the modules beside it. */
export function workerFromBundle(name: string, dir: string, bindings: Record<string, string>) {
  return { name, ...modulesFromBundle(dir), compatibilityDate: "2026-10-01", bindings };
}

/** Linux clock ticks per second (`getconf CLK_TCK`), for /proc/<pid>/stat times. */
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** User + system CPU of a process (all threads), ms; undefined once it is gone or off Linux. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm) ": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** The machine's CPU time since boot from /proc/stat, ms: busy (all but idle and iowait) and all. */
export function machineCpuMs(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const ticks = fields.slice(0, 8).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: ((total - idle) * 1000) / CLOCK_TICKS, total: (total * 1000) / CLOCK_TICKS };
}

/** The value at quantile `p` (0..1) of ascending `sorted`, nearest rank below; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/** An ascending copy. */
export function ascending(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** The upper median of unsorted `xs`. */
export function median(xs: readonly number[]): number {
  return percentile(ascending(xs), 0.5);
}

/**
 * A plain-text table: columns as wide as their widest cell, two spaces apart; the columns in
 * `leftAligned` are padded on the right (text), the others on the left (numbers).
 */
export function table(
  header: string[],
  rows: (string | number)[][],
  leftAligned: readonly number[] = [0],
): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) =>
        leftAligned.includes(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0),
      )
      .join("  ");
  return [
    line(cells[0] ?? []),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...cells.slice(1).map(line),
  ].join("\n");
}
