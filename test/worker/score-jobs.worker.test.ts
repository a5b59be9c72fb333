/**
 * Bulk scoring jobs inside workerd: the upload streamed into miniflare's R2, the job's state in the
 * test database (through the Neon driver and the relay), its chunks scored by the Worker's queue
 * handler (driven here batch by batch, as the Queues runtime would), results read back. Scores
 * are checked against POST /v1/score and against native onnxruntime's golden values.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { ScoreJobMessage } from "#core/score-jobs";
import expected from "../fixtures/scoring/onnx-expected.json";
import {
  CHUNK_ROWS,
  COLUMNS,
  csvLine,
  type Features,
  type JobJson,
  json,
  setup,
  streamed,
  syntheticRow,
} from "./score-jobs-support";
import { createKey, type ErrorJson, rawEnv, uniqueTenant, uploadFixture } from "./support";

describe("a 100,000-row CSV job on the GBT fixture", () => {
  const { app, queue, deliver } = setup();
  const tenant = uniqueTenant("jobs");
  const golden = expected.models.gbt.rows as { features: Features; score: number }[];
  const ROWS = 100_000;
  /** Rows (1-based) holding a golden row, and rows holding a bad value. */
  const goldenAt = new Map(golden.map((g, i) => [1 + i * 7_001, g]));
  const badAt = new Map<number, { line: (id: string) => string; field: string }>([
    [3, { line: (id) => `${id},abc,2,3,4,5,1,0,12,mobile,organic`, field: "sessions_7d" }],
    [5_001, { line: (id) => `${id},1,2,3`, field: "(row)" }],
    [99_999, { line: (id) => `${id},1,2,3,4,5,1,0,12,mobile,"unclosed"x`, field: "(row)" }],
  ]);
  const featuresOf = (row: number): Features => goldenAt.get(row)?.features ?? syntheticRow(row);
  let key = "";
  let job: JobJson;

  beforeAll(async () => {
    key = await createKey(tenant, ["admin", "score"]);
    const res = await uploadFixture(app, key, "gbt", "gbt", "1");
    expect(res.status, await res.clone().text()).toBe(201);
    const promoted = await app.fetch("/v1/models/gbt/promote", { key, json: { version: "1" } });
    expect(promoted.status).toBe(200);
  });

  it("takes the upload as a stream and answers 202 with the queued job", async () => {
    let text = `${COLUMNS.join(",")}\r\n`;
    for (let row = 1; row <= ROWS; row++) {
      const bad = badAt.get(row);
      text += `${bad === undefined ? csvLine(`e-${row}`, featuresOf(row)) : bad.line(`e-${row}`)}\r\n`;
    }
    const res = await app.fetch("/v1/score/jobs?model=gbt", {
      method: "POST",
      key,
      headers: { "content-type": "text/csv" },
      body: streamed(text),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    job = await json<JobJson>(res);
    expect(res.headers.get("location")).toBe(`/v1/score/jobs/${job.id}`);
    expect(job).toMatchObject({
      model: "gbt",
      version: "1",
      format: "csv",
      status: "queued",
      rowsReceived: ROWS,
      progress: { rowsDone: 0, rowsTotal: ROWS, chunksDone: 0, chunksTotal: ROWS / CHUNK_ROWS },
      counts: { scored: 0, failed: 0 },
    });
    expect(queue.messages).toHaveLength(ROWS / CHUNK_ROWS);
  });

  it("moves progress chunk batch by chunk batch, and a redelivery counts nothing twice", async () => {
    const messages = queue.take();
    const seen: number[] = [];
    for (let i = 0; i < messages.length; i += 4) {
      const batch = await deliver(messages.slice(i, i + 4));
      expect(batch.acked).toHaveLength(Math.min(4, messages.length - i));
      const now = await json<JobJson>(await app.fetch(`/v1/score/jobs/${job.id}`, { key }));
      seen.push(now.progress.rowsDone);
      expect(now.progress.chunksDone).toBe(Math.min(i + 4, messages.length));
      expect(now.status).toBe(i + 4 >= messages.length ? "partial" : "running");
    }
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBe(seen.length);

    // Every message again (a redelivery after a lost ack): acked, nothing added.
    const again = await deliver(messages.slice(0, 3), 2);
    expect(again.acked).toHaveLength(3);
    const done = await json<JobJson>(await app.fetch(`/v1/score/jobs/${job.id}`, { key }));
    expect(done).toMatchObject({
      status: "partial",
      progress: { rowsDone: ROWS, chunksDone: 20, chunksTotal: 20 },
      counts: { scored: ROWS - badAt.size, failed: badAt.size },
    });
    expect(done.finishedAt).toBeDefined();
    expect(done.startedAt).toBeDefined();
    expect(done.errors.map((e) => [e.row, e.field])).toEqual(
      [...badAt].map(([row, bad]) => [row, bad.field]),
    );
  });

  it("serves the results in row order; they match /v1/score and native onnxruntime", async () => {
    const res = await app.fetch(`/v1/score/jobs/${job.id}/results`, { key });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = (await res.text()).trimEnd().split("\n");
    expect(lines[0]).toBe("row,entityId,score,errorField,error");
    expect(lines).toHaveLength(ROWS + 1);
    const scores = new Map<number, number>();
    lines.slice(1).forEach((line, i) => {
      const [row, entityId, score, errorField] = line.split(",");
      expect(Number(row)).toBe(i + 1);
      const bad = badAt.get(i + 1);
      // A row that cannot be read as CSV names no entity id; every other row keeps its own.
      expect(entityId).toBe(i + 1 === 99_999 ? "" : `e-${i + 1}`);
      if (bad === undefined) scores.set(i + 1, Number(score));
      else expect(errorField).toBe(bad.field);
    });

    for (const [row, g] of goldenAt) {
      expect(Math.abs(scores.get(row)! - g.score)).toBeLessThanOrEqual(expected.meta.tolerance);
    }
    // A sample of 1,000 rows across every chunk against POST /v1/score, the same scorer.
    const sample = Array.from({ length: 1_000 }, (_, i) => 1 + i * 97).filter((r) => !badAt.has(r));
    const scored = await app.fetch("/v1/score", {
      key,
      json: { model: "gbt", rows: sample.map((r) => ({ features: featuresOf(r) })) },
    });
    expect(scored.status).toBe(200);
    const { predictions } = await json<{ predictions: { score: number }[] }>(scored);
    sample.forEach((row, i) => {
      expect(scores.get(row)).toBe(predictions[i]!.score);
    });
  }, 120_000);
});

describe("an NDJSON job", () => {
  const { app, queue, deliver } = setup();
  const tenant = uniqueTenant("jobs-nd");
  let key = "";

  beforeAll(async () => {
    key = await createKey(tenant, ["admin", "score"]);
    expect((await uploadFixture(app, key, "linear", "linear", "1")).status).toBe(201);
    expect((await uploadFixture(app, key, "linear", "linear", "2")).status).toBe(201);
    await app.fetch("/v1/models/linear/promote", { key, json: { version: "1" } });
  });

  it("reads both row shapes, pins the version asked for, and answers JSON lines", async () => {
    const golden = expected.models.linear.rows as { features: Features; score: number }[];
    const lines = [
      JSON.stringify({ entityId: "a", features: golden[0]!.features }),
      "",
      JSON.stringify({ ...golden[1]!.features, entityId: "b" }),
      "{not json",
      JSON.stringify({ features: { ...golden[2]!.features, device: 7 } }),
      JSON.stringify(golden[3]!.features),
    ];
    const res = await app.fetch("/v1/score/jobs?model=linear&version=2", {
      method: "POST",
      key,
      headers: { "content-type": "application/x-ndjson" },
      body: lines.join("\n"),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const job = await json<JobJson>(res);
    expect(job).toMatchObject({ version: "2", format: "ndjson", rowsReceived: 5 });
    expect((await app.fetch(`/v1/score/jobs/${job.id}/results`, { key })).status).toBe(409);

    await deliver(queue.take());
    const done = await json<JobJson>(await app.fetch(`/v1/score/jobs/${job.id}`, { key }));
    expect(done).toMatchObject({ status: "partial", counts: { scored: 3, failed: 2 } });
    expect(done.errors).toEqual([
      { row: 3, field: "(row)", message: "is not valid JSON" },
      { row: 4, field: "device", message: expect.stringContaining("must be a string") },
    ]);

    const results = await app.fetch(`/v1/score/jobs/${job.id}/results`, { key });
    expect(results.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const rows = (await results.text())
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { row: number; entityId?: string; score?: number });
    expect(rows.map((r) => [r.row, r.entityId])).toEqual([
      [1, "a"],
      [2, "b"],
      [3, undefined],
      [4, undefined],
      [5, undefined],
    ]);
    for (const [row, g] of [
      [0, golden[0]!],
      [1, golden[1]!],
      [4, golden[3]!],
    ] as const) {
      expect(Math.abs(rows[row]!.score! - g.score)).toBeLessThanOrEqual(expected.meta.tolerance);
    }
    // Accept picks CSV for the same job.
    const csv = await app.fetch(`/v1/score/jobs/${job.id}/results`, {
      key,
      headers: { accept: "text/csv" },
    });
    expect((await csv.text()).split("\n")[4]).toBe(
      '4,,,device,"must be a string (one of desktop, mobile, tablet), got 7"',
    );
  });
});

describe("refused uploads answer 4xx saying what to fix", () => {
  const { app, queue } = setup({ SCORE_JOB_MAX_ROWS: 10 });
  const tenant = uniqueTenant("jobs-bad");
  let key = "";
  beforeAll(async () => {
    key = await createKey(tenant, ["score"]);
  });
  const post = (path: string, body: string, type = "text/csv") =>
    app.fetch(path, { method: "POST", key, headers: { "content-type": type }, body });
  const header = "sessions_7d,device";

  it.each([
    [
      "an unknown model",
      "/v1/score/jobs?model=nope",
      `${header}\n1,mobile`,
      "text/csv",
      404,
      "NOT_FOUND",
    ],
    [
      "an unknown version",
      "/v1/score/jobs?model=conversion&version=9",
      `${header}\n1,mobile`,
      "text/csv",
      404,
      "NOT_FOUND",
    ],
    ["no model", "/v1/score/jobs", `${header}\n1,mobile`, "text/csv", 400, "VALIDATION"],
    [
      "a missing header",
      "/v1/score/jobs?model=conversion",
      "1,mobile\n2,tablet",
      "text/csv",
      400,
      "VALIDATION",
    ],
    [
      "too many rows",
      "/v1/score/jobs?model=conversion",
      `${header}\n${"1,mobile\n".repeat(11)}`,
      "text/csv",
      413,
      "PAYLOAD_TOO_LARGE",
    ],
    ["no rows", "/v1/score/jobs?model=conversion", `${header}\n\n`, "text/csv", 400, "VALIDATION"],
    [
      "a JSON body",
      "/v1/score/jobs?model=conversion",
      '{"rows":[]}',
      "application/json",
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    ],
    [
      "an unclosed quote",
      "/v1/score/jobs?model=conversion",
      `${header}\n1,"mobile`,
      "text/csv",
      400,
      "VALIDATION",
    ],
  ] as const)("%s", async (_, path, body, type, status, code) => {
    const res = await post(path, body, type);
    expect(res.status, await res.clone().text()).toBe(status);
    const error = (await json<ErrorJson>(res)).error;
    expect(error.code).toBe(code);
    expect(error.message.length).toBeGreaterThan(20);
  });

  it("queues nothing for a refused upload, and lists no job", async () => {
    expect(queue.messages).toEqual([]);
    const list = await json<{ data: JobJson[] }>(await app.fetch("/v1/score/jobs", { key }));
    expect(list.data).toEqual([]);
  });

  it("answers 404 for a job id that is not one", async () => {
    for (const id of ["nope", crypto.randomUUID()]) {
      expect((await app.fetch(`/v1/score/jobs/${id}`, { key })).status).toBe(404);
      expect((await app.fetch(`/v1/score/jobs/${id}/results`, { key })).status).toBe(404);
    }
  });
});

describe("tenant isolation", () => {
  const { app, queue, deliver } = setup();
  const tenants = [uniqueTenant("jobs-a"), uniqueTenant("jobs-b")] as const;
  const keys: string[] = [];
  const jobs: JobJson[] = [];

  beforeAll(async () => {
    for (const tenant of tenants) {
      const key = await createKey(tenant, ["score"]);
      keys.push(key);
      const res = await app.fetch("/v1/score/jobs?model=conversion", {
        method: "POST",
        key,
        headers: { "content-type": "text/csv" },
        body: `entityId,sessions_7d\n${tenant},3\n`,
      });
      expect(res.status).toBe(202);
      jobs.push(await json<JobJson>(res));
    }
  });

  it("a chunk message naming another tenant's job scores nothing", async () => {
    const messages = queue.take();
    const forged = { ...messages[0]!, tenant: tenants[1] };
    await deliver([forged]);
    const a = await json<JobJson>(
      await app.fetch(`/v1/score/jobs/${jobs[0]!.id}`, { key: keys[0] }),
    );
    expect(a.progress.rowsDone).toBe(0);
    await deliver(messages);
  });

  for (const [reader, owner] of [
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ] as const) {
    it(`tenant ${reader} reading tenant ${owner}'s job: ${reader === owner ? "found" : "not found"}`, async () => {
      const key = keys[reader]!;
      const id = jobs[owner]!.id;
      const one = await app.fetch(`/v1/score/jobs/${id}`, { key });
      const results = await app.fetch(`/v1/score/jobs/${id}/results`, { key });
      const list = await json<{ data: JobJson[] }>(await app.fetch("/v1/score/jobs", { key }));
      if (reader === owner) {
        expect(one.status).toBe(200);
        expect((await json<JobJson>(one)).status).toBe("succeeded");
        expect(results.status).toBe(200);
        expect(await results.text()).toContain(`1,${tenants[owner]},`);
        expect(list.data.map((j) => j.id)).toEqual([id]);
      } else {
        expect(one.status).toBe(404);
        expect(results.status).toBe(404);
        expect(list.data.map((j) => j.id)).not.toContain(id);
      }
    });
  }

  it("lists page by page with a cursor, newest first", async () => {
    const key = keys[0]!;
    for (let i = 0; i < 2; i++) {
      const res = await app.fetch("/v1/score/jobs?model=conversion", {
        method: "POST",
        key,
        headers: { "content-type": "text/csv" },
        body: "sessions_7d\n1\n",
      });
      expect(res.status).toBe(202);
    }
    const first = await json<{ data: JobJson[]; nextCursor?: string }>(
      await app.fetch("/v1/score/jobs?limit=2", { key }),
    );
    expect(first.data).toHaveLength(2);
    expect(first.nextCursor).toBeDefined();
    const second = await json<{ data: JobJson[]; nextCursor?: string }>(
      await app.fetch(`/v1/score/jobs?limit=2&cursor=${first.nextCursor}`, { key }),
    );
    expect(second.data.map((j) => j.id)).toEqual([jobs[0]!.id]);
    expect(second.nextCursor).toBeUndefined();
  });

  it("needs the score role", async () => {
    const readOnly = await createKey(tenants[0], ["read"]);
    expect((await app.fetch("/v1/score/jobs", { key: readOnly })).status).toBe(403);
  });
});

describe("chunks that cannot score", () => {
  const { app, queue, deliver } = setup();
  const tenant = uniqueTenant("jobs-fail");
  let key = "";
  beforeAll(async () => {
    key = await createKey(tenant, ["score"]);
  });

  it("a chunk whose rows are gone counts them failed with the reason, and the job finishes", async () => {
    const res = await app.fetch("/v1/score/jobs?model=conversion", {
      method: "POST",
      key,
      headers: { "content-type": "text/csv" },
      body: "sessions_7d\n1\n2\n",
    });
    const job = await json<JobJson>(res);
    const bucket = rawEnv.JOBS as R2Bucket;
    const listed = await bucket.list({ prefix: `jobs/${tenant}/${job.id}/input/` });
    expect(listed.objects).toHaveLength(1);
    await bucket.delete(listed.objects[0]!.key);
    const batch = await deliver(queue.take());
    expect(batch.acked).toHaveLength(1);
    const done = await json<JobJson>(await app.fetch(`/v1/score/jobs/${job.id}`, { key }));
    expect(done).toMatchObject({ status: "failed", counts: { scored: 0, failed: 2 } });
    expect(done.errors.map((e) => [e.row, e.field])).toEqual([
      [1, "(chunk)"],
      [2, "(chunk)"],
    ]);
  });

  it("a malformed message is acked, not retried forever", async () => {
    const batch = await deliver([{ kind: "nope" } as unknown as ScoreJobMessage]);
    expect(batch.acked).toEqual(["m-0"]);
    expect(batch.retried).toEqual([]);
  });

  it("every route is in the OpenAPI document with bearer security", async () => {
    const doc = await json<{
      paths: Record<string, Record<string, { security?: unknown[]; responses: object }>>;
    }>(await app.fetch("/openapi.json"));
    for (const [path, method] of [
      ["/v1/score/jobs", "post"],
      ["/v1/score/jobs", "get"],
      ["/v1/score/jobs/{id}", "get"],
      ["/v1/score/jobs/{id}/results", "get"],
    ] as const) {
      expect(doc.paths[path]?.[method]?.security, `${method} ${path}`).toEqual([
        { bearerAuth: [] },
      ]);
    }
    expect(Object.keys(doc.paths["/v1/score/jobs"]!.post!.responses)).toEqual(
      expect.arrayContaining(["202", "400", "404", "413", "415"]),
    );
  });
});
