/** `GET /v1/score/jobs`: the tenant's bulk scoring jobs, newest first, by cursor. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { waitUntil } from "../auth/require-key";
import { CursorParam, decodeCursor, LimitParam, pageOf } from "../read-api/read-params";
import { pageSchema } from "./read-shared";
import {
  jobJson,
  SCORE_JOBS_ERRORS,
  SCORE_JOBS_MIDDLEWARE,
  SCORE_JOBS_SECURITY,
  SCORE_JOBS_TAG,
  ScoreJobSchema,
} from "./score-jobs-shared";

const route = createRoute({
  method: "get",
  path: "/v1/score/jobs",
  tags: [SCORE_JOBS_TAG],
  summary: "List bulk scoring jobs",
  description:
    "The tenant's jobs, newest first, without their row errors (read one job for those). Needs the `score` role.",
  security: SCORE_JOBS_SECURITY,
  middleware: SCORE_JOBS_MIDDLEWARE,
  request: { query: z.object({ limit: LimitParam, cursor: CursorParam }) },
  responses: {
    200: {
      description: "A page of jobs",
      content: { "application/json": { schema: pageSchema(ScoreJobSchema, "ScoreJobPage") } },
    },
    ...SCORE_JOBS_ERRORS,
  },
});

export const listScoreJobsRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const before = decodeCursor(cursor);
  const store = c.var.services.scoreJobs.open();
  try {
    const jobs = await store.listJobs({
      tenant: c.var.auth.tenant,
      limit,
      ...(before === undefined ? {} : { before }),
    });
    const page = pageOf(jobs, limit);
    return c.json(
      {
        data: page.items.map((job) => jobJson(job, [])),
        ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
      },
      200,
    );
  } finally {
    waitUntil(
      c,
      store.close().catch(() => undefined),
    );
  }
});
