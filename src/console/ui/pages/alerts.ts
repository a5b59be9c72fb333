/** Alerts: the newest first, live; open ones can be acknowledged. */
import { api } from "../api";
import { emptyState, formatTime, h, panel, table } from "../dom";
import { DAY_MS, type Page } from "../page";
import { fetchAll } from "./drift";

interface Alert {
  id: string;
  type: string;
  status: "open" | "acknowledged" | "resolved";
  model: string | null;
  version: string | null;
  createdAt: string;
  acknowledgedAt?: string;
  event: { subject?: string; data?: Record<string, unknown> };
}

let failure: string | undefined;

/** One line on what the alert says, from its CloudEvent's data. */
function summary(alert: Alert): string {
  const data = alert.event.data ?? {};
  if (typeof data.summary === "string") return data.summary;
  if (Array.isArray(data.reasons) && data.reasons.length > 0) return data.reasons.join("; ");
  if (typeof data.feature === "string") {
    const feature = data.feature === "__score__" ? "model score" : data.feature;
    const psi = (data.psi as { value?: number } | undefined)?.value;
    const ks = (data.ks as { statistic?: number } | undefined)?.statistic;
    const change =
      typeof data.from === "string" && typeof data.to === "string"
        ? ` ${data.from} → ${data.to}`
        : "";
    const stats = [
      psi === undefined ? "" : `PSI ${psi.toFixed(3)}`,
      ks === undefined ? "" : `KS D ${ks.toFixed(3)}`,
    ].filter((x) => x !== "");
    return `${feature}:${change}${stats.length > 0 ? ` (${stats.join(", ")})` : ""}`;
  }
  if (Array.isArray(data.features)) {
    const names = data.features.map((f) =>
      typeof f === "object" && f !== null ? (f as { feature?: string }).feature : String(f),
    );
    return `features: ${names.join(", ")}`;
  }
  if (typeof data.message === "string") return data.message;
  return alert.event.subject ?? "";
}

export const alertsPage: Page = async (ctx) => {
  const alerts = (
    await fetchAll<Alert>("/v1/alerts", { from: Date.now() - 30 * DAY_MS, to: Date.now() + 60_000 })
  ).reverse();
  const root = h("div", { class: "page", "data-page": "alerts" });
  if (failure) root.append(h("p", { class: "error-state", role: "alert" }, failure));
  const open = alerts.filter((a) => a.status === "open").length;
  if (alerts.length === 0) {
    root.append(
      emptyState(
        "No alerts in the last 30 days.",
        "The stream processor raises one when a feature drifts, performance degrades or retraining is requested; they appear here within seconds.",
      ),
    );
    return root;
  }
  root.append(
    panel(
      `${alerts.length} alerts · ${open} open`,
      table(
        ["Created", "Type", "Model", "Summary", "Status", ""],
        alerts.map((a) => [
          formatTime(a.createdAt),
          h("code", {}, a.type.replace(/^dev\.driftline\./, "")),
          a.model ? `${a.model}${a.version ? ` v${a.version}` : ""}` : "–",
          summary(a),
          h(
            "span",
            { class: `badge ${a.status === "open" ? "bad" : "ok"}`, "data-status": a.status },
            a.status,
            a.acknowledgedAt ? ` ${formatTime(a.acknowledgedAt)}` : "",
          ),
          a.status === "open"
            ? h(
                "button",
                {
                  type: "button",
                  class: "secondary",
                  "data-action": "acknowledge",
                  "data-alert": a.id,
                  onclick: async () => {
                    try {
                      await api.post(`/v1/alerts/${encodeURIComponent(a.id)}/acknowledge`);
                      failure = undefined;
                    } catch (err) {
                      failure = err instanceof Error ? err.message : String(err);
                    }
                    ctx.refresh();
                  },
                },
                "Acknowledge",
              )
            : "",
        ]),
        "alerts",
      ),
    ),
  );
  return root;
};
