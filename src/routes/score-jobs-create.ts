/** `POST /v1/score/jobs`: a CSV or NDJSON file of up to a million rows, streamed to R2 and scored by the queue consumer. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { DriftlineError } from "#core/errors";
import type { JobFormat } from "#core/score-jobs";
import { IDENTIFIER_PATTERN, IDENTIFIER_RULE } from "#core/scoring";
import type { AppEnv } from "../app-env";
import { chargeBudgets } from "../auth/charge-budgets";
import { waitUntil } from "../auth/require-key";
import { shownContentType } from "../http/shown-content-type";
import { receiveScoreJob } from "../score-jobs/receive-score-job";
import { errorResponses } from "./error-responses";
import {
  jobJson,
  jobPath,
  SCORE_JOBS_ERRORS,
  SCORE_JOBS_MIDDLEWARE,
  SCORE_JOBS_SECURITY,
  SCORE_JOBS_TAG,
  ScoreJobSchema,
} from "./score-jobs-shared";

const Identifier = z.string().regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE);

const route = createRoute({
  method: "post",
  path: "/v1/score/jobs",
  tags: [SCORE_JOBS_TAG],
  summary: "Start a bulk scoring job (CSV or NDJSON)",
  description:
    'Scores a file of up to SCORE_JOB_MAX_ROWS rows (default 1,000,000) with one version of `model`: `version`, else the tenant\'s champion when the job is created (a challenger scores no job rows). `Content-Type: text/csv`: a header row naming the columns (feature names, optionally `entityId`), then one row per line; empty cells take the manifest default. `Content-Type: application/x-ndjson`: one JSON object per line, `{"entityId"?, "features": {…}}` or a flat object of features (and `entityId`). The body is streamed into chunks and scored in the background; a row with a wrong value becomes a per-row error, not a failed job. Answers 202 with the job and its address (Location). Rows count against the key\'s events budget like /v1/score\'s. Needs the `score` role.',
  security: SCORE_JOBS_SECURITY,
  middleware: SCORE_JOBS_MIDDLEWARE,
  request: {
    query: z.object({
      model: Identifier.openapi({ param: { name: "model", in: "query" }, example: "conversion" }),
      version: Identifier.optional().openapi({
        param: { name: "version", in: "query" },
        description: "Pin a version; default: the tenant's champion",
      }),
    }),
    body: {
      required: true,
      content: {
        "text/csv": {
          schema: z.string().openapi({ example: "entityId,sessions_7d,device\nu-1,3,mobile\n" }),
        },
        "application/x-ndjson": {
          schema: z.string().openapi({
            example: '{"entityId":"u-1","features":{"sessions_7d":3,"device":"mobile"}}\n',
          }),
        },
      },
    },
  },
  responses: {
    202: {
      description: "The job, queued",
      headers: z.object({ Location: z.string().openapi({ description: "The job's address" }) }),
      content: { "application/json": { schema: ScoreJobSchema } },
    },
    ...errorResponses(404, 413, 415),
    ...SCORE_JOBS_ERRORS,
  },
});

const CSV_TYPES = /^text\/csv\b/i;
const NDJSON_TYPES = /^application\/(x-ndjson|ndjson|jsonl|x-jsonlines|jsonlines)\b/i;

/** The job's format by Content-Type; anything else is a 415 saying what to send. */
function formatOf(contentType: string | undefined): JobFormat {
  const type = (contentType ?? "").trim();
  if (CSV_TYPES.test(type)) return "csv";
  if (NDJSON_TYPES.test(type)) return "ndjson";
  throw new DriftlineError(
    "UNSUPPORTED_MEDIA_TYPE",
    `${contentType === undefined ? "No Content-Type header was sent" : `Content-Type ${shownContentType(contentType)} is not accepted`} to POST /v1/score/jobs; send \`Content-Type: text/csv\` (a header row, then rows) or \`Content-Type: application/x-ndjson\` (one JSON object per line).`,
  );
}

export const createScoreJobRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { model, version } = c.req.valid("query");
  const format = formatOf(c.req.header("content-type"));
  const services = c.var.services;
  const job = await receiveScoreJob(
    {
      jobs: services.scoreJobs,
      models: services.models,
      now: () => services.now(),
      chargeRows: (rows) => chargeBudgets(c, { events: rows }),
      waitUntil: (p) => waitUntil(c, p),
    },
    { tenant: c.var.auth.tenant, model, version, format, body: c.req.raw.body },
  );
  c.header("Location", jobPath(job.id));
  return c.json(jobJson(job, []), 202);
});
