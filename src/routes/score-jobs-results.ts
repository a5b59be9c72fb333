/** `GET /v1/score/jobs/{id}/results`: a finished job's results in row order, CSV or NDJSON, streamed chunk by chunk. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ConflictError, NotFoundError } from "#core/errors";
import { RESULT_CSV_HEADER, resultCsvLine } from "#core/score-jobs";
import type { AppEnv } from "../app-env";
import { waitUntil } from "../auth/require-key";
import type { ScoreJob, ScoreJobObjects } from "../score-jobs/score-job-store";
import { errorResponses } from "./error-responses";
import {
  JobIdParam,
  SCORE_JOBS_ERRORS,
  SCORE_JOBS_MIDDLEWARE,
  SCORE_JOBS_SECURITY,
  SCORE_JOBS_TAG,
} from "./score-jobs-shared";

const route = createRoute({
  method: "get",
  path: "/v1/score/jobs/{id}/results",
  tags: [SCORE_JOBS_TAG],
  summary: "A bulk scoring job's results (CSV or NDJSON)",
  description:
    "One line per row, in row order: `row` (1-based, header not counted), `entityId` when the row had one, and `score`, or `error` (`field`, `message`) for a row that could not be scored. `Accept: application/x-ndjson` gives JSON lines, `Accept: text/csv` CSV (`row,entityId,score,errorField,error`); otherwise the uploaded file's format. Streamed. Answers 409 until the job is done (succeeded, partial or failed). Needs the `score` role.",
  security: SCORE_JOBS_SECURITY,
  middleware: SCORE_JOBS_MIDDLEWARE,
  request: { params: z.object({ id: JobIdParam }) },
  responses: {
    200: {
      description: "The results",
      content: {
        "text/csv": { schema: z.string() },
        "application/x-ndjson": { schema: z.string() },
      },
    },
    ...errorResponses(404, 409),
    ...SCORE_JOBS_ERRORS,
  },
});

const FINISHED = new Set(["succeeded", "partial", "failed"]);

export const scoreJobResultsRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  const tenant = c.var.auth.tenant;
  const store = c.var.services.scoreJobs.open();
  let job: ScoreJob | undefined;
  try {
    job = await store.getJob(tenant, id);
  } finally {
    waitUntil(
      c,
      store.close().catch(() => undefined),
    );
  }
  if (job === undefined) throw new NotFoundError(`No score job "${id}" for this tenant.`);
  if (!FINISHED.has(job.status)) {
    throw new ConflictError(
      `Score job "${id}" is ${job.status} (${job.rowsDone} of ${job.rowsTotal} rows done); read its results once GET /v1/score/jobs/${id} says succeeded, partial or failed.`,
    );
  }
  const accept = c.req.header("Accept") ?? "";
  const ndjson = accept.includes("application/x-ndjson")
    ? true
    : accept.includes("text/csv")
      ? false
      : job.format === "ndjson";
  const body = resultStream(c.var.services.scoreJobs.objects, job, ndjson);
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": ndjson ? "application/x-ndjson; charset=utf-8" : "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="score-job-${job.id}.${ndjson ? "ndjson" : "csv"}"`,
      "cache-control": "no-store",
    },
  }) as never;
});

/** The chunks' result objects one after another: NDJSON as stored, or each line as CSV. */
function resultStream(
  objects: ScoreJobObjects,
  job: ScoreJob,
  ndjson: boolean,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let chunk = 0;
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!started && !ndjson) controller.enqueue(encoder.encode(RESULT_CSV_HEADER));
        started = true;
        if (chunk >= job.chunksTotal) {
          controller.close();
          return;
        }
        const stream = await objects.getResults(job.tenant, job.id, chunk);
        if (stream === undefined) throw new Error(`results of chunk ${chunk} are missing`);
        chunk += 1;
        if (ndjson) {
          const reader = stream.getReader();
          for (let next = await reader.read(); !next.done; next = await reader.read()) {
            controller.enqueue(next.value);
          }
          return;
        }
        const text = await new Response(stream).text();
        let out = "";
        for (const line of text.split("\n")) if (line !== "") out += resultCsvLine(line);
        controller.enqueue(encoder.encode(out));
      } catch (error) {
        controller.error(error);
      }
    },
  });
}
