/** `GET /v1/models/{name}/explanations`: predictions logged with their top reasons, and the reasons per feature. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import {
  CursorParam,
  decodeCursor,
  FromParam,
  LimitParam,
  pageOf,
  readRange,
  ToParam,
} from "../read-api/read-params";
import { errorResponses } from "./error-responses";
import { requireModel } from "./read-model-drift";
import {
  iso,
  ModelNameParam,
  OptionalIdentifier,
  READ_ERRORS,
  READ_MIDDLEWARE,
  READ_SECURITY,
  READ_TAG,
} from "./read-shared";

const ReasonSchema = z.object({
  feature: z.string(),
  contribution: z.number().openapi({
    description:
      "Signed Shapley contribution to the score, in the explanation's space (logit for linear and tree models, else probability)",
  }),
});

export const ExplainedPredictionSchema = z
  .object({
    predictionId: z.string(),
    version: z.string(),
    score: z.number(),
    predictedAt: z.iso.datetime(),
    reasons: z.array(ReasonSchema).openapi({ description: "Largest magnitude first" }),
  })
  .openapi("ExplainedPrediction");

export const ExplanationsPageSchema = z
  .object({
    data: z.array(ExplainedPredictionSchema),
    summary: z
      .object({
        explained: z.number().int().openapi({
          description:
            "Predictions in [from, to) logged with reasons, counted up to 10000 (10000: at least that many); 0 when the Worker logs none (PREDICTION_LOG_REASONS=0, the default)",
        }),
        summarized: z.number().int().openapi({
          description:
            "The newest explained predictions of the range the features are averaged over: all of them up to 2000",
        }),
        features: z
          .array(
            z.object({
              feature: z.string(),
              meanAbsContribution: z.number().openapi({
                description:
                  "Mean |contribution| over the summarized predictions that list this feature among their reasons",
              }),
              meanContribution: z.number(),
              count: z.number().int().openapi({ description: "Predictions that list it" }),
            }),
          )
          .openapi({ description: "Largest mean |contribution| first, at most 20" }),
      })
      .openapi({
        description:
          "Over the range whatever the page: `explained` counts all its explained predictions, the features are averaged over the newest `summarized` of them",
      }),
    nextCursor: z.string().optional(),
  })
  .openapi("ExplanationsPage");

const route = createRoute({
  method: "get",
  path: "/v1/models/{name}/explanations",
  tags: [READ_TAG],
  summary: "A model's explained predictions and its top features",
  description:
    "Predictions scored in [from, to) (default the last 24 h, at most 31 days) that the Worker logged with their top reasons (`PREDICTION_LOG_REASONS`), newest first, and the features by mean |contribution| over the range's newest 2000 explained predictions. Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  request: {
    params: z.object({ name: ModelNameParam }),
    query: z.object({
      version: OptionalIdentifier("version", "Only this version"),
      from: FromParam,
      to: ToParam,
      limit: LimitParam,
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of explained predictions and the range's summary",
      content: { "application/json": { schema: ExplanationsPageSchema } },
    },
    ...errorResponses(404),
    ...READ_ERRORS,
  },
});

export const readModelExplanationsRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { name } = c.req.valid("param");
  const query = c.req.valid("query");
  const range = readRange(query, c.var.services.now().getTime());
  const after = decodeCursor(query.cursor);
  const tenant = c.var.auth.tenant;
  const filter = {
    tenant,
    model: name,
    ...range,
    ...(query.version === undefined ? {} : { version: query.version }),
  };
  const [entries, summary] = await Promise.all([
    c.var.reads.listExplanations({
      ...filter,
      ...(after === undefined ? {} : { after }),
      limit: query.limit,
    }),
    c.var.reads.explanationSummary(filter),
  ]);
  if (entries.length === 0 && summary.explained === 0) {
    await requireModel(c.var.reads, tenant, name);
  }
  const page = pageOf(entries, query.limit);
  return c.json(
    {
      data: page.items.map((e) => ({
        predictionId: e.predictionId,
        version: e.version,
        score: e.score,
        predictedAt: iso(e.predictedAtMs),
        reasons: e.reasons,
      })),
      summary: {
        explained: summary.explained,
        summarized: summary.summarized,
        features: summary.features.map((f) => ({
          feature: f.feature,
          meanAbsContribution: f.meanAbs,
          meanContribution: f.mean,
          count: f.count,
        })),
      },
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    },
    200,
  );
});
