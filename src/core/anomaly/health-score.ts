/** Account health: a 0–100 score with its factors and plain recommendations, from open anomalies, match quality, ingest outcomes and model states. */
import type { AnomalyReason } from "./detector.ts";

export interface OpenAnomalyInput {
  metric: string;
  dimensions: Record<string, string>;
  reason: AnomalyReason | string;
  /** Score at detection (0..1; 0.5 is the threshold). */
  score: number;
  expected: number;
  observed: number;
  detectedAtMs: number;
}

export interface HealthInputs {
  openAnomalies: readonly OpenAnomalyInput[];
  /** Mean event-match quality (0–10) of the recent events, with how many events it is over. */
  matchQuality?: { mean: number; events: number };
  /** Share of ingested events refused by validation (0..1), when known. */
  rejectedShare?: number;
  /** Share of ingested events that were duplicates (0..1), when known. */
  duplicateShare?: number;
  /** Model columns (features or score) whose latest drift state is moderate or significant. */
  driftingColumns?: number;
  /** Model versions whose latest performance state is degraded. */
  degradedModels?: number;
  /** Series not watched because the series cap was reached. */
  seriesOverflow?: number;
}

export interface HealthOptions {
  /** Match quality below this costs points. Default 6 (what Meta calls good). */
  matchQualityTarget?: number;
  /** Rejected share above this costs points. Default 0.01. */
  rejectedShareLimit?: number;
  /** Duplicate share above this costs points. Default 0.3 (browser + server copies are normal). */
  duplicateShareLimit?: number;
}

export type HealthFactorName =
  | "volume-anomalies"
  | "match-quality"
  | "rejected-share"
  | "duplicate-share"
  | "drift"
  | "performance"
  | "coverage";

export interface HealthFactor {
  factor: HealthFactorName;
  status: "ok" | "warning" | "critical";
  /** Points taken off 100. */
  penalty: number;
  detail: string;
}

export interface HealthScore {
  /** 0–100, higher is healthier. */
  score: number;
  status: "healthy" | "degraded" | "critical";
  factors: HealthFactor[];
  /** What to do, most urgent first. */
  recommendations: string[];
}

const ANOMALY_CAP = 60;

/** The penalty of one open anomaly: outages weigh most; others grow with how far past the threshold they went. */
function anomalyPenalty(a: OpenAnomalyInput): number {
  if (a.reason === "drop-to-zero") return 35;
  const excess = Math.max(0, Math.min(1, (a.score - 0.5) / 0.5));
  return Math.round(10 + 20 * excess);
}

function seriesName(a: OpenAnomalyInput): string {
  const d = a.dimensions;
  const what = d.eventName ?? d.model ?? "";
  const where = [
    d.source,
    d.pixel ? `pixel ${d.pixel}` : "",
    d.campaign ? `campaign ${d.campaign}` : "",
    d.currency ?? "",
  ]
    .filter((x) => x)
    .join(", ");
  return `${a.metric}${what ? ` of \`${what}\`` : ""}${where ? ` (${where})` : ""}`;
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));

function anomalyAdvice(a: OpenAnomalyInput): string {
  const name = seriesName(a);
  const since = new Date(a.detectedAtMs).toISOString().slice(0, 16).replace("T", " ");
  switch (a.reason) {
    case "drop-to-zero":
      return `check the integration sending ${name}: nothing since ${since} UTC, about ${fmt(a.expected)} a minute expected`;
    case "level-shift-down":
    case "dip":
      return `${name} is below its usual level since ${since} UTC (${fmt(a.observed)} against ${fmt(a.expected)} expected): check recent site releases, tags and campaign changes`;
    default:
      return `${name} is above its usual level since ${since} UTC (${fmt(a.observed)} against ${fmt(a.expected)} expected): check for repeated sends, bots or a tracking change`;
  }
}

/** The health of a tenant (or one source of it) from what is known now; missing inputs are not held against it. */
export function computeHealthScore(inputs: HealthInputs, options: HealthOptions = {}): HealthScore {
  const target = options.matchQualityTarget ?? 6;
  const rejectedLimit = options.rejectedShareLimit ?? 0.01;
  const duplicateLimit = options.duplicateShareLimit ?? 0.3;
  const factors: HealthFactor[] = [];
  const advice: { weight: number; text: string }[] = [];

  const anomalies = [...inputs.openAnomalies].sort((a, b) => anomalyPenalty(b) - anomalyPenalty(a));
  const anomalyTotal = Math.min(
    ANOMALY_CAP,
    anomalies.reduce((sum, a) => sum + anomalyPenalty(a), 0),
  );
  factors.push({
    factor: "volume-anomalies",
    status: anomalies.some((a) => a.reason === "drop-to-zero")
      ? "critical"
      : anomalies.length > 0
        ? "warning"
        : "ok",
    penalty: anomalyTotal,
    detail:
      anomalies.length === 0
        ? "no open anomaly"
        : `${anomalies.length} open ${anomalies.length === 1 ? "anomaly" : "anomalies"}: ${anomalies
            .slice(0, 3)
            .map((a) => `${seriesName(a)} ${a.reason}`)
            .join("; ")}${anomalies.length > 3 ? "; …" : ""}`,
  });
  for (const a of anomalies.slice(0, 5))
    advice.push({ weight: anomalyPenalty(a), text: anomalyAdvice(a) });

  if (inputs.matchQuality !== undefined && inputs.matchQuality.events > 0) {
    const mean = inputs.matchQuality.mean;
    const gap = target - mean;
    const penalty = gap > 0 ? Math.min(25, Math.round(gap * 10)) : 0;
    factors.push({
      factor: "match-quality",
      status: penalty === 0 ? "ok" : gap >= 2 ? "critical" : "warning",
      penalty,
      detail: `mean match quality ${mean.toFixed(1)} over ${inputs.matchQuality.events} events, ≥ ${target} expected`,
    });
    if (penalty > 0) {
      advice.push({
        weight: penalty,
        text: `send \`em\`, \`ph\` and \`external_id\` (and \`fbp\`/\`fbc\` from the browser): match quality ${mean.toFixed(1)}, ≥ ${target} expected`,
      });
    }
  }

  if (inputs.rejectedShare !== undefined) {
    const share = inputs.rejectedShare;
    const penalty = share > rejectedLimit ? Math.min(20, Math.round(share * 100)) : 0;
    factors.push({
      factor: "rejected-share",
      status: penalty === 0 ? "ok" : share > 0.1 ? "critical" : "warning",
      penalty,
      detail: `${(share * 100).toFixed(1)} % of events rejected (limit ${(rejectedLimit * 100).toFixed(1)} %)`,
    });
    if (penalty > 0) {
      advice.push({
        weight: penalty,
        text: `fix the rejected events: ${(share * 100).toFixed(1)} % were refused; each ingest answer names the field and the reason`,
      });
    }
  }

  if (inputs.duplicateShare !== undefined) {
    const share = inputs.duplicateShare;
    const penalty =
      share > duplicateLimit ? Math.min(10, Math.round((share - duplicateLimit) * 50)) : 0;
    factors.push({
      factor: "duplicate-share",
      status: penalty === 0 ? "ok" : "warning",
      penalty,
      detail: `${(share * 100).toFixed(1)} % of events were duplicates`,
    });
    if (penalty > 0) {
      advice.push({
        weight: penalty,
        text: `send each action once per channel with a stable \`event_id\`: ${(share * 100).toFixed(1)} % of events were duplicates`,
      });
    }
  }

  if (inputs.driftingColumns !== undefined) {
    const n = inputs.driftingColumns;
    const penalty = Math.min(20, n * 5);
    factors.push({
      factor: "drift",
      status: n === 0 ? "ok" : n >= 4 ? "critical" : "warning",
      penalty,
      detail:
        n === 0
          ? "no drifting model input"
          : `${n} model ${n === 1 ? "column drifts" : "columns drift"}`,
    });
    if (n > 0) {
      advice.push({
        weight: penalty,
        text: `review the drifting model inputs (GET /v1/models/{name}/drift); retrain if the shift persists`,
      });
    }
  }

  if (inputs.degradedModels !== undefined) {
    const n = inputs.degradedModels;
    const penalty = Math.min(30, n * 15);
    factors.push({
      factor: "performance",
      status: n === 0 ? "ok" : "critical",
      penalty,
      detail:
        n === 0
          ? "models perform at baseline"
          : `${n} model ${n === 1 ? "version performs" : "versions perform"} below baseline`,
    });
    if (n > 0) {
      advice.push({
        weight: penalty,
        text: "a model performs below its baseline: promote a retrained version or roll back",
      });
    }
  }

  if (inputs.seriesOverflow !== undefined && inputs.seriesOverflow > 0) {
    factors.push({
      factor: "coverage",
      status: "warning",
      penalty: 0,
      detail: `${inputs.seriesOverflow} series-minutes were not watched: the series cap was reached`,
    });
    advice.push({
      weight: 0,
      text: "too many distinct event names or campaigns to watch each: consolidate names, or raise STREAM_ANOMALY_MAX_SERIES_PER_TENANT",
    });
  }

  const penalty = factors.reduce((sum, f) => sum + f.penalty, 0);
  const score = Math.max(0, Math.min(100, 100 - penalty));
  return {
    score,
    status: score >= 80 ? "healthy" : score >= 50 ? "degraded" : "critical",
    factors,
    recommendations: advice.sort((a, b) => b.weight - a.weight).map((a) => a.text),
  };
}
