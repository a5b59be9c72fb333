/** Retraining requests: what the policies asked for, with their evidence and history. */
import { emptyState, formatTime, h, panel, table } from "../dom";
import type { Page } from "../page";
import { fetchAll } from "./drift";

interface RetrainingRequest {
  id: string;
  model: string;
  version: string;
  status: string;
  policy: unknown;
  evidence: unknown;
  requestedAt: string;
  /** Why it is in its status (the retraining worker's words). */
  reason?: string;
  /** Present on GET /v1/retraining-requests/{id}; a list may leave it out. */
  history?: { status: string; at: string; reason?: string }[];
}

/** What each status means, shown as the badge's tooltip. */
const STATUS_HELP: Record<string, string> = {
  requested: "waiting for the retraining worker",
  training: "a candidate is being trained on settled predictions",
  candidate: "the candidate passed the offline gate and is being rolled out",
  challenger: "the candidate serves a share of the traffic; the online test decides",
  promoted: "the candidate became the champion",
  "rolled-back": "the challenger was removed; the champion serves all traffic",
  rejected: "too few settled labels, or the candidate did not beat the champion offline",
  failed: "retraining failed on errors retries did not clear",
  cancelled: "cancelled by an operator",
  "needs-external-trainer":
    "Driftline cannot train this model (uploaded from elsewhere, or deleted): train it yourself from the training set",
};

const describe = (value: unknown) => {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string") return value;
  const text = JSON.stringify(value);
  return text.length > 140 ? `${text.slice(0, 140)}…` : text;
};

/**
 * A badge for any status, known or not: the retraining worker may add statuses this console does
 * not know yet, so unknown ones are shown as they come, in a neutral badge.
 */
const STATUS_TONES: Record<string, "ok" | "warn" | "bad" | "info"> = {
  open: "warn",
  requested: "warn",
  "needs-external-trainer": "warn",
  in_progress: "info",
  training: "info",
  candidate: "info",
  challenger: "info",
  completed: "ok",
  promoted: "ok",
  rejected: "bad",
  "rolled-back": "bad",
  failed: "bad",
  cancelled: "bad",
};

export function statusBadge(status: string): HTMLElement {
  const tone = STATUS_TONES[status.toLowerCase()] ?? "neutral";
  return h(
    "span",
    { class: `badge ${tone}`, "data-status": status, title: STATUS_HELP[status] ?? status },
    status.replace(/[-_]+/g, " "),
  );
}

/** The evidence's reasons in words when it gives them, else its JSON. */
function evidenceText(evidence: unknown): HTMLElement {
  const reasons = (evidence as { reasons?: unknown } | null)?.reasons;
  if (Array.isArray(reasons) && reasons.length > 0) return h("span", {}, reasons.join("; "));
  return h("code", { class: "evidence" }, describe(evidence));
}

export const retrainingPage: Page = async () => {
  const requests = (await fetchAll<RetrainingRequest>("/v1/retraining-requests", {})).sort(
    (a, b) => Date.parse(b.requestedAt) - Date.parse(a.requestedAt),
  );
  const root = h("div", { class: "page", "data-page": "retraining" });
  if (requests.length === 0) {
    root.append(
      emptyState(
        "No retraining requests yet.",
        "A request is stored when a monitoring policy fires (e.g. PSI above its threshold for several windows, or AUC below its floor).",
      ),
    );
    return root;
  }
  root.append(
    panel(
      "Retraining requests",
      table(
        ["Requested", "Model", "Status", "Why", "Policy", "Evidence", "History"],
        requests.map((r) => [
          formatTime(r.requestedAt),
          `${r.model} v${r.version}`,
          statusBadge(r.status),
          h("span", { class: "reason" }, r.reason ?? "–"),
          h("code", {}, describe(r.policy)),
          evidenceText(r.evidence),
          h(
            "ol",
            { class: "history" },
            ...(r.history ?? [{ status: r.status, at: r.requestedAt }]).map((e) =>
              h("li", {}, `${e.status} · ${formatTime(e.at)}${e.reason ? ` · ${e.reason}` : ""}`),
            ),
          ),
        ]),
      ),
    ),
  );
  return root;
};
