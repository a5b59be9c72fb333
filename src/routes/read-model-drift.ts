/** `GET /v1/models/{name}/drift`: drift evaluations of a model, with the bins to redraw each histogram. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { NotFoundError } from "#core/errors";
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
import {
  iso,
  ModelNameParam,
  OptionalIdentifier,
  pageSchema,
  READ_ERRORS,
  READ_MIDDLEWARE,
  READ_SECURITY,
  READ_TAG,
} from "./read-shared";

export const DriftEntrySchema = z
  .object({
    evaluatedAt: z.iso.datetime(),
    version: z.string(),
    feature: z.string().openapi({ description: "A feature, or `__score__` for the score itself" }),
    window: z.object({
      kind: z.string().openapi({ description: "`sliding` (recent predictions) or `hourly`" }),
      from: z.iso.datetime(),
      to: z.iso.datetime(),
      size: z.number().int().openapi({ description: "Predictions in the window" }),
    }),
    psi: z.number().nullable(),
    ks: z.object({ statistic: z.number(), pValue: z.number() }).nullable(),
    jensenShannon: z.number().nullable(),
    drifted: z.boolean(),
    bins: z
      .object({
        edges: z.array(z.number()).optional().openapi({ description: "Interior edges (numeric)" }),
        categories: z
          .array(z.string())
          .optional()
          .openapi({ description: "Reference categories; the last bin is (other)" }),
        reference: z.array(z.number()).openapi({ description: "Smoothed reference proportions p" }),
        current: z.array(z.number()).openapi({ description: "Smoothed current proportions q" }),
        epsilon: z.number().optional(),
      })
      .nullable()
      .openapi({ description: "PSI = Σ (q − p)·ln(q/p) over these; null without a PSI" }),
  })
  .openapi("DriftEvaluation");

const route = createRoute({
  method: "get",
  path: "/v1/models/{name}/drift",
  tags: [READ_TAG],
  summary: "Drift results of a model",
  description:
    "One entry per evaluation and feature (PSI, KS and Jensen–Shannon side by side), oldest first, evaluated in [from, to) (default the last 24 h, at most 31 days). Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  request: {
    params: z.object({ name: ModelNameParam }),
    query: z.object({
      version: OptionalIdentifier("version", "Only this version"),
      feature: z
        .string()
        .min(1)
        .max(256)
        .optional()
        .openapi({ param: { name: "feature", in: "query" }, description: "Only this feature" }),
      from: FromParam,
      to: ToParam,
      limit: LimitParam,
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of drift evaluations",
      content: { "application/json": { schema: pageSchema(DriftEntrySchema, "DriftPage") } },
    },
    ...errorResponses(404),
    ...READ_ERRORS,
  },
});

export const readModelDriftRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { name } = c.req.valid("param");
  const query = c.req.valid("query");
  const range = readRange(query, c.var.services.now().getTime());
  const after = decodeCursor(query.cursor);
  const tenant = c.var.auth.tenant;
  const entries = await c.var.reads.listDrift({
    tenant,
    model: name,
    ...range,
    ...(query.version === undefined ? {} : { version: query.version }),
    ...(query.feature === undefined ? {} : { feature: query.feature }),
    ...(after === undefined ? {} : { after }),
    limit: query.limit,
  });
  if (entries.length === 0) await requireModel(c.var.reads, tenant, name);
  const page = pageOf(entries, query.limit);
  return c.json(
    {
      data: page.items.map((e) => ({
        evaluatedAt: iso(e.evaluatedAtMs),
        version: e.version,
        feature: e.feature,
        window: {
          kind: e.window.kind,
          from: iso(e.window.fromMs),
          to: iso(e.window.toMs),
          size: e.window.size,
        },
        psi: e.psi,
        ks: e.ks,
        jensenShannon: e.jensenShannon,
        drifted: e.drifted,
        bins: e.bins,
      })),
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    },
    200,
  );
});

/** An empty page of a model the tenant does not have is a 404, so a typo is not silent. */
export async function requireModel(
  reads: { hasModel(tenant: string, model: string): Promise<boolean> },
  tenant: string,
  model: string,
): Promise<void> {
  if (!(await reads.hasModel(tenant, model))) {
    throw new NotFoundError(
      `This tenant has no model named "${model}" (no registered version and no monitoring results); see GET /v1/models.`,
    );
  }
}
