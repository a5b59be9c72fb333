/**
 * The Worker for `npm start`, run on Miniflare directly: the bundle `wrangler deploy` would upload
 * (built once at start), the bindings of wrangler.toml, the local stack's vars, R2 and Queues
 * persisted in the state dir. Same workerd runtime as `wrangler dev`, without its dev-server
 * processes (wrangler's CLI, its esbuild watcher and proxy Worker: ~400 MiB); the price is no
 * live reload. DRIFTLINE_WORKER_RUNTIME=wrangler runs `wrangler dev` instead (see worker.ts).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { WORKER_HOST_ENV, type WorkerHostSpec } from "./worker";
import { modulesFromBundle } from "./worker-bundle";

const ROOT = resolve(import.meta.dirname, "../..");
const WRANGLER = resolve(ROOT, "node_modules/.bin/wrangler");

/**
 * wrangler.toml as Miniflare worker options (bindings, queues, compatibility), computed in a child
 * process so wrangler's own code never loads into this long-running one.
 */
function wranglerWorkerOptions(): Record<string, unknown> {
  const script =
    'import { unstable_getMiniflareWorkerOptions as o } from "wrangler";' +
    'process.stdout.write(JSON.stringify(o("wrangler.toml").workerOptions));';
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.status !== 0) {
    throw new Error(`reading wrangler.toml failed:\n${result.stderr}`);
  }
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** `wrangler deploy --dry-run --outdir`: the exact bundle a deploy uploads (runs `[build]` first). */
function buildBundle(outdir: string): void {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = spawnSync(WRANGLER, ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: ROOT,
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${resolve(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}`,
      WRANGLER_SEND_METRICS: "false",
      CI: "true",
    },
  });
  if (result.status !== 0) {
    throw new Error(`building the Worker failed:\n${result.stdout}\n${result.stderr}`);
  }
}

async function main(): Promise<void> {
  const raw = process.env[WORKER_HOST_ENV];
  if (raw === undefined)
    throw new Error(`${WORKER_HOST_ENV} is not set: start this through workerService`);
  const spec = JSON.parse(raw) as WorkerHostSpec;
  const workerDir = join(spec.stateDir, "worker");
  const outdir = join(workerDir, "bundle");
  const t0 = performance.now();
  buildBundle(outdir);
  const fromToml = wranglerWorkerOptions();
  const { rootPath: _root, modulesRules: _rules, bindings, ...rest } = fromToml;
  // wrangler describes the Worker in Miniflare's v4 option shape; Miniflare 5 converts it.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: spec.port,
      // The layout `wrangler dev --persist-to <state>/wrangler` uses, so local R2 data carries over.
      resourcePersistencePath: join(spec.stateDir, "wrangler", "v3"),
      log: new Log(LogLevel.WARN),
      logRequests: false,
      workers: [
        {
          ...(rest as object),
          name: "driftline",
          ...modulesFromBundle(outdir),
          bindings: { ...(bindings as Record<string, string>), ...spec.vars },
        },
      ],
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  const url = await mf.ready;
  process.stdout.write(
    `${new Date().toISOString()} Worker on ${url.origin} (Miniflare), built and started in ${Math.round(performance.now() - t0)} ms\n`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    mf.dispose().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `worker host: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
