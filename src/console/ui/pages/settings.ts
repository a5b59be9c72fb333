/**
 * Monitoring settings: the tenant's (or one model's) drift thresholds, alert confirmations,
 * retraining policies and conversion events over the values they inherit; admins change them.
 */
import { ApiError, api } from "../api";
import { confirmDialog, emptyState, h, panel, table } from "../dom";
import { knownModels } from "../models-known";
import { isAdmin, type Page, type PageContext } from "../page";

type Values = Record<string, Record<string, unknown> | string[]>;

interface Settings {
  scope: "tenant" | "model";
  model?: string;
  overrides: Record<string, unknown>;
  inherited: Values;
  effective: Values;
  defaultsFrom: "stream-processor" | "built-in";
  revision: number;
  updatedAt?: string;
}

type Kind = "number" | "off" | "tests" | "events";

interface Field {
  section: "drift" | "alerts" | "performance" | "retrain" | "conversionEvents";
  name: string;
  label: string;
  kind: Kind;
  hint: string;
}

const FIELDS: Field[] = [
  {
    section: "drift",
    name: "psiThreshold",
    label: "PSI threshold",
    kind: "number",
    hint: "PSI at or above this is drift",
  },
  {
    section: "drift",
    name: "ksAlpha",
    label: "KS alpha",
    kind: "number",
    hint: "significance level of the KS test",
  },
  {
    section: "drift",
    name: "ksMinEffect",
    label: "KS minimum D",
    kind: "number",
    hint: "smallest KS statistic called drift",
  },
  {
    section: "drift",
    name: "jensenShannonThreshold",
    label: "Jensen–Shannon threshold",
    kind: "number",
    hint: "base-2 distance at or above this is drift",
  },
  {
    section: "drift",
    name: "decideBy",
    label: "Drift decided by",
    kind: "tests",
    hint: "psi, ks, jensen-shannon (comma-separated)",
  },
  {
    section: "alerts",
    name: "confirmations",
    label: "Alert confirmations",
    kind: "number",
    hint: "evaluations in a row before a new state is alerted",
  },
  {
    section: "performance",
    name: "degradedAucDelta",
    label: "Degraded AUC delta",
    kind: "number",
    hint: "degraded when AUC < baseline − this",
  },
  {
    section: "retrain",
    name: "psiAbove",
    label: "Retrain: PSI above",
    kind: "off",
    hint: "a number, or off",
  },
  {
    section: "retrain",
    name: "psiConsecutive",
    label: "Retrain: consecutive evaluations",
    kind: "number",
    hint: "for the PSI policy",
  },
  {
    section: "retrain",
    name: "driftedShare",
    label: "Retrain: share of features drifted",
    kind: "off",
    hint: "0–1, or off",
  },
  {
    section: "retrain",
    name: "aucDelta",
    label: "Retrain: AUC below baseline by",
    kind: "off",
    hint: "a number, or off",
  },
  {
    section: "retrain",
    name: "maxModelAgeDays",
    label: "Retrain: model older than (days)",
    kind: "off",
    hint: "a number, or off",
  },
  {
    section: "retrain",
    name: "cooldownMs",
    label: "Retrain: cooldown (ms)",
    kind: "number",
    hint: "least time between two requests",
  },
  {
    section: "conversionEvents",
    name: "",
    label: "Conversion events",
    kind: "events",
    hint: "event names that label predictions; * = any (tenant only)",
  },
];

const idOf = (f: Field) => (f.name === "" ? f.section : `${f.section}.${f.name}`);

// Page state lives here, not in the DOM: the page is rebuilt on every refresh.
/** What is being typed, per scope ("" = the tenant) and field id. */
const drafts = new Map<string, Map<string, string>>();
let outcome: { ok: boolean; text: string } | undefined;
let confirmingClear: string | undefined;
let busy = false;

window.addEventListener("hashchange", () => {
  if (!location.hash.startsWith("#/settings")) {
    drafts.clear();
    outcome = undefined;
    confirmingClear = undefined;
  }
});

function settingValue(values: Values | Record<string, unknown>, f: Field): unknown {
  const section = (values as Record<string, unknown>)[f.section];
  if (f.name === "") return section;
  return (section as Record<string, unknown> | undefined)?.[f.name];
}

function show(value: unknown, kind: Kind): string {
  if (value === undefined) return "";
  if (value === null) return "off";
  if (Array.isArray(value)) return value.join(", ");
  if (kind === "number" || kind === "off") return String(value);
  return JSON.stringify(value);
}

/** The typed text as the API takes it; text that is not a number is sent as is, so the API names it. */
function parse(text: string, kind: Kind): unknown {
  const t = text.trim();
  if (kind === "tests" || kind === "events") {
    return t
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
  }
  if (kind === "off" && t.toLowerCase() === "off") return null;
  const n = Number(t);
  return t !== "" && Number.isFinite(n) ? n : t;
}

function settingsPath(model: string): string {
  return model === ""
    ? "/v1/settings/monitoring"
    : `/v1/models/${encodeURIComponent(model)}/settings/monitoring`;
}

export const settingsPage: Page = async (ctx) => {
  const models = await knownModels();
  const scope = models.includes(ctx.params[0] ?? "") ? (ctx.params[0] as string) : "";
  let settings: Settings;
  try {
    settings = await api.get<Settings>(settingsPath(scope));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && scope !== "") {
      return h(
        "div",
        { class: "page", "data-page": "settings" },
        emptyState(
          `No model "${scope}" yet.`,
          "Settings of a model can be set once it has a version or monitoring results.",
        ),
      );
    }
    throw err;
  }
  const admin = isAdmin(ctx.session);
  const root = h("div", { class: "page", "data-page": "settings" });
  root.append(scopePicker(ctx, models, scope));
  if (outcome) {
    root.append(
      h(
        "p",
        { class: outcome.ok ? "notice" : "error-state", role: "status", "data-outcome": "" },
        outcome.text,
      ),
    );
  }
  if (!admin) {
    root.append(
      h(
        "p",
        { class: "muted", "data-note": "read-only" },
        "This session's key has the read role: it shows the settings. Changing them needs an admin key.",
      ),
    );
  }
  root.append(settingsPanel(ctx, settings, scope, admin));
  return root;
};

function scopePicker(ctx: PageContext, models: string[], scope: string): HTMLElement {
  return h(
    "div",
    { class: "toolbar" },
    h("label", { for: "settings-scope" }, "Settings of "),
    h(
      "select",
      {
        id: "settings-scope",
        onchange: (e: Event) => {
          const v = (e.target as HTMLSelectElement).value;
          outcome = undefined;
          ctx.go(v === "" ? "#/settings" : `#/settings/${encodeURIComponent(v)}`);
        },
      },
      h(
        "option",
        { value: "", ...(scope === "" ? { selected: true } : {}) },
        "every model (tenant)",
      ),
      ...models.map((m) =>
        h("option", { value: m, ...(m === scope ? { selected: true } : {}) }, `model ${m}`),
      ),
    ),
  );
}

function settingsPanel(ctx: PageContext, s: Settings, scope: string, admin: boolean): HTMLElement {
  const draft = drafts.get(scope) ?? new Map<string, string>();
  drafts.set(scope, draft);
  const fields = FIELDS.filter((f) => scope === "" || f.kind !== "events");
  const inheritedFrom =
    scope === ""
      ? s.defaultsFrom === "stream-processor"
        ? "operator"
        : "built-in default"
      : "tenant";
  const rows = fields.map((f) => {
    const id = idOf(f);
    const own = settingValue(s.overrides, f);
    const input = h("input", {
      id: `setting-${id}`,
      name: id,
      "data-setting": id,
      autocomplete: "off",
      spellcheck: "false",
      placeholder: show(settingValue(s.inherited, f), f.kind),
      value: draft.get(id) ?? show(own, f.kind),
      title: f.hint,
      oninput: (e: Event) => draft.set(id, (e.target as HTMLInputElement).value),
    });
    return [
      h("span", { title: f.hint }, f.label),
      h("code", {}, show(settingValue(s.inherited, f), f.kind)),
      admin ? input : h("span", {}, own === undefined ? "–" : show(own, f.kind)),
      h("strong", { "data-effective": id }, show(settingValue(s.effective, f), f.kind)),
    ];
  });
  const save = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    busy = true;
    const body: Record<string, Record<string, unknown> | unknown> = {};
    for (const f of fields) {
      const id = idOf(f);
      const text = draft.get(id) ?? show(settingValue(s.overrides, f), f.kind);
      if (text.trim() === "") continue;
      const value = parse(text, f.kind);
      if (f.name === "") body[f.section] = value;
      else
        body[f.section] = {
          ...((body[f.section] as Record<string, unknown>) ?? {}),
          [f.name]: value,
        };
    }
    try {
      const saved = await api.put<Settings>(settingsPath(scope), body);
      drafts.delete(scope);
      outcome = {
        ok: true,
        text: `Saved (revision ${saved.revision}); the stream processor applies them from its next batch.`,
      };
    } catch (err) {
      outcome = { ok: false, text: err instanceof Error ? err.message : String(err) };
    } finally {
      busy = false;
      ctx.refresh();
    }
  };
  const clear = async () => {
    confirmingClear = undefined;
    try {
      await api.put<Settings>(settingsPath(scope), {});
      drafts.delete(scope);
      outcome = { ok: true, text: `Cleared: every value is the ${inheritedFrom}'s again.` };
    } catch (err) {
      outcome = { ok: false, text: err instanceof Error ? err.message : String(err) };
    }
    ctx.refresh();
  };
  return panel(
    scope === "" ? "Monitoring settings for every model" : `Monitoring settings of model ${scope}`,
    h(
      "p",
      { class: "muted" },
      `An empty field takes the ${inheritedFrom}'s value. Revision ${s.revision}${s.updatedAt ? `, changed ${new Date(s.updatedAt).toLocaleString("en-GB")}` : ""}.`,
    ),
    h(
      "form",
      { id: "settings-form", onsubmit: save },
      table(["Setting", `Inherited (${inheritedFrom})`, "This level", "Applied"], rows, "settings"),
      admin
        ? h(
            "div",
            { class: "actions" },
            h("button", { type: "submit", "data-action": "save-settings" }, "Save"),
            h(
              "button",
              {
                type: "button",
                class: "secondary",
                "data-action": "clear-settings",
                onclick: () => {
                  confirmingClear = scope;
                  ctx.refresh();
                },
              },
              "Clear this level",
            ),
          )
        : null,
    ),
    confirmingClear === scope
      ? confirmDialog({
          label: "Clear settings",
          question: [
            `Clear every value set here? The ${inheritedFrom}'s values apply from the next batch.`,
          ],
          confirmText: "Clear",
          action: "confirm-clear-settings",
          confirm: clear,
          cancel: () => {
            confirmingClear = undefined;
            ctx.refresh();
          },
        })
      : null,
  );
}
