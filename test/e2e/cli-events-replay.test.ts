/**
 * `driftline events replay` against the real Worker of the local stack (`npm test` starts it):
 * a second replay of the same file gives only duplicates, a killed replay resumes from its
 * progress file without losing or double-counting an event, and CSV reaches the CAPI route.
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../../scripts/keys-create";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { driftline, startDriftline } from "../support/driftline-cli";

const stack = loadLocalStackConfig();
const WORKER_URL = process.env.WORKER_URL ?? `http://127.0.0.1:${stack.WORKER_PORT}`;
const tenant = `cli-replay-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), "driftline-cli-replay-"));
let env: Record<string, string>;

beforeAll(async () => {
  const { key } = await createApiKey({
    tenant,
    roles: ["ingest"],
    origins: [],
    redis: {
      url: process.env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${stack.UPSTASH_REST_PORT}`,
      token: process.env.UPSTASH_REDIS_REST_TOKEN ?? stack.UPSTASH_REDIS_REST_TOKEN,
    },
  });
  // The key through the environment, as docs/cli.md advises (a flag stays in shell history).
  env = { DRIFTLINE_KEY: key, DRIFTLINE_URL: WORKER_URL };
});

function websiteEvents(label: string, n: number): string[] {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      event_name: "Purchase",
      event_time: now - i,
      event_id: `${label}-${i}`,
      event_source_url: `https://shop.example/p/${i}`,
      custom_data: { value: 10 + i, currency: "EUR" },
    }),
  );
}

interface Summary {
  accepted: number;
  duplicates: number;
  rejected: number;
  fromLine: number;
  toLine: number;
  firstRejections: { line: number; reason: string }[];
  total: { accepted: number; duplicates: number; rejected: number };
}

const summaryOf = (stdout: string) => JSON.parse(stdout) as Summary;

describe("driftline events replay", () => {
  it("replaying a file twice: all accepted, then all duplicates; rejected lines named both times", async () => {
    const file = join(dir, "twice.ndjson");
    const good = websiteEvents(`twice-${randomUUID().slice(0, 6)}`, 120);
    // Line 61 has no event_source_url, line 62 is not JSON.
    const lines = [
      ...good.slice(0, 60),
      '{"event_name":"Lead","event_time":1}',
      "{oops",
      ...good.slice(60),
    ];
    writeFileSync(file, `${lines.join("\n")}\n`);

    const first = await driftline(["events", "replay", file, "--batch-size", "50", "--json"], env);
    expect(first.stderr).not.toMatch(/\n\s+at /);
    expect(first.code).toBe(3);
    const one = summaryOf(first.stdout);
    expect(one).toMatchObject({
      accepted: 120,
      duplicates: 0,
      rejected: 2,
      fromLine: 0,
      toLine: 122,
    });
    expect(one.firstRejections.map((r) => r.line)).toEqual([61, 62]);
    expect(one.firstRejections[0]?.reason).toMatch(/event_source_url/);
    expect(one.firstRejections[1]?.reason).toMatch(/not JSON/);
    // Not a terminal: plain progress lines on stderr, the last one at 100%.
    expect(first.stderr).toMatch(/replay: .* \(100%\) \| line 122, 120 accepted/);

    const second = await driftline(
      ["events", "replay", file, "--batch-size", "50", "--json", "--no-progress"],
      env,
    );
    expect(second.code).toBe(3);
    expect(summaryOf(second.stdout)).toMatchObject({ accepted: 0, duplicates: 120, rejected: 2 });
    expect(second.stderr).toContain("from the beginning");
    expect(second.stderr).not.toMatch(/replay: /);
  });

  it("an interrupted replay resumes after the last acknowledged batch; nothing lost, nothing twice", async () => {
    const file = join(dir, "resume.ndjson");
    writeFileSync(file, `${websiteEvents(`resume-${randomUUID().slice(0, 6)}`, 60).join("\n")}\n`);
    const progressFile = `${file}.progress.json`;
    // 20 events/s: a batch of 2 every tenth of a second (see --rate), time to interrupt it.
    const run = startDriftline(
      ["events", "replay", file, "--rate", "20", "--batch-size", "10", "--json", "--no-progress"],
      env,
    );
    const deadline = Date.now() + 30_000;
    let recorded = 0;
    while (Date.now() < deadline) {
      if (existsSync(progressFile)) {
        recorded = (JSON.parse(readFileSync(progressFile, "utf8")) as { line: number }).line;
        if (recorded >= 20) break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    run.child.kill("SIGKILL");
    await run.done;
    const atKill = JSON.parse(readFileSync(progressFile, "utf8")) as {
      line: number;
      complete: boolean;
    };
    expect(atKill.complete).toBe(false);
    expect(atKill.line).toBeGreaterThanOrEqual(20);
    expect(atKill.line).toBeLessThan(60);

    const resumed = await driftline(
      ["events", "replay", file, "--resume", "--json", "--no-progress"],
      env,
    );
    expect(resumed.code).toBe(0);
    const summary = summaryOf(resumed.stdout);
    expect(summary.fromLine).toBe(atKill.line);
    expect(summary.toLine).toBe(60);
    // Every event after the recorded line was sent; at most the one batch in flight at the kill
    // had reached the Worker already, and it answers those as duplicates.
    expect(summary.accepted + summary.duplicates).toBe(60 - atKill.line);
    expect(summary.duplicates).toBeLessThanOrEqual(10);

    // Every event of the file reached the Worker exactly once: a full replay is all duplicates.
    const again = await driftline(["events", "replay", file, "--json", "--no-progress"], env);
    expect(summaryOf(again.stdout)).toMatchObject({ accepted: 0, duplicates: 60, rejected: 0 });
  });

  it("a CSV file goes to the Conversions API route with --pixel", async () => {
    const file = join(dir, "capi.csv");
    const now = Math.floor(Date.now() / 1000);
    const label = `capi-${randomUUID().slice(0, 6)}`;
    const rows = Array.from(
      { length: 12 },
      (_, i) =>
        `Purchase,${now - i},${label}-${i},website,https://shop.example/c,person${i}@example.com,Mozilla/5.0 (X11; Linux x86_64),203.0.113.${i},19.99,EUR`,
    );
    writeFileSync(
      file,
      `event_name,event_time,event_id,action_source,event_source_url,user_data.em,user_data.client_user_agent,user_data.client_ip_address,custom_data.value,custom_data.currency\n${rows.join("\n")}\n`,
    );
    const first = await driftline(
      ["events", "replay", file, "--pixel", "1234567890", "--json", "--no-progress"],
      env,
    );
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(summaryOf(first.stdout)).toMatchObject({ accepted: 12, duplicates: 0, rejected: 0 });
    const second = await driftline(
      ["events", "replay", file, "--pixel", "1234567890", "--json", "--no-progress"],
      env,
    );
    expect(summaryOf(second.stdout)).toMatchObject({ accepted: 0, duplicates: 12, rejected: 0 });
  });

  it("a key without the ingest role fails with one line, exit 1, and records nothing as sent", async () => {
    const file = join(dir, "forbidden.ndjson");
    writeFileSync(file, `${websiteEvents("forbidden", 3).join("\n")}\n`);
    const { key } = await createApiKey({
      tenant,
      roles: ["read"],
      origins: [],
      redis: {
        url: process.env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${stack.UPSTASH_REST_PORT}`,
        token: process.env.UPSTASH_REDIS_REST_TOKEN ?? stack.UPSTASH_REDIS_REST_TOKEN,
      },
    });
    const run = await driftline(["events", "replay", file, "--no-progress"], {
      ...env,
      DRIFTLINE_KEY: key,
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^driftline: POST \/v1\/events answered 403/);
    expect(existsSync(`${file}.progress.json`)).toBe(false);
  });
});
