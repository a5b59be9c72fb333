/**
 * The `driftline` command as a process: `--help` on stdout with exit 0 at every level, usage
 * errors as one line on stderr with exit 2, failures as one line with exit 1, never a stack trace.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it, vi } from "vitest";

// Each case starts a Node process with tsx's loader: seconds on a busy machine.
vi.setConfig({ testTimeout: 60_000 });

const MAIN = resolve(import.meta.dirname, "main.ts");
const BIN = resolve(import.meta.dirname, "bin.mjs");
/** A port nothing listens on: the Worker-facing commands fail to connect there. */
const CLOSED_URL = "http://127.0.0.1:9";
const A_KEY = `dl_${"a".repeat(32)}`;

function driftline(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, DRIFTLINE_URL: "", DRIFTLINE_KEY: "", ...env },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Usage errors and failures: one line on stderr (plus commander's pointer to --help), no stack. */
function expectOneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split("\n");
  expect(lines[0]).toMatch(/^driftline: /);
  expect(lines[0]).toMatch(pattern);
  expect(lines.slice(1).every((l) => l === "(add --help for the usage)")).toBe(true);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe("driftline --help", () => {
  const levels = [
    [],
    ["keys"],
    ["keys", "create"],
    ["keys", "list"],
    ["keys", "revoke"],
    ["keys", "rotate"],
    ["models"],
    ["models", "upload"],
    ["models", "promote"],
    ["models", "rollback"],
    ["models", "list"],
    ["events"],
    ["events", "replay"],
    ["dlq"],
    ["dlq", "list"],
    ["dlq", "replay"],
    ["score"],
    ["tenants"],
    ["tenants", "delete"],
    ["erase"],
  ];
  it.each(levels.map((l) => [l.join(" ") || "(top)", l]))(
    "%s: usage on stdout, exit 0",
    (_name, level) => {
      const { code, stdout, stderr } = driftline([...(level as string[]), "--help"]);
      expect(code).toBe(0);
      expect(stderr).toBe("");
      expect(stdout).toMatch(
        new RegExp(`^Usage: driftline${(level as string[]).map((w) => ` ${w}`).join("")} `),
      );
    },
  );

  it("the top level names every group and the exit codes", () => {
    const { stdout } = driftline(["--help"]);
    for (const group of ["keys", "models", "events", "dlq", "score", "tenants", "erase"])
      expect(stdout).toContain(group);
    expect(stdout).toContain("Exit codes: 0 done, 1 failed, 2 usage error");
  });

  it("works through the bin entry (package.json bin) from another directory", () => {
    const result = spawnSync(process.execPath, [BIN, "events", "replay", "--help"], {
      encoding: "utf8",
      cwd: tmpdir(),
      timeout: 30_000,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("--rate <events/s>");
  });
});

describe("usage errors exit 2 with one line", () => {
  it.each([
    [["bogus"], /unknown command 'bogus'/],
    [["keys", "create", "--roles", "admin"], /--tenant/],
    [["keys", "create", "--tenant", "t1", "--roles", "wizard"], /--roles "wizard" is not one of/],
    [["keys", "list", "--tenant", "bad tenant!"], /--tenant must be/],
    [["keys", "revoke", "--tenant", "t1"], /give either --key-id or --key/],
    [["models", "promote", "m"], /missing required argument 'version'/],
    [["models", "upload", "m", "1", "--dir", "/nonexistent"], /is not a readable file/],
    [["events", "replay", "/nonexistent.ndjson"], /does not exist/],
    [["dlq", "replay"], /give --all or one or more --entry/],
    [["dlq", "replay", "--entry", "zero"], /is not <partition>:<offset>/],
    [["keys", "list", "--tenant", "t1", "--bogus"], /unknown option '--bogus'/],
    [["score", "/nonexistent.csv", "--model", "m"], /no file \/nonexistent\.csv/],
    [["score", "/nonexistent.csv"], /--model/],
    [["tenants", "delete", "--tenant", "bad tenant!"], /--tenant must be/],
    [["erase", "--tenant", "t1"], /give at least one of email, phone/],
  ])("%j", (args, pattern) => {
    const { code, stdout, stderr } = driftline(args as string[]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expectOneLineError(stderr, pattern as RegExp);
  });

  it("a group without its command prints the group's usage on stderr, exit 2", () => {
    const { code, stdout, stderr } = driftline(["models"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain("Usage: driftline models");
  });

  it("a Worker command without a key names DRIFTLINE_KEY; a malformed key is not echoed", () => {
    const dir = mkdtempSync(join(tmpdir(), "driftline-cli-"));
    const file = join(dir, "events.ndjson");
    writeFileSync(file, "{}\n");
    const missing = driftline(["events", "replay", file, "--url", CLOSED_URL]);
    expect(missing.code).toBe(2);
    expectOneLineError(missing.stderr, /set DRIFTLINE_KEY/);
    const bad = driftline(["models", "list"], { DRIFTLINE_KEY: "secret-typo-xyz" });
    expect(bad.code).toBe(2);
    expectOneLineError(bad.stderr, /not a Driftline key/);
    expect(bad.stderr).not.toContain("secret-typo-xyz");
  });
});

describe("failures exit 1 with one line", () => {
  it("an unreachable Worker", () => {
    const { code, stdout, stderr } = driftline(["models", "list", "--url", CLOSED_URL], {
      DRIFTLINE_KEY: A_KEY,
    });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expectOneLineError(stderr, /cannot reach the Worker at http:\/\/127\.0\.0\.1:9/);
  });
});
