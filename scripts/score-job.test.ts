import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatOfFile, runScoreJob, type ScoreJobState } from "./score-job";

const dir = mkdtempSync(join(tmpdir(), "score-job-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const state = (status: ScoreJobState["status"], rowsDone: number): ScoreJobState => ({
  id: "4f1c2d6e-8a0b-4c3d-9e2f-1a2b3c4d5e6f",
  model: "conversion",
  version: "1",
  status,
  rowsReceived: 2,
  progress: { rowsDone, rowsTotal: 2, chunksDone: rowsDone / 2, chunksTotal: 1 },
  counts: { scored: rowsDone, failed: 0 },
  errors: [],
  createdAt: "2026-12-01T00:00:00.000Z",
});

/** The client's HTTP exchanges, answered from a script: what it sent and in which order. */
function scripted(answers: Response[]) {
  const sent: { url: string; method: string; headers: Headers; body?: string }[] = [];
  const fetch = (async (url: string, init: RequestInit = {}) => {
    const body = init.body === undefined ? undefined : await new Response(init.body).text();
    sent.push({ url, method: init.method ?? "GET", headers: new Headers(init.headers), body });
    const next = answers.shift();
    if (next === undefined) throw new Error(`unexpected request ${url}`);
    return next;
  }) as typeof globalThis.fetch;
  return { sent, fetch };
}

describe("runScoreJob", () => {
  it("uploads the file, polls until the job is done and writes the results", async () => {
    const file = join(dir, "rows.csv");
    writeFileSync(file, "sessions_7d\n1\n2\n");
    const { sent, fetch } = scripted([
      Response.json(state("queued", 0), { status: 202 }),
      Response.json(state("running", 0)),
      Response.json(state("succeeded", 2)),
      new Response("row,entityId,score,errorField,error\n1,,0.1,,\n2,,0.2,,\n"),
    ]);
    const seen: string[] = [];
    const run = await runScoreJob({
      baseUrl: "http://worker.test/",
      key: "dl_key",
      model: "conversion",
      version: "1",
      file,
      pollMs: 1,
      fetch,
      onProgress: (j) => seen.push(`${j.status} ${j.progress.rowsDone}`),
    });
    expect(seen).toEqual(["queued 0", "running 0", "succeeded 2"]);
    expect(sent[0]).toMatchObject({
      url: "http://worker.test/v1/score/jobs?model=conversion&version=1",
      method: "POST",
      body: "sessions_7d\n1\n2\n",
    });
    expect(sent[0]!.headers.get("content-type")).toBe("text/csv");
    expect(sent[0]!.headers.get("authorization")).toBe("Bearer dl_key");
    expect(sent[3]!.url).toBe(`http://worker.test/v1/score/jobs/${run.job.id}/results`);
    expect(sent[3]!.headers.get("accept")).toBe("text/csv");
    expect(run.output).toBe(`${file}.scores.csv`);
    expect(readFileSync(run.output!, "utf8")).toContain("2,,0.2,,");
  });

  it("throws the API's message when the upload is refused", async () => {
    const file = join(dir, "rows.ndjson");
    writeFileSync(file, '{"a":1}\n');
    const { fetch } = scripted([
      Response.json(
        {
          error: {
            code: "NOT_FOUND",
            message: 'Model "nope" has no active version.',
            requestId: "r",
          },
        },
        { status: 404 },
      ),
    ]);
    await expect(
      runScoreJob({ baseUrl: "http://worker.test", key: "k", model: "nope", file, fetch }),
    ).rejects.toThrow('uploading the file failed (404): Model "nope" has no active version.');
  });

  it("picks the format by extension", () => {
    expect(formatOfFile("a.CSV")).toBe("csv");
    expect(formatOfFile("a.ndjson")).toBe("ndjson");
    expect(formatOfFile("a.jsonl")).toBe("ndjson");
  });
});
