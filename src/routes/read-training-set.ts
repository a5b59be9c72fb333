/**
 * `GET /v1/retraining-requests/{id}/training-set`: the request's settled predictions (features,
 * label, scoring time) as CSV or NDJSON, streamed page by page, so a team training elsewhere
 * (Python, a notebook) closes the same loop: train on it, upload the new version naming
 * `retrainingRequestId` in its manifest.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { NotFoundError } from "#core/errors";
import { csvHeader, csvLine, ndjsonLine } from "#core/retraining";
import type { AppEnv } from "../app-env";
import { requireKey, waitUntil } from "../auth/require-key";
import type { TrainingSetRow } from "../read-api/read-store";
import { errorResponses } from "./error-responses";
import { READ_ERRORS, READ_SECURITY, READ_TAG } from "./read-shared";

/** Rows read from Postgres per round trip while streaming. */
const PAGE_ROWS = 5_000;
const DEFAULT_LIMIT = 200_000;
const MAX_LIMIT = 1_000_000;

const route = createRoute({
  method: "get",
  path: "/v1/retraining-requests/{id}/training-set",
  tags: [READ_TAG],
  summary: "A retraining request's training set (CSV or NDJSON)",
  description:
    "The model's settled predictions in the request's training window (the one the retraining worker froze when it started training; otherwise every settled row up to now), oldest first: one column per feature in model input order, then `label` (1 converted, 0 not converted within the attribution window) and `time` (scoring time, ISO-8601 UTC). `Accept: application/x-ndjson` gives one JSON object per line instead of CSV. Streamed; at most `limit` rows. Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: [requireKey("read")] as const,
  request: {
    params: z.object({
      id: z
        .string()
        .min(1)
        .max(128)
        .openapi({ param: { name: "id", in: "path" } }),
    }),
    query: z.object({
      limit: z.coerce
        .number()
        .int()
        .min(1)
        .max(MAX_LIMIT)
        .default(DEFAULT_LIMIT)
        .openapi({
          param: { name: "limit", in: "query" },
          description: `Most rows (default ${DEFAULT_LIMIT}, at most ${MAX_LIMIT})`,
        }),
    }),
  },
  responses: {
    200: {
      description: "The rows",
      content: {
        "text/csv": { schema: z.string() },
        "application/x-ndjson": { schema: z.string() },
      },
    },
    ...errorResponses(404),
    ...READ_ERRORS,
  },
});

export const readTrainingSetRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  const { limit } = c.req.valid("query");
  const tenant = c.var.auth.tenant;
  const ndjson = (c.req.header("Accept") ?? "").includes("application/x-ndjson");
  // The store lives as long as the stream, not the handler: it is closed when the body ends.
  const store = c.var.services.reads.open();
  let window: Awaited<ReturnType<typeof store.trainingSetWindow>>;
  try {
    window = await store.trainingSetWindow(tenant, id, Date.now());
  } catch (error) {
    waitUntil(
      c,
      store.close().catch(() => undefined),
    );
    throw error;
  }
  if (window === undefined) {
    waitUntil(
      c,
      store.close().catch(() => undefined),
    );
    throw new NotFoundError(`No retraining request "${id}" for this tenant.`);
  }
  const found = window;
  let features = found.features;
  let after: { atMs: number; id: string } | undefined;
  let sent = 0;
  let started = false;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const rows: TrainingSetRow[] =
          sent >= limit
            ? []
            : await store.trainingSetPage({
                tenant,
                window: found,
                ...(after === undefined ? {} : { after }),
                limit: Math.min(PAGE_ROWS, limit - sent),
              });
        // An unregistered version: the columns are the first page's feature names.
        features ??= [...new Set(rows.flatMap((r) => Object.keys(r.features)))].sort();
        let chunk = "";
        if (!started && !ndjson) chunk += csvHeader(features);
        started = true;
        for (const r of rows) {
          chunk += ndjson ? ndjsonLine(features, r) : csvLine(features, r);
        }
        if (chunk !== "") controller.enqueue(encoder.encode(chunk));
        sent += rows.length;
        const last = rows[rows.length - 1];
        if (last === undefined || rows.length < PAGE_ROWS || sent >= limit) {
          controller.close();
          await store.close().catch(() => undefined);
          return;
        }
        after = { atMs: last.predictedAtMs, id: last.id };
      } catch (error) {
        controller.error(error);
        await store.close().catch(() => undefined);
      }
    },
    async cancel() {
      await store.close().catch(() => undefined);
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": ndjson ? "application/x-ndjson; charset=utf-8" : "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="training-set-${id.replace(/[^A-Za-z0-9._-]/g, "_")}.${ndjson ? "ndjson" : "csv"}"`,
      "cache-control": "no-store",
    },
  }) as never;
});
