/** A model's explanations on the Models page: recent scores with their top reasons, and the top features. */
import { ApiError, api, query } from "../api";
import { emptyState, formatNumber, formatTime, h, panel, table } from "../dom";
import { DAY_MS } from "../page";

interface Reason {
  feature: string;
  contribution: number;
}
interface ExplanationsPage {
  data: {
    predictionId: string;
    version: string;
    score: number;
    predictedAt: string;
    reasons: Reason[];
  }[];
  summary: {
    explained: number;
    summarized: number;
    features: {
      feature: string;
      meanAbsContribution: number;
      meanContribution: number;
      count: number;
    }[];
  };
}

/** Recent predictions shown with their reasons. */
const RECENT = 15;

/** The panel for one model over the last 24 h; says how to log reasons when none are. */
export async function explanationsPanel(model: string): Promise<HTMLElement> {
  const title = `Explanations · ${model} · last 24 h`;
  const toMs = Date.now();
  let page: ExplanationsPage;
  try {
    page = await api.get<ExplanationsPage>(
      `/v1/models/${encodeURIComponent(model)}/explanations${query({
        from: new Date(toMs - DAY_MS).toISOString(),
        to: new Date(toMs).toISOString(),
        limit: RECENT,
      })}`,
    );
  } catch (err) {
    // A model known only from its bundle (no stored results yet) has nothing to explain either.
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    page = { data: [], summary: { explained: 0, summarized: 0, features: [] } };
  }
  const section = panel(title);
  section.dataset.panel = "explanations";
  section.dataset.model = model;
  if (page.summary.explained === 0) {
    section.append(
      emptyState(
        "No reasons logged for this model in the last 24 h.",
        h(
          "span",
          {},
          "Set ",
          h("code", {}, "PREDICTION_LOG_REASONS=3"),
          " (a Worker variable: [vars] in wrangler.toml): every logged prediction of a linear or tree model then carries its 3 largest contributions; other models carry them when the score request asks (",
          h("code", {}, '"explain": true'),
          "). See docs/explanations.md.",
        ),
      ),
    );
    return section;
  }
  const features = page.summary.features;
  const maxMean = Math.max(...features.map((f) => f.meanAbsContribution), 1e-12);
  const maxReason = Math.max(
    ...page.data.flatMap((p) => p.reasons.map((r) => Math.abs(r.contribution))),
    1e-12,
  );
  section.append(
    h(
      "div",
      { class: "grid2" },
      h(
        "div",
        {},
        h("h3", {}, "Top features by mean |contribution|"),
        table(
          ["Feature", "", "Mean |c|", "Mean c", "In"],
          features.map((f) => [
            h("code", {}, f.feature),
            magnitudeBar(f.meanAbsContribution / maxMean, f.meanContribution),
            formatNumber(f.meanAbsContribution, 4),
            signed(f.meanContribution),
            `${formatNumber(f.count)} of ${formatNumber(page.summary.summarized)}`,
          ]),
          "features",
        ),
        h(
          "p",
          { class: "muted" },
          `Means over the predictions that list the feature among their logged top reasons: the newest ${formatNumber(page.summary.summarized)} of ${formatNumber(page.summary.explained)}${page.summary.explained >= 10_000 ? "+" : ""} explained predictions.`,
        ),
      ),
      h(
        "div",
        {},
        h("h3", {}, "Recent predictions"),
        table(
          ["Scored", "Version", "Score", "Top reasons"],
          page.data.map((p) => [
            formatTime(p.predictedAt),
            `v${p.version}`,
            formatNumber(p.score, 4),
            h(
              "ul",
              { class: "reasons", "data-prediction": p.predictionId },
              ...p.reasons.map((r) =>
                h(
                  "li",
                  {},
                  h("code", {}, r.feature),
                  reasonBar(r.contribution / maxReason),
                  h("span", { class: r.contribution >= 0 ? "up" : "down" }, signed(r.contribution)),
                ),
              ),
            ),
          ]),
          "recent",
        ),
      ),
    ),
  );
  return section;
}

function signed(n: number): string {
  return `${n >= 0 ? "+" : "−"}${formatNumber(Math.abs(n), 4)}`;
}

/** A bar from the centre line: right for a positive contribution, left for a negative one. */
function reasonBar(fraction: number): HTMLElement {
  const fill = h("span", { class: `fill ${fraction >= 0 ? "up" : "down"}` });
  // Sizes through CSSOM: the console's CSP allows no inline style attributes.
  fill.style.width = `${Math.min(50, Math.abs(fraction) * 50)}%`;
  return h("span", { class: "reason-bar", "aria-hidden": "true" }, fill);
}

/** A bar from the left for a magnitude; coloured by the sign of the mean. */
function magnitudeBar(fraction: number, mean: number): HTMLElement {
  const fill = h("span", { class: `fill ${mean >= 0 ? "up" : "down"}` });
  fill.style.width = `${Math.min(100, Math.max(0, fraction) * 100)}%`;
  return h("span", { class: "magnitude-bar", "aria-hidden": "true" }, fill);
}
