/** The tenant metrics read (GET /v1/metrics): query schema, response schema and the summarising step. */
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import {
  GROUP_DIMENSIONS,
  type GroupDimension,
  HOUR_MS,
  MINUTE_MS,
  summarizeWindows,
  type WindowPredictionsRow,
  type WindowTotalsRow,
  type WindowValueRow,
} from "../windows/index.ts";

const GRANULARITY_MS = { minute: MINUTE_MS, hour: HOUR_MS } as const;
/** Default range when `from` is omitted, ms before `to`. */
const DEFAULT_RANGE_MS = HOUR_MS;
/** Longest range one read may cover: bounds what one query scans, whatever its grouping. */
export const MAX_METRICS_RANGE_MS = 31 * 24 * HOUR_MS;

/** Epoch ms (digits) or an ISO 8601 date-time with zone. */
export const instantSchema = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const ms = /^\d{1,15}$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isFinite(ms) || (!/^\d+$/.test(value) && !/(Z|[+-]\d{2}:?\d{2})$/i.test(value))) {
      ctx.addIssue({
        code: "custom",
        message: "must be epoch milliseconds or an ISO 8601 date-time with a zone (…Z or ±hh:mm)",
      });
      return z.NEVER;
    }
    return ms;
  });

export const metricsQuerySchema = z
  .object({
    from: instantSchema.optional(),
    to: instantSchema.optional(),
    granularity: z.enum(["minute", "hour"]).default("minute"),
    groupBy: z
      .string()
      .default("")
      .transform((v) => [
        ...new Set(
          v
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== ""),
        ),
      ])
      .pipe(
        z.array(
          z.enum(GROUP_DIMENSIONS, {
            error: `must be a comma list of ${GROUP_DIMENSIONS.join(", ")}`,
          }),
        ),
      ),
    source: z.string().min(1).max(32).optional(),
    event_name: z.string().min(1).max(256).optional(),
    campaign: z.string().max(256).optional(),
  })
  .strict();

export const windowSummarySchema = z.object({
  windowStart: z.iso.datetime(),
  windowEnd: z.iso.datetime(),
  source: z.string().optional(),
  eventName: z.string().optional(),
  campaign: z.string().optional(),
  closed: z.boolean(),
  events: z.int().nonnegative(),
  late: z.int().nonnegative(),
  values: z.record(z.string().regex(/^[A-Z]{3}$/), z.number()),
  matchQuality: z.number().min(0).max(10).nullable(),
  matchQualityCount: z.int().nonnegative(),
  conversions: z.int().nonnegative(),
  predictions: z.int().nonnegative(),
  conversionsPerPrediction: z.number().nonnegative().nullable(),
});

export const metricsResponseSchema = z.object({
  tenant: z.string(),
  granularity: z.enum(["minute", "hour"]),
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  groupBy: z.array(z.enum(GROUP_DIMENSIONS)),
  /** The tenant's watermark: windows ending at or before it are closed. */
  watermark: z.iso.datetime().nullable(),
  windows: z.array(windowSummarySchema),
});
export type MetricsResponse = z.infer<typeof metricsResponseSchema>;

/** What a metrics reader is asked: one tenant's windows of one width, grouped and filtered. */
export interface MetricsQuery {
  /** Every read is scoped to one tenant; there is no cross-tenant read. */
  tenant: string;
  widthMs: number;
  /** Windows starting in [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  groupBy: readonly GroupDimension[];
  filters: { source?: string; eventName?: string; campaign?: string };
  /** Most totals rows to return; the reader returns at most limit + 1 so callers can tell. */
  limit: number;
}

export interface MetricsReadResult {
  totals: WindowTotalsRow[];
  values: WindowValueRow[];
  predictions: WindowPredictionsRow[];
  /** The tenant's newest trusted event time, epoch ms. */
  maxEventTimeMs: number | undefined;
}

/** The port both programs implement with their own driver (see metricsStatements). */
export interface MetricsReader {
  readWindows(query: MetricsQuery): Promise<MetricsReadResult>;
}

export interface ReadMetricsDeps {
  reader: MetricsReader;
  nowMs: () => number;
  allowedLatenessMs: number;
  maxRows: number;
}

/** Validates the query, reads the tenant's windows and summarises them. */
export async function readMetrics(
  deps: ReadMetricsDeps,
  tenant: string,
  rawQuery: Record<string, string>,
): Promise<MetricsResponse> {
  const parsed = metricsQuerySchema.safeParse(rawQuery);
  if (!parsed.success) {
    throw new ValidationError(
      "The query is not valid; see details.",
      parsed.error.issues.map((i) => ({
        field: i.code === "unrecognized_keys" ? i.keys.join(",") : i.path.join(".") || "query",
        message:
          i.code === "unrecognized_keys"
            ? "unknown parameter (from, to, granularity, groupBy, source, event_name, campaign)"
            : i.message,
      })),
    );
  }
  const q = parsed.data;
  const widthMs = GRANULARITY_MS[q.granularity];
  const toMs = q.to ?? deps.nowMs();
  const fromMs = q.from ?? toMs - DEFAULT_RANGE_MS;
  if (fromMs >= toMs) {
    throw new ValidationError("`from` must be before `to`.", [
      { field: "from", message: "must be before to" },
    ]);
  }
  if (toMs - fromMs > MAX_METRICS_RANGE_MS) {
    throw new ValidationError(
      "The range from `from` to `to` is longer than 31 days; read it in several requests.",
      [{ field: "from", message: "at most 31 days before to" }],
    );
  }
  const groupBy = q.groupBy as GroupDimension[];
  const filters = {
    ...(q.source === undefined ? {} : { source: q.source }),
    ...(q.event_name === undefined ? {} : { eventName: q.event_name }),
    ...(q.campaign === undefined ? {} : { campaign: q.campaign }),
  };
  const result = await deps.reader.readWindows({
    tenant,
    widthMs,
    fromMs,
    toMs,
    groupBy,
    filters,
    limit: deps.maxRows,
  });
  if (result.totals.length > deps.maxRows) {
    throw new ValidationError(
      `The answer would hold more than ${deps.maxRows} rows: narrow from/to, use granularity=hour, filter, or group by fewer dimensions.`,
      [{ field: "from", message: "range too large for this grouping" }],
    );
  }
  const windows = summarizeWindows(result, {
    widthMs,
    allowedLatenessMs: deps.allowedLatenessMs,
    maxEventTimeMs: result.maxEventTimeMs,
  });
  return {
    tenant,
    granularity: q.granularity,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    groupBy,
    watermark:
      result.maxEventTimeMs === undefined
        ? null
        : new Date(result.maxEventTimeMs - deps.allowedLatenessMs).toISOString(),
    windows,
  };
}
