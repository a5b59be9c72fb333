/** Drift: PSI and KS per feature over time, and the latest evaluation's histograms. */
import { ApiError, api, query } from "../api";
import { histogram, timeChart } from "../charts";
import { emptyState, formatNumber, formatTime, h, panel, table } from "../dom";
import { knownModels } from "../models-known";
import { DAY_MS, type Page, type PageContext } from "../page";

export interface DriftRow {
  evaluatedAt: string;
  version: string;
  feature: string;
  window: { kind: string; from: string; to: string; size: number };
  psi: number | null;
  ks: { statistic: number; pValue: number } | null;
  jensenShannon: number | null;
  drifted: boolean;
  bins: {
    edges?: number[];
    categories?: string[];
    reference: number[];
    current: number[];
  };
}

let selectedFeature: string | undefined;

export async function modelPicker(
  ctx: PageContext,
  page: string,
): Promise<{ model: string; picker: HTMLElement }> {
  const names = await knownModels();
  const model = ctx.params[0] && names.includes(ctx.params[0]) ? ctx.params[0] : names[0]!;
  const picker = h(
    "label",
    { class: "picker" },
    "Model ",
    h(
      "select",
      {
        "data-control": "model",
        onchange: (e: Event) => ctx.go(`#/${page}/${(e.target as HTMLSelectElement).value}`),
      },
      ...names.map((n) => h("option", { value: n, selected: n === model }, n)),
    ),
  );
  return { model, picker };
}

export async function fetchAll<T>(
  path: string,
  params: Record<string, string | number | undefined>,
) {
  const rows: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10; page++) {
    const res = await api.get<{ data: T[]; nextCursor?: string }>(
      `${path}${query({ ...params, limit: 1000, cursor })}`,
    );
    rows.push(...res.data);
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  return rows;
}

/**
 * A model's monitoring rows; a model with no results yet (404 from the read API, e.g. the bundled
 * default before any prediction was processed) has none, which the page shows as its empty state.
 */
export async function fetchModelRows<T>(
  path: string,
  params: Record<string, string | number | undefined>,
): Promise<T[]> {
  try {
    return await fetchAll<T>(path, params);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
}

function binLabels(bins: DriftRow["bins"]): string[] {
  if (bins.categories) return bins.categories;
  const e = bins.edges ?? [];
  const fmt = (x: number) => formatNumber(x, Math.abs(x) < 10 ? 2 : 0);
  // n edges bound n + 1 bins: below the first, between each pair, above the last.
  const labels = bins.reference.map((_, i) => {
    if (e.length === bins.reference.length + 1) return `${fmt(e[i]!)}–${fmt(e[i + 1]!)}`;
    if (i === 0) return `< ${fmt(e[0] ?? 0)}`;
    if (i >= e.length) return `≥ ${fmt(e[e.length - 1] ?? 0)}`;
    return `${fmt(e[i - 1]!)}–${fmt(e[i]!)}`;
  });
  return labels;
}

export const driftPage: Page = async (ctx) => {
  const { model, picker } = await modelPicker(ctx, "drift");
  const rows = await fetchModelRows<DriftRow>(`/v1/models/${encodeURIComponent(model)}/drift`, {
    from: Date.now() - 7 * DAY_MS,
    to: Date.now() + 60_000,
  });
  const root = h(
    "div",
    { class: "page", "data-page": "drift" },
    h("div", { class: "toolbar" }, picker),
  );
  if (rows.length === 0) {
    root.append(
      emptyState(
        "No drift evaluations yet.",
        h(
          "span",
          {},
          "Send predictions with ",
          h("code", {}, "POST /v1/score"),
          "; once a window of scored rows has been seen, the stream processor compares each feature with the model's reference and the results appear here.",
        ),
      ),
    );
    return root;
  }
  const features = [...new Set(rows.map((r) => r.feature))].sort();
  const times = [...new Set(rows.map((r) => Date.parse(r.evaluatedAt)))].sort((a, b) => a - b);
  const at = new Map(times.map((t, i) => [t, i]));
  const perFeature = (pick: (r: DriftRow) => number | null) =>
    features.map((f) => {
      const values: (number | null)[] = times.map(() => null);
      for (const r of rows)
        if (r.feature === f) values[at.get(Date.parse(r.evaluatedAt))!] = pick(r);
      return { label: f, values };
    });
  const latest = new Map<string, DriftRow>();
  for (const r of rows) {
    const prev = latest.get(r.feature);
    if (!prev || Date.parse(r.evaluatedAt) >= Date.parse(prev.evaluatedAt))
      latest.set(r.feature, r);
  }
  if (!selectedFeature || !features.includes(selectedFeature)) {
    selectedFeature = [...latest.values()].find((r) => r.drifted)?.feature ?? features[0];
  }
  const current = latest.get(selectedFeature!)!;
  // A lone evaluation is drawn with its window's length either side.
  const windowMs = Date.parse(current.window.to) - Date.parse(current.window.from);
  root.append(
    h(
      "div",
      { class: "grid2" },
      panel(
        "PSI per feature",
        timeChart({ xsMs: times, series: perFeature((r) => r.psi), yLabel: "PSI", windowMs }),
      ),
      panel(
        "KS statistic per feature",
        timeChart({
          xsMs: times,
          series: perFeature((r) => r.ks?.statistic ?? null),
          yLabel: "D",
          windowMs,
        }),
      ),
    ),
    panel(
      "Latest evaluation",
      table(
        ["Feature", "Version", "PSI", "KS D", "KS p", "JS", "Window", "Evaluated", ""],
        [...latest.values()].map((r) => [
          h(
            "button",
            {
              type: "button",
              class: r.feature === selectedFeature ? "link selected" : "link",
              onclick: () => {
                selectedFeature = r.feature;
                ctx.refresh();
              },
            },
            r.feature,
          ),
          `v${r.version}`,
          formatNumber(r.psi, 3),
          formatNumber(r.ks?.statistic, 3),
          r.ks ? r.ks.pValue.toExponential(1) : "–",
          formatNumber(r.jensenShannon, 3),
          `${r.window.kind} · ${formatNumber(r.window.size)} rows`,
          formatTime(r.evaluatedAt),
          r.drifted
            ? h("span", { class: "badge bad" }, "drifted")
            : h("span", { class: "badge ok" }, "stable"),
        ]),
      ),
    ),
    panel(
      `${current.feature}: reference vs current (${formatTime(current.evaluatedAt)})`,
      histogram({
        labels: binLabels(current.bins),
        reference: current.bins.reference,
        current: current.bins.current,
      }),
    ),
  );
  return root;
};
