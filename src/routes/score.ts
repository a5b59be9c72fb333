/** `POST /v1/score`: one row or a batch of rows scored by the tenant's active (or named) model version. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { DriftlineError, ValidationError } from "#core/errors";
import { IDENTIFIER_PATTERN, IDENTIFIER_RULE } from "#core/scoring";
import { assertJsonDepth, jsonSyntaxProblem, refineStorableJson, storableString } from "#core/text";
import type { AppEnv } from "../app-env";
import { chargeBudgets } from "../auth/charge-budgets";
import { requireKey, waitUntil } from "../auth/require-key";
import { limitBody } from "../http/body-limit";
import { MAX_SCORE_ROWS, type ScoreInput, scoreRequest } from "../scoring/score-request";
import { AUTH_ERRORS, BEARER_SECURITY, errorResponses } from "./error-responses";

const Identifier = z.string().regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE);

const EntityId = storableString.min(1).max(256).openapi({
  description:
    "Stable id of the scored entity (user, session, lead). With a challenger active, the same entityId always gets the same version.",
  example: "u-1",
});

// Values are typed per feature by the model's manifest, so the check (and its message, e.g.
// "must be a finite number, got a boolean") happens against the manifest, not here. Their text
// (names and values, used or not) is checked here: it is logged and stored as sent.
const Features = z
  .record(z.string(), z.unknown())
  .superRefine(refineStorableJson)
  .openapi({
    description:
      "Feature values by name: numbers for numeric features, strings for categorical ones, null or absent for the manifest default. Names the model does not use are ignored.",
    additionalProperties: { type: ["number", "string", "null"] },
    example: { sessions_7d: 3, cart_value: 45.8, device: "mobile" },
  });

/** Reasons one answer may list per row. */
const MAX_EXPLAIN_TOP = 100;

const ScoreRow = z.object({ entityId: EntityId.optional(), features: Features });

const ScoreBody = z
  .object({
    model: Identifier.default("conversion").openapi({ example: "conversion" }),
    version: Identifier.optional().openapi({
      description: "Pin a version; by default the tenant's active version (and challenger) scores.",
    }),
    entityId: EntityId.optional(),
    features: Features.optional(),
    rows: z
      .array(ScoreRow)
      .optional()
      .openapi({
        description: `Up to ${MAX_SCORE_ROWS} rows, scored in order.`,
      }),
    explain: z.boolean().optional().openapi({
      description:
        "Explain each score: Shapley contributions per feature against the model's background sample (exact for linear and tree-ensemble graphs, sampled for others). A model that cannot explain within the limits answers 422.",
    }),
    explainTop: z.int().min(1).max(MAX_EXPLAIN_TOP).optional().openapi({
      description:
        "Also list the k largest contributions by magnitude, signed, as `reasons` (implies `explain`).",
      example: 3,
    }),
  })
  .superRefine((b, ctx) => {
    if ((b.features === undefined) === (b.rows === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: b.rows === undefined ? ["features"] : ["rows"],
        message: "send either `features` (one row) or `rows` (a batch), not both and not neither",
      });
    }
    if (b.rows !== undefined && b.entityId !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["entityId"],
        message: "in a batch, put entityId on each row",
      });
    }
  })
  .openapi("ScoreRequest");

export const ExplanationSchema = z
  .object({
    base: z.number().openapi({
      description: "The model's mean output on the background sample, in `space`",
    }),
    contributions: z.record(z.string(), z.number()).openapi({
      description:
        "Per feature the caller sent (a categorical's one-hot columns summed into it): base + Σ contributions = the score in `space`",
      example: { cart_value: 0.83, device: -0.12 },
    }),
    space: z.enum(["logit", "probability"]).openapi({
      description:
        "logit: contributions add up to ln(score / (1 − score)) (logistic linear and tree models); probability: to the score itself",
    }),
    method: z.enum(["linear", "tree", "permutation"]).openapi({
      description:
        "linear and tree: exact interventional Shapley values; permutation: sampled, with `stdError`",
    }),
    stdError: z.number().optional().openapi({
      description: "Permutation only: the largest standard error among the contributions",
    }),
  })
  .openapi("Explanation");

export const ReasonSchema = z
  .object({ feature: z.string(), contribution: z.number() })
  .openapi("Reason");

const explained = {
  explanation: ExplanationSchema.optional(),
  reasons: z.array(ReasonSchema).optional().openapi({
    description: "With explainTop: the largest contributions by magnitude, largest first",
  }),
};

export const SingleScoreSchema = z
  .object({
    predictionId: z.string(),
    model: z.string(),
    version: z.string().openapi({ description: "The version that scored the row" }),
    score: z.number(),
    ...explained,
  })
  .openapi("Score");

export const BatchScoreSchema = z
  .object({
    model: z.string(),
    version: z.string().openapi({
      description:
        "The version that scored the batch; the champion when a challenger scored some rows",
    }),
    predictions: z.array(
      z.object({
        predictionId: z.string(),
        score: z.number(),
        version: z.string().openapi({ description: "The version that scored this row" }),
        ...explained,
      }),
    ),
  })
  .openapi("BatchScore");

/**
 * Rejects oversized batches with a 413 before the body schema walks thousands of rows, and charges
 * the rows to the key's events budget (429 when used up). Hono caches the parsed JSON, so the body
 * validator that runs next does not parse it again.
 */
/** Largest score request body: 1000 rows of a few dozen features each fit with room to spare. */
const MAX_SCORE_BODY_BYTES = 4 * 1024 * 1024;

const rowLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([\w.-]+\+)?json/i.test(type)) return next();
  let body: unknown;
  // Checked on the text first: a body nested thousands deep would exhaust the stack of whatever
  // walks the parsed value. c.req.json() below reuses the text read here.
  assertJsonDepth(await c.req.text());
  try {
    body = await c.req.json();
  } catch (err) {
    throw new ValidationError(`The body is not valid JSON: ${jsonSyntaxProblem(err)}.`, [
      { field: "(body)", message: "is not valid JSON" },
    ]);
  }
  const rows = (body as { rows?: unknown } | null)?.rows;
  if (Array.isArray(rows) && rows.length > MAX_SCORE_ROWS) {
    throw new DriftlineError(
      "PAYLOAD_TOO_LARGE",
      `A request scores at most ${MAX_SCORE_ROWS} rows; this one has ${rows.length}. Split it into several requests.`,
      { context: { rows: rows.length, maxRows: MAX_SCORE_ROWS } },
    );
  }
  // A batch spends the key's events budget by its rows, as an event request does by its events.
  await chargeBudgets(c, { events: Array.isArray(rows) ? rows.length : 1 });
  await next();
};

const scoreRoute = createRoute({
  method: "post",
  path: "/v1/score",
  tags: ["scoring"],
  summary: "Score one row or a batch",
  description:
    "Scores with the tenant's active version of `model` (a challenger, when set, scores its share: by a hash of entityId, else at random), or with `version` when given. Features are validated against the version's manifest: a missing feature takes the manifest default or is a 400 naming it; a wrong type is a 400; features the model does not use are ignored. With `explain` (or `explainTop`) each row also carries its explanation; see docs/explanations.md. Every scored row is logged to the `predictions` stream after the response. Needs the `score` role.",
  security: BEARER_SECURITY,
  middleware: [
    requireKey("score"),
    limitBody(
      () => MAX_SCORE_BODY_BYTES,
      "a score request",
      "split the rows into several requests",
    ),
    rowLimit,
  ] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: ScoreBody } } },
  },
  responses: {
    200: {
      description: "Scores, with the version that produced them",
      content: { "application/json": { schema: z.union([SingleScoreSchema, BatchScoreSchema]) } },
    },
    ...errorResponses(400, 404, 413, 415, 422, ...AUTH_ERRORS),
  },
});

export const scoreRoutes = new OpenAPIHono<AppEnv>().openapi(scoreRoute, async (c) => {
  const services = c.var.services;
  const result = await scoreRequest({
    deps: {
      models: services.models,
      predictionLog: services.predictionLog,
      entityIds: services.entityIds,
      now: () => services.now(),
      random: () => services.random(),
      waitUntil: (p) => waitUntil(c, p),
      logReasons: services.predictionLogReasons,
      log: (entry) => services.log.entry({ requestId: c.var.requestId, ...entry }),
    },
    tenant: c.var.auth.tenant,
    body: c.req.valid("json") as ScoreInput,
  });
  return c.json(result, 200);
});
