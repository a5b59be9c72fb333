/**
 * The production build: `npm run build` bundles the Node services, a production-only install
 * (`npm ci --omit=dev`, no tsx, no TypeScript) of the same lock file runs them with plain `node`,
 * and the stream processor reaches readiness against the real local Kafka and Postgres.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { cp, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IntegrationEnv, startIntegrationEnv } from "../test/support/integration-env";
import { buildServices, externalPackages, packageOf } from "./build-services";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "..");
// Node 22 from the project's own `node` package, as production would run (engines: >=22.12).
const NODE = resolve(ROOT, "node_modules/.bin/node");

let dir: string;
let externals: string[];

beforeAll(async () => {
  externals = (await buildServices()).externals;
  dir = await mkdtemp(join(tmpdir(), "driftline-production-"));
  // What a deployment ships: the manifest and lock file, the bundles, the bundled models.
  await cp(resolve(ROOT, "package.json"), join(dir, "package.json"));
  await cp(resolve(ROOT, "package-lock.json"), join(dir, "package-lock.json"));
  await cp(resolve(ROOT, "dist"), join(dir, "dist"), { recursive: true });
  await cp(resolve(ROOT, "models/conversion"), join(dir, "models/conversion"), {
    recursive: true,
  });
  // From the local npm cache when it has every package; no install script is needed in production.
  await run(
    "npm",
    ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
    { cwd: dir, timeout: 240_000 },
  );
}, 300_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Runs a bundle to its exit; its output and exit code. */
function runBundle(
  bundle: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(NODE, [join(dir, bundle)], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    let output = "";
    child.stdout.on("data", (b: Buffer) => (output += b));
    child.stderr.on("data", (b: Buffer) => (output += b));
    child.on("exit", (code) => done({ code, output }));
  });
}

describe("the production build", () => {
  it("imports only packages listed in dependencies", async () => {
    const pkg = JSON.parse(await readFile(resolve(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(externals).toEqual(expect.arrayContaining(["kafkajs", "pino", "zod"]));
    for (const name of externals) expect(pkg.dependencies, name).toHaveProperty(name);
    expect(packageOf("@neondatabase/serverless/x")).toBe("@neondatabase/serverless");
    expect(
      externalPackages({
        inputs: {},
        outputs: {
          "a.js": {
            bytes: 1,
            inputs: {},
            exports: [],
            imports: [
              { path: "node:fs", kind: "import-statement", external: true },
              { path: "hono/http-exception", kind: "import-statement", external: true },
              { path: "src/x.ts", kind: "import-statement" },
            ],
          },
        },
      }),
    ).toEqual(["hono"]);
  });

  it("installs without dev dependencies: no tsx, TypeScript or esbuild", async () => {
    for (const dev of ["tsx", "typescript", "esbuild", "vitest"]) {
      await expect(stat(join(dir, "node_modules", dev)), dev).rejects.toThrow(/ENOENT/);
    }
    await expect(stat(join(dir, "node_modules/kafkajs"))).resolves.toBeTruthy();
  });

  it.each([
    ["dist/stream-processor/main.js", "Invalid stream processor environment"],
    ["dist/stream-processor/delivery-main.js", "Invalid stream processor environment"],
    ["dist/kafka-rest-gateway/main.js", "Kafka REST gateway configuration is invalid"],
  ])("%s starts and names each missing production setting", async (bundle, heading) => {
    const { code, output } = await runBundle(bundle, { DRIFTLINE_ENV: "production" });
    expect(code).not.toBe(0);
    expect(output).toContain(heading);
    expect(output).toMatch(/KAFKA_SSL/);
    expect(output).not.toMatch(/Cannot find (module|package)|ERR_MODULE_NOT_FOUND/);
  });

  describe("the stream processor against real Kafka and Postgres", () => {
    let env: IntegrationEnv;
    let child: ChildProcess | undefined;

    beforeAll(async () => {
      env = await startIntegrationEnv("prodbuild", 1);
    }, 120_000);

    afterAll(async () => {
      child?.kill("SIGKILL");
      await env?.cleanup();
    });

    it("becomes ready, then stops cleanly on SIGTERM", async () => {
      const proc = spawn(NODE, [join(dir, "dist/stream-processor/main.js")], {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? "",
          ...env.env({ LOG_LEVEL: "info", STREAM_ENSURE_TOPICS: "true" }),
        },
      });
      child = proc;
      let output = "";
      proc.stderr.on("data", (b: Buffer) => (output += b));
      const apiUrl = await new Promise<string>((found, fail) => {
        const timer = setTimeout(() => fail(new Error(`no API line:\n${output}`)), 60_000);
        proc.stdout.on("data", (b: Buffer) => {
          output += b;
          const m = /"apiUrl":"(http:\/\/[^"]+)"/.exec(output);
          if (m) {
            clearTimeout(timer);
            found(m[1]!);
          }
        });
        proc.on("exit", (code) => fail(new Error(`exited ${code}:\n${output}`)));
      });
      let ready = 0;
      for (let i = 0; i < 120 && ready !== 200; i++) {
        ready = (await fetch(`${apiUrl}/ready`).catch(() => undefined))?.status ?? 0;
        if (ready !== 200) await new Promise((r) => setTimeout(r, 500));
      }
      expect(ready, output).toBe(200);
      const exited = new Promise<number | null>((r) => proc.on("exit", r));
      proc.kill("SIGTERM");
      expect(await exited).toBe(0);
      child = undefined;
    }, 120_000);
  });
});
