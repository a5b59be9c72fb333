/** Overview: the last hour of business metrics per minute, from GET /v1/metrics. */
import { api, query } from "../api";
import { timeChart } from "../charts";
import { emptyState, formatNumber, h, panel, stat } from "../dom";
import { HOUR_MS, type Page } from "../page";

interface Window {
  windowStart: string;
  source?: string;
  events: number;
  late: number;
  values: Record<string, number>;
  matchQuality: number | null;
  matchQualityCount: number;
  conversions: number;
  predictions: number;
}

interface Metrics {
  windows: Window[];
  watermark: string | null;
}

/** Events the Worker rejected (GET /v1/metrics/rejected): they never reach the stream. */
interface Rejected {
  data: { windowStart: string; source: string; rejected: number }[];
  total: number;
}

const MINUTE_MS = 60_000;

export const overviewPage: Page = async () => {
  const toMs = Math.ceil(Date.now() / MINUTE_MS) * MINUTE_MS;
  const fromMs = toMs - HOUR_MS;
  const [metrics, rejectedCounts] = await Promise.all([
    api.get<Metrics>(
      `/v1/metrics${query({ from: fromMs, to: toMs, granularity: "minute", groupBy: "source" })}`,
    ),
    api.get<Rejected>(`/v1/metrics/rejected${query({ from: fromMs, to: toMs })}`),
  ]);
  const windows = metrics.windows;
  const minutes = Array.from({ length: HOUR_MS / MINUTE_MS }, (_, i) => fromMs + i * MINUTE_MS);
  const index = new Map(minutes.map((m, i) => [m, i]));
  const series = (pick: (w: Window) => number, filter: (w: Window) => boolean = () => true) => {
    const values = minutes.map(() => 0);
    for (const w of windows) {
      const i = index.get(Date.parse(w.windowStart));
      if (i !== undefined && filter(w)) values[i]! += pick(w);
    }
    return values;
  };

  const sources = [...new Set(windows.map((w) => w.source ?? "all"))].sort();
  const currencies = [...new Set(windows.flatMap((w) => Object.keys(w.values)))].sort();
  const total = (pick: (w: Window) => number) => windows.reduce((s, w) => s + pick(w), 0);
  const events = total((w) => w.events);
  const conversions = total((w) => w.conversions);
  const predictions = total((w) => w.predictions);
  const late = total((w) => w.late);
  const mqCount = total((w) => w.matchQualityCount);
  const mq =
    mqCount === 0 ? null : total((w) => (w.matchQuality ?? 0) * w.matchQualityCount) / mqCount;

  const root = h("div", { class: "page", "data-page": "overview" });
  root.append(
    h(
      "div",
      { class: "stats" },
      stat("Events, last hour", formatNumber(events)),
      stat("Conversions", formatNumber(conversions), `${formatNumber(predictions)} predictions`),
      ...currencies.map((c) =>
        stat(
          `Value ${c}`,
          formatNumber(
            total((w) => w.values[c] ?? 0),
            2,
          ),
        ),
      ),
      stat("Match quality", mq === null ? "–" : `${formatNumber(mq, 1)} / 10`),
      stat("Late events", formatNumber(late), "arrived after their window closed"),
      stat(
        "Rejected events",
        formatNumber(rejectedCounts.total),
        "refused at ingest; each response says why",
      ),
    ),
  );
  const rejectedSeries = minutes.map(() => 0);
  for (const r of rejectedCounts.data) {
    const i = index.get(Date.parse(r.windowStart));
    if (i !== undefined) rejectedSeries[i]! += r.rejected;
  }
  if (windows.length === 0) {
    root.append(
      emptyState(
        "No events in the last hour yet.",
        h(
          "span",
          {},
          "Send website events with ",
          h("code", {}, "POST /v1/events"),
          " or server events with ",
          h("code", {}, "POST /v1/capi/{pixelId}/events"),
          "; with the stream processor running they show up here within a minute. ",
          h("code", {}, "npm run demo"),
          " sends a realistic stream.",
        ),
      ),
    );
    return root;
  }
  const mqSeries = minutes.map((m) => {
    const ws = windows.filter((w) => Date.parse(w.windowStart) === m && w.matchQualityCount > 0);
    const n = ws.reduce((s, w) => s + w.matchQualityCount, 0);
    return n === 0
      ? null
      : ws.reduce((s, w) => s + (w.matchQuality ?? 0) * w.matchQualityCount, 0) / n;
  });
  root.append(
    h(
      "div",
      { class: "grid2" },
      panel(
        "Events per minute by source",
        timeChart({
          xsMs: minutes,
          series: sources.map((s) => ({
            label: s,
            values: series(
              (w) => w.events,
              (w) => (w.source ?? "all") === s,
            ),
          })),
          bars: false,
          yLabel: "events",
        }),
      ),
      panel(
        "Conversions per minute",
        timeChart({
          xsMs: minutes,
          series: [
            { label: "conversions", values: series((w) => w.conversions), color: "#27ae60" },
            { label: "predictions", values: series((w) => w.predictions), color: "#8a94a6" },
          ],
          yLabel: "count",
        }),
      ),
      panel(
        "Value per minute by currency",
        currencies.length === 0
          ? emptyState(
              "No purchase values yet.",
              "Events with custom_data.value and currency add up here.",
            )
          : timeChart({
              xsMs: minutes,
              series: currencies.map((c) => ({
                label: c,
                values: series((w) => w.values[c] ?? 0),
              })),
              yLabel: "value",
            }),
      ),
      panel(
        "Match quality (0–10), late and rejected events",
        timeChart({
          xsMs: minutes,
          series: [
            { label: "match quality", values: mqSeries, color: "#9b51e0" },
            { label: "late events", values: series((w) => w.late), color: "#eb5757" },
            { label: "rejected events", values: rejectedSeries, color: "#f2994a" },
          ],
        }),
      ),
    ),
    h(
      "p",
      { class: "muted" },
      `Watermark ${metrics.watermark ?? "–"}: windows ending before it are closed. Rejected events never reach the stream: the Worker counts them, and each ingest response lists them with the reason.`,
    ),
  );
  return root;
};
