/**
 * Account health: the score with its factors and recommendations, per source and per pixel, and
 * the anomalies of the last 7 days.
 */
import { api } from "../api";
import { emptyState, formatNumber, formatTime, h, panel, stat, table } from "../dom";
import { DAY_MS, type Page } from "../page";
import { fetchAll } from "./drift";

interface Factor {
  factor: string;
  status: "ok" | "warning" | "critical";
  penalty: number;
  detail: string;
}

interface Health {
  score: number;
  status: "healthy" | "degraded" | "critical";
  factors: Factor[];
  recommendations: string[];
}

interface Anomaly {
  id: string;
  status: "open" | "resolved";
  series: { metric: string; dimensions: Record<string, string> };
  reason: string;
  detectedAt: string;
  resolvedAt?: string;
  observed: number;
  expected: number;
  expectedRange: { lower: number; upper: number };
  peakScore: number;
}

const BADGE = {
  healthy: "ok",
  degraded: "warn",
  critical: "bad",
  ok: "ok",
  warning: "warn",
} as const;

function seriesName(a: Anomaly): string {
  const d = a.series.dimensions;
  const what = d.eventName ?? d.model ?? "";
  const where = [
    d.source,
    d.pixel ? `pixel ${d.pixel}` : "",
    d.campaign ? `campaign ${d.campaign}` : "",
    d.currency ?? "",
  ]
    .filter((x) => x)
    .join(", ");
  return `${a.series.metric}${what ? ` · ${what}` : ""}${where ? ` (${where})` : ""}`;
}

export const healthPage: Page = async () => {
  const [health, anomalies] = await Promise.all([
    api.get<
      Health & {
        sources: (Health & { source: string })[];
        pixels?: (Health & { pixel: string; events: number })[];
      }
    >("/v1/health-score"),
    fetchAll<Anomaly>("/v1/anomalies", { from: Date.now() - 7 * DAY_MS, to: Date.now() + 60_000 }),
  ]);
  const root = h("div", { class: "page", "data-page": "health" });
  root.append(
    panel(
      "Account health",
      h(
        "div",
        { class: "stats", "data-health": health.status },
        stat("Score", `${health.score} / 100`, health.status),
        ...health.sources.map((s) => stat(`Source ${s.source}`, `${s.score} / 100`, s.status)),
      ),
      table(
        ["Factor", "Status", "Points off", "Detail"],
        health.factors.map((f) => [
          f.factor,
          h("span", { class: `badge ${BADGE[f.status] ?? "bad"}` }, f.status),
          formatNumber(f.penalty),
          f.detail,
        ]),
        "health-factors",
      ),
      health.recommendations.length === 0
        ? h("p", {}, "Nothing to fix.")
        : h(
            "ol",
            { class: "recommendations" },
            ...health.recommendations.map((r) => h("li", {}, r)),
          ),
    ),
  );
  const pixels = health.pixels ?? [];
  if (pixels.length > 0) {
    root.append(
      panel(
        "Pixels (Conversions API, last 24 h)",
        table(
          ["Pixel", "Score", "Events", "What to fix"],
          pixels.map((p) => [
            p.pixel,
            h("span", { class: `badge ${BADGE[p.status] ?? "bad"}` }, `${p.score} / 100`),
            formatNumber(p.events),
            p.recommendations[0] ?? "Nothing to fix.",
          ]),
          "health-pixels",
        ),
      ),
    );
  }
  const recent = [...anomalies].reverse();
  root.append(
    recent.length === 0
      ? emptyState(
          "No anomalies in the last 7 days.",
          "Every event, conversion, value, match-quality, rejected and duplicate share, prediction and mean-score series is watched per minute once it has a day of history; drops, spikes and level shifts appear here and on the alerts topic.",
        )
      : panel(
          `${recent.length} anomalies · ${recent.filter((a) => a.status === "open").length} open`,
          table(
            ["Detected", "Series", "Reason", "Observed", "Expected range", "Status"],
            recent.map((a) => [
              formatTime(a.detectedAt),
              seriesName(a),
              a.reason,
              formatNumber(a.observed, 2),
              `${formatNumber(a.expectedRange.lower, 1)} – ${formatNumber(a.expectedRange.upper, 1)}`,
              h(
                "span",
                { class: `badge ${a.status === "open" ? "bad" : "ok"}`, "data-status": a.status },
                a.status,
                a.resolvedAt ? ` ${formatTime(a.resolvedAt)}` : "",
              ),
            ]),
            "anomalies",
          ),
        ),
  );
  return root;
};
