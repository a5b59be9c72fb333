/** Models: versions, champion and challenger shares, explanations; admins promote or roll back after confirming. */
import { ApiError, api } from "../api";
import { confirmDialog, emptyState, formatNumber, formatTime, h, panel, table } from "../dom";
import { holds, isAdmin, type Page, type PageContext } from "../page";
import { explanationsPanel } from "./explanations";

interface Pointer {
  champion: string;
  challenger?: { version: string; share: number };
  promotedAt?: string;
}
interface ModelDetail {
  name: string;
  versions: {
    version: string;
    source: string;
    uploadedAt: string;
    sizeBytes: number;
    features: number;
  }[];
  active: { pointer: Pointer; isDefault: boolean } | null;
}

/** The promotion waiting for its confirmation, kept across refreshes. */
let confirming: { model: string; version: string; rollBack: boolean } | undefined;
let outcome: { ok: boolean; text: string } | undefined;

export const modelsPage: Page = async (ctx) => {
  const root = h("div", { class: "page", "data-page": "models" });
  let names: string[];
  try {
    names = (await api.get<{ models: { name: string }[] }>("/v1/models")).models.map((m) => m.name);
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      root.append(
        emptyState(
          "This Worker lists models for admin keys only.",
          "Sign in with an admin key to see versions and promote them.",
        ),
      );
      return root;
    }
    throw err;
  }
  if (outcome) root.append(h("p", { class: outcome.ok ? "notice" : "error-state" }, outcome.text));
  if (!isAdmin(ctx.session)) {
    root.append(
      h(
        "p",
        { class: "muted", "data-note": "read-only" },
        "Promoting a version needs an admin key.",
      ),
    );
  }
  if (names.length === 0) {
    root.append(
      emptyState(
        "No models yet.",
        h(
          "span",
          {},
          "Upload one with ",
          h("code", {}, "PUT /v1/models/{name}/versions/{version}"),
          ".",
        ),
      ),
    );
    return root;
  }
  const details = await Promise.all(
    names.map((n) => api.get<ModelDetail>(`/v1/models/${encodeURIComponent(n)}`)),
  );
  const explanations = await Promise.all(details.map((m) => explanationsPanel(m.name)));
  for (const [i, model] of details.entries()) {
    root.append(modelPanel(ctx, model), explanations[i]!);
  }
  return root;
};

function modelPanel(ctx: PageContext, model: ModelDetail): HTMLElement {
  const pointer = model.active?.pointer;
  const challengerShare = pointer?.challenger?.share ?? 0;
  const admin = isAdmin(ctx.session);
  const versions = [...model.versions].sort((a, b) =>
    b.version.localeCompare(a.version, "en", { numeric: true }),
  );
  const championIndex = versions.findIndex((v) => v.version === pointer?.champion);
  const shares = pointer
    ? h(
        "div",
        { class: "share-bar", title: "traffic share" },
        share(
          "champion",
          1 - challengerShare,
          `champion v${pointer.champion} · ${formatNumber((1 - challengerShare) * 100)}%`,
        ),
        pointer.challenger
          ? share(
              "challenger",
              challengerShare,
              `challenger v${pointer.challenger.version} · ${formatNumber(challengerShare * 100)}%`,
            )
          : null,
      )
    : h("p", { class: "muted" }, "Nothing promoted: the bundled default serves.");
  const rows = versions.map((v, i) => {
    const role =
      v.version === pointer?.champion
        ? h("span", { class: "badge ok" }, "champion")
        : v.version === pointer?.challenger?.version
          ? h("span", { class: "badge warn" }, "challenger")
          : "";
    const rollBack = championIndex >= 0 && i > championIndex;
    const action =
      admin && v.version !== pointer?.champion
        ? h(
            "button",
            {
              type: "button",
              class: rollBack ? "secondary" : "primary",
              "data-action": rollBack ? "roll-back" : "promote",
              "data-version": v.version,
              onclick: () => {
                confirming = { model: model.name, version: v.version, rollBack };
                holds.add("confirm");
                outcome = undefined;
                ctx.refresh();
              },
            },
            rollBack ? "Roll back to this" : "Promote",
          )
        : "";
    return [
      h("strong", {}, `v${v.version}`),
      role,
      v.source,
      formatTime(v.uploadedAt),
      formatNumber(v.features),
      `${formatNumber(v.sizeBytes / 1024, 1)} KiB`,
      action,
    ];
  });
  const section = panel(
    model.name,
    shares,
    pointer?.promotedAt
      ? h("p", { class: "muted" }, `promoted ${formatTime(pointer.promotedAt)}`)
      : null,
    table(["Version", "Role", "Source", "Uploaded", "Features", "Size", ""], rows),
  );
  if (confirming?.model === model.name) section.append(confirmBox(ctx, confirming));
  return section;
}

/** A segment of the traffic bar; its width is set through CSSOM, which the CSP allows. */
function share(kind: string, fraction: number, text: string): HTMLElement {
  const el = h("span", { class: `share ${kind}` }, text);
  el.style.flexGrow = String(Math.max(fraction, 0.08));
  return el;
}

function confirmBox(
  ctx: PageContext,
  pending: { model: string; version: string; rollBack: boolean },
): HTMLElement {
  const close = () => {
    confirming = undefined;
    holds.delete("confirm");
  };
  return confirmDialog({
    label: "Confirm promotion",
    question: [
      `${pending.rollBack ? "Roll back" : "Promote"} ${pending.model} to version ${pending.version}? `,
      "It becomes the champion for all traffic within seconds; the challenger, if any, is removed.",
    ],
    confirmText: "Yes, make it champion",
    action: "confirm",
    confirm: async () => {
      try {
        await api.post(`/v1/models/${encodeURIComponent(pending.model)}/promote`, {
          version: pending.version,
        });
        outcome = {
          ok: true,
          text: `${pending.model} v${pending.version} is now the champion.`,
        };
      } catch (err) {
        outcome = { ok: false, text: err instanceof Error ? err.message : String(err) };
      }
      close();
      ctx.refresh();
    },
    cancel: () => {
      close();
      ctx.refresh();
    },
  });
}
