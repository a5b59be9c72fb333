/** `GET /v1/score/jobs/{id}`: a bulk scoring job's status, progress, counts and first row errors. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { NotFoundError } from "#core/errors";
import { MAX_LISTED_ROW_ERRORS } from "#core/score-jobs";
import type { AppEnv } from "../app-env";
import { waitUntil } from "../auth/require-key";
import { errorResponses } from "./error-responses";
import {
  JobIdParam,
  jobJson,
  SCORE_JOBS_ERRORS,
  SCORE_JOBS_MIDDLEWARE,
  SCORE_JOBS_SECURITY,
  SCORE_JOBS_TAG,
  ScoreJobSchema,
} from "./score-jobs-shared";

const route = createRoute({
  method: "get",
  path: "/v1/score/jobs/{id}",
  tags: [SCORE_JOBS_TAG],
  summary: "A bulk scoring job",
  description: `Status, progress (rows and chunks done of the total), counts (scored, failed), the first ${MAX_LISTED_ROW_ERRORS} per-row errors in row order, and timestamps. Needs the \`score\` role; only the tenant's own jobs are found.`,
  security: SCORE_JOBS_SECURITY,
  middleware: SCORE_JOBS_MIDDLEWARE,
  request: { params: z.object({ id: JobIdParam }) },
  responses: {
    200: { description: "The job", content: { "application/json": { schema: ScoreJobSchema } } },
    ...errorResponses(404),
    ...SCORE_JOBS_ERRORS,
  },
});

export const getScoreJobRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  const tenant = c.var.auth.tenant;
  const store = c.var.services.scoreJobs.open();
  try {
    const job = await store.getJob(tenant, id);
    if (job === undefined) throw new NotFoundError(`No score job "${id}" for this tenant.`);
    const errors = job.failed > 0 ? await store.rowErrors(tenant, id, MAX_LISTED_ROW_ERRORS) : [];
    return c.json(jobJson(job, errors), 200);
  } finally {
    waitUntil(
      c,
      store.close().catch(() => undefined),
    );
  }
});
