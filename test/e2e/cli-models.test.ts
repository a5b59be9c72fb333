/**
 * `driftline models` against the real Worker of the local stack: upload two versions, promote,
 * add a challenger, roll back, list; the Worker's own API confirms every change, and another
 * tenant sees none of it.
 */
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../../scripts/keys-create";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { driftline } from "../support/driftline-cli";

const stack = loadLocalStackConfig();
const WORKER_URL = process.env.WORKER_URL ?? `http://127.0.0.1:${stack.WORKER_PORT}`;
const ROOT = resolve(import.meta.dirname, "../..");
const MODEL = "lead";
const redis = {
  url: process.env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${stack.UPSTASH_REST_PORT}`,
  token: process.env.UPSTASH_REDIS_REST_TOKEN ?? stack.UPSTASH_REDIS_REST_TOKEN,
};

let env: Record<string, string>;
let otherEnv: Record<string, string>;

async function adminKey(tenant: string): Promise<string> {
  return (await createApiKey({ tenant, roles: ["admin"], origins: [], redis })).key;
}

beforeAll(async () => {
  env = {
    DRIFTLINE_URL: WORKER_URL,
    DRIFTLINE_KEY: await adminKey(`cli-models-${randomUUID().slice(0, 8)}`),
  };
  otherEnv = { ...env, DRIFTLINE_KEY: await adminKey(`cli-other-${randomUUID().slice(0, 8)}`) };
});

/** The active pointer as the Worker's API reports it, read without the CLI. */
async function pointer(key: string) {
  const res = await fetch(`${WORKER_URL}/v1/models/${MODEL}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    versions: { version: string }[];
    active: {
      pointer: { champion: string; challenger?: { version: string; share: number } };
    } | null;
  };
  return { versions: body.versions.map((v) => v.version).sort(), pointer: body.active?.pointer };
}

async function ok(args: string[], e = env) {
  const run = await driftline(args, e);
  expect(run.stderr, run.stderr).not.toMatch(/^driftline: /m);
  expect(run.code).toBe(0);
  return run;
}

describe("driftline models", () => {
  it("uploads, promotes, adds a challenger, rolls back and lists through the Worker's admin API", async () => {
    const up1 = await ok([
      "models",
      "upload",
      MODEL,
      "1",
      "--dir",
      resolve(ROOT, "models/fixtures/linear"),
      "--json",
    ]);
    expect(JSON.parse(up1.stdout)).toMatchObject({ model: MODEL, version: { version: "1" } });
    await ok([
      "models",
      "upload",
      MODEL,
      "2",
      "--model",
      resolve(ROOT, "models/conversion/1/model.onnx"),
      "--manifest",
      resolve(ROOT, "models/conversion/1/manifest.json"),
    ]);
    expect((await pointer(env.DRIFTLINE_KEY!)).versions).toEqual(["1", "2"]);

    const promoted = await ok(["models", "promote", MODEL, "2"]);
    expect(promoted.stdout).toContain("champion 2");
    expect((await pointer(env.DRIFTLINE_KEY!)).pointer).toMatchObject({ champion: "2" });

    await ok(["models", "promote", MODEL, "2", "--challenger", "1", "--share", "0.25"]);
    expect((await pointer(env.DRIFTLINE_KEY!)).pointer).toEqual(
      expect.objectContaining({ champion: "2", challenger: { version: "1", share: 0.25 } }),
    );

    const listed = await ok(["models", "list", "--json"]);
    const models = (JSON.parse(listed.stdout) as { models: { name: string; active: unknown }[] })
      .models;
    expect(models.find((m) => m.name === MODEL)?.active).toMatchObject({
      pointer: { champion: "2", challenger: { version: "1" } },
    });
    const versions = await ok(["models", "list", MODEL]);
    expect(versions.stdout).toMatch(/^ {2}1 {2}tenant {2}uploaded /m);
    expect(versions.stdout).toMatch(/^ {2}2 {2}tenant {2}uploaded /m);

    // Roll back: version 1 was uploaded before the champion 2; the challenger is dropped.
    const rolled = await ok(["models", "rollback", MODEL]);
    expect(rolled.stdout).toContain("rolled back to champion 1");
    const after = (await pointer(env.DRIFTLINE_KEY!)).pointer;
    expect(after?.champion).toBe("1");
    expect(after?.challenger).toBeUndefined();

    // Nothing older than version 1: a failure, one line, exit 1, nothing changed.
    const none = await driftline(["models", "rollback", MODEL], env);
    expect(none.code).toBe(1);
    expect(none.stderr.trim()).toMatch(
      /^driftline: lead has no version uploaded before its champion 1; name one with --to$/,
    );
    await ok(["models", "rollback", MODEL, "--to", "2"]);
    expect((await pointer(env.DRIFTLINE_KEY!)).pointer?.champion).toBe("2");
  });

  it("the Worker's refusals come back as one line with exit 1", async () => {
    const missing = await driftline(["models", "promote", MODEL, "9"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(
      /^driftline: POST \/v1\/models\/lead\/promote answered 404 NOT_FOUND: /,
    );
    const bad = await driftline(
      [
        "models",
        "upload",
        MODEL,
        "3",
        "--model",
        resolve(ROOT, "models/conversion/1/manifest.json"),
        "--manifest",
        resolve(ROOT, "models/conversion/1/manifest.json"),
      ],
      env,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/answered 4\d\d /);
  });

  it("another tenant's admin key sees and changes none of it", async () => {
    const listed = await driftline(["models", "list", "--json"], otherEnv);
    expect(listed.code).toBe(0);
    const names = (JSON.parse(listed.stdout) as { models: { name: string }[] }).models.map(
      (m) => m.name,
    );
    expect(names).not.toContain(MODEL);
    const promote = await driftline(["models", "promote", MODEL, "1"], otherEnv);
    expect(promote.code).toBe(1);
    expect(promote.stderr).toMatch(/answered 404/);
    expect((await pointer(env.DRIFTLINE_KEY!)).pointer?.champion).toBe("2");
  });
});
