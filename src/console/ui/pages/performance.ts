/** Performance: AUC and log loss per window once labels arrive, and the latest calibration. */
import { calibrationChart, timeChart } from "../charts";
import { emptyState, formatNumber, formatTime, h, panel, stat, table } from "../dom";
import { DAY_MS, type Page } from "../page";
import { fetchModelRows, modelPicker } from "./drift";

interface PerformanceRow {
  windowStart: string;
  windowEnd: string;
  version: string;
  provisional: boolean;
  n: number;
  positives: number;
  auc: number | null;
  logLoss: number | null;
  brier: number | null;
  calibration: { predicted: number; observed: number; n: number }[];
}

export const performancePage: Page = async (ctx) => {
  const { model, picker } = await modelPicker(ctx, "performance");
  const rows = await fetchModelRows<PerformanceRow>(
    `/v1/models/${encodeURIComponent(model)}/performance`,
    { from: Date.now() - 7 * DAY_MS, to: Date.now() + 60_000 },
  );
  const root = h(
    "div",
    { class: "page", "data-page": "performance" },
    h("div", { class: "toolbar" }, picker),
  );
  if (rows.length === 0) {
    root.append(
      emptyState(
        "No performance results yet.",
        h(
          "span",
          {},
          "Score with ",
          h("code", {}, "POST /v1/score"),
          ", then send conversions (website or CAPI events carrying the prediction id) so predictions get labels; AUC and log loss appear once a window has both classes.",
        ),
      ),
    );
    return root;
  }
  const sorted = [...rows].sort((a, b) => Date.parse(a.windowEnd) - Date.parse(b.windowEnd));
  const versions = [...new Set(sorted.map((r) => r.version))].sort();
  const xs = [...new Set(sorted.map((r) => Date.parse(r.windowEnd)))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const byVersion = (pick: (r: PerformanceRow) => number | null) =>
    versions.map((v) => {
      const values: (number | null)[] = xs.map(() => null);
      for (const r of sorted)
        if (r.version === v) values[at.get(Date.parse(r.windowEnd))!] = pick(r);
      return { label: `v${v}`, values };
    });
  const last = sorted[sorted.length - 1]!;
  const windowMs = Date.parse(last.windowEnd) - Date.parse(last.windowStart);
  root.append(
    h(
      "div",
      { class: "stats" },
      stat(
        "AUC",
        formatNumber(last.auc, 3),
        last.provisional ? "provisional: labels still arriving" : undefined,
      ),
      stat("Log loss", formatNumber(last.logLoss, 3)),
      stat("Brier", formatNumber(last.brier, 3)),
      stat("Labelled rows", formatNumber(last.n), `${formatNumber(last.positives)} positive`),
    ),
    h(
      "div",
      { class: "grid2" },
      panel(
        "AUC over time",
        timeChart({ xsMs: xs, series: byVersion((r) => r.auc), yRange: [0.4, 1], windowMs }),
      ),
      panel(
        "Log loss over time",
        timeChart({ xsMs: xs, series: byVersion((r) => r.logLoss), windowMs }),
      ),
      panel(
        `Calibration, window ending ${formatTime(last.windowEnd)}`,
        last.calibration.length === 0
          ? emptyState("No calibration bins in this window.", "They need labelled predictions.")
          : calibrationChart(last.calibration),
      ),
    ),
    panel(
      "Windows",
      h(
        "p",
        { class: "muted" },
        "A provisional window's attribution period has not ended: conversions may still label its predictions, so its values can change.",
      ),
      table(
        ["Window end", "Version", "Labelled", "Positives", "AUC", "Log loss", "Brier", "State"],
        [...sorted]
          .reverse()
          .slice(0, 48)
          .map((r) => [
            formatTime(r.windowEnd),
            `v${r.version}`,
            formatNumber(r.n),
            formatNumber(r.positives),
            formatNumber(r.auc, 3),
            formatNumber(r.logLoss, 3),
            formatNumber(r.brier, 3),
            r.provisional
              ? h("span", { class: "badge warn", "data-provisional": "" }, "provisional")
              : h("span", { class: "badge ok" }, "final"),
          ]),
      ),
    ),
  );
  return root;
};
