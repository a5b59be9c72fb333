/**
 * Webhooks: the tenant's endpoints and an endpoint's recent deliveries; admins add endpoints (the
 * secret is shown once), send test deliveries and delete endpoints after confirming.
 */
import { ALERT_TYPE_CHOICES, shortAlertType } from "../alert-types";
import { api, query } from "../api";
import { confirmDialog, emptyState, formatNumber, formatTime, h, panel, table } from "../dom";
import { holds, isAdmin, type Page, type PageContext } from "../page";

interface Endpoint {
  id: string;
  url: string;
  types: string[];
  createdAt: string;
}
interface CreatedEndpoint extends Endpoint {
  secret: string;
}
interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  attempt: number;
  status: "delivered" | "failed";
  statusCode?: number;
  error?: string;
  durationMs: number;
  attemptedAt: string;
  nextAttemptAt?: string;
}
interface TestResult {
  deliveryId: string;
  delivered: boolean;
  statusCode?: number;
  error?: string;
  durationMs: number;
}

const RECENT_DELIVERIES = 20;

// Page state lives here, not in the DOM: the page is rebuilt on every refresh.
/** What the add form holds, so a refresh does not wipe what is being typed. */
const draft = { url: "", types: new Set<string>() };
/** The endpoint just created with its secret, until dismissed or the page is left. */
let created: CreatedEndpoint | undefined;
let copied: "yes" | "failed" | undefined;
let confirmingDelete: Endpoint | undefined;
let outcome: { ok: boolean; text: string } | undefined;
let busy = false;

// The secret is shown once: leaving the page forgets it, so coming back does not show it again.
window.addEventListener("hashchange", () => {
  if (!location.hash.startsWith("#/webhooks")) {
    created = undefined;
    copied = undefined;
    confirmingDelete = undefined;
    outcome = undefined;
  }
});

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export const webhooksPage: Page = async (ctx) => {
  const endpoints = (await api.get<{ data: Endpoint[] }>("/v1/webhooks")).data;
  const admin = isAdmin(ctx.session);
  const selected = endpoints.find((e) => e.id === ctx.params[0]) ?? endpoints[0];
  const deliveries =
    selected === undefined
      ? []
      : (
          await api.get<{ data: Delivery[] }>(
            `/v1/webhooks/${encodeURIComponent(selected.id)}/deliveries${query({ limit: RECENT_DELIVERIES })}`,
          )
        ).data;

  const root = h("div", { class: "page", "data-page": "webhooks" });
  if (outcome) {
    root.append(
      h(
        "p",
        { class: outcome.ok ? "notice" : "error-state", role: "status", "data-outcome": "" },
        outcome.text,
      ),
    );
  }
  if (created) root.append(secretBox(ctx, created));
  if (admin) root.append(addForm(ctx));
  else {
    root.append(
      h(
        "p",
        { class: "muted", "data-note": "read-only" },
        "This session's key has the read role: it lists endpoints and their deliveries. Adding, testing and deleting endpoints needs an admin key.",
      ),
    );
  }
  root.append(endpointsPanel(ctx, endpoints, selected, admin));
  if (selected) root.append(deliveriesPanel(selected, deliveries));
  return root;
};

function addForm(ctx: PageContext): HTMLElement {
  const url = h("input", {
    id: "webhook-url",
    name: "url",
    type: "url",
    required: true,
    spellcheck: "false",
    autocomplete: "off",
    placeholder: "https://hooks.example.com/driftline",
    value: draft.url,
    oninput: (e: Event) => {
      draft.url = (e.target as HTMLInputElement).value;
    },
  });
  const types = ALERT_TYPE_CHOICES.map((type) =>
    h(
      "label",
      { class: "check" },
      h("input", {
        type: "checkbox",
        name: "types",
        value: type,
        checked: draft.types.has(type),
        onchange: (e: Event) => {
          if ((e.target as HTMLInputElement).checked) draft.types.add(type);
          else draft.types.delete(type);
        },
      }),
      h("code", {}, shortAlertType(type)),
    ),
  );
  const form = h(
    "form",
    {
      id: "webhook-form",
      class: "webhook-form",
      autocomplete: "off",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (busy) return;
        busy = true;
        try {
          const body = { url: draft.url.trim(), types: [...draft.types] };
          created = await api.post<CreatedEndpoint>("/v1/webhooks", body);
          copied = undefined;
          outcome = undefined;
          draft.url = "";
          draft.types.clear();
        } catch (err) {
          outcome = { ok: false, text: `The endpoint was not added: ${message(err)}` };
        } finally {
          busy = false;
        }
        ctx.refresh();
      },
    },
    h("label", { for: "webhook-url" }, "Endpoint URL"),
    h("div", { class: "form-row" }, url, h("button", { type: "submit", class: "primary" }, "Add")),
    h(
      "fieldset",
      { class: "types" },
      h("legend", {}, "Alert types (none ticked: every type)"),
      ...types,
    ),
  );
  return panel("Add an endpoint", form);
}

/** The new endpoint's secret: the one time the API answers it. */
function secretBox(ctx: PageContext, endpoint: CreatedEndpoint): HTMLElement {
  const secret = h("code", { id: "webhook-secret", class: "secret" }, endpoint.secret);
  return h(
    "section",
    { class: "secret-box", role: "alert", "data-endpoint": endpoint.id },
    h("h2", {}, "Signing secret for ", h("span", { class: "url" }, endpoint.url)),
    h(
      "p",
      {},
      h("strong", {}, "Store it now: it is not shown again. "),
      "Verify each delivery's webhook-signature with it (any Standard Webhooks library does). Lost it? Delete the endpoint and add it again.",
    ),
    h(
      "div",
      { class: "form-row" },
      secret,
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          "data-action": "copy-secret",
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(endpoint.secret);
              copied = "yes";
            } catch {
              copied = "failed";
            }
            ctx.refresh();
          },
        },
        copied === "yes" ? "Copied" : "Copy",
      ),
      h(
        "button",
        {
          type: "button",
          class: "primary",
          "data-action": "dismiss-secret",
          onclick: () => {
            created = undefined;
            copied = undefined;
            ctx.refresh();
          },
        },
        "I have stored it",
      ),
    ),
    copied === "failed"
      ? h(
          "p",
          { class: "error" },
          "The browser refused the clipboard: select the secret and copy it.",
        )
      : null,
  );
}

function endpointsPanel(
  ctx: PageContext,
  endpoints: Endpoint[],
  selected: Endpoint | undefined,
  admin: boolean,
): HTMLElement {
  if (endpoints.length === 0) {
    return panel(
      "Endpoints",
      emptyState(
        "No webhook endpoints yet.",
        admin
          ? "Add one above: the tenant's alerts are POSTed to it as signed CloudEvents."
          : "An admin key can add one; the tenant's alerts are then POSTed to it as signed CloudEvents.",
      ),
    );
  }
  const rows = endpoints.map((e) => [
    h("code", { class: "url" }, e.url),
    e.types.length === 0
      ? h("span", { class: "muted" }, "every alert type")
      : h("span", {}, ...e.types.map((t) => h("code", { class: "type" }, shortAlertType(t)))),
    formatTime(e.createdAt),
    h(
      "span",
      { class: "actions" },
      e.id === selected?.id
        ? h("span", { class: "badge ok" }, "deliveries below")
        : h(
            "button",
            {
              type: "button",
              class: "link",
              "data-action": "show-deliveries",
              onclick: () => ctx.go(`#/webhooks/${encodeURIComponent(e.id)}`),
            },
            "Deliveries",
          ),
      admin
        ? h(
            "button",
            {
              type: "button",
              class: "secondary",
              "data-action": "test",
              disabled: busy,
              onclick: async () => {
                if (busy) return;
                busy = true;
                try {
                  outcome = testOutcome(
                    e,
                    await api.post<TestResult>(`/v1/webhooks/${encodeURIComponent(e.id)}/test`),
                  );
                } catch (err) {
                  outcome = { ok: false, text: `The test delivery was not sent: ${message(err)}` };
                } finally {
                  busy = false;
                }
                ctx.go(`#/webhooks/${encodeURIComponent(e.id)}`);
                ctx.refresh();
              },
            },
            "Send test",
          )
        : null,
      admin
        ? h(
            "button",
            {
              type: "button",
              class: "secondary",
              "data-action": "delete",
              onclick: () => {
                confirmingDelete = e;
                holds.add("confirm");
                outcome = undefined;
                ctx.refresh();
              },
            },
            "Delete",
          )
        : null,
    ),
  ]);
  const section = panel(
    `Endpoints · ${endpoints.length}`,
    table(["URL", "Alert types", "Created", ""], rows, "webhooks"),
  );
  if (confirmingDelete && endpoints.some((e) => e.id === confirmingDelete?.id)) {
    section.append(confirmDelete(ctx, confirmingDelete));
  }
  return section;
}

function testOutcome(endpoint: Endpoint, result: TestResult): { ok: boolean; text: string } {
  const code = result.statusCode === undefined ? "" : `HTTP ${result.statusCode}, `;
  return result.delivered
    ? {
        ok: true,
        text: `Test delivery to ${endpoint.url} delivered: ${code}${formatNumber(result.durationMs)} ms.`,
      }
    : {
        ok: false,
        // The error already names the HTTP status when there was one.
        text: `Test delivery to ${endpoint.url} failed: ${result.error ?? "no answer"} (${formatNumber(result.durationMs)} ms).`,
      };
}

function confirmDelete(ctx: PageContext, endpoint: Endpoint): HTMLElement {
  const close = () => {
    confirmingDelete = undefined;
    holds.delete("confirm");
  };
  return confirmDialog({
    label: "Confirm deletion",
    question: [
      `Delete the endpoint ${endpoint.url}? `,
      "It receives nothing more, including retries already queued; its secret cannot be recovered.",
    ],
    confirmText: "Yes, delete it",
    action: "confirm-delete",
    confirm: async () => {
      try {
        await api.delete(`/v1/webhooks/${encodeURIComponent(endpoint.id)}`);
        outcome = { ok: true, text: `Deleted the endpoint ${endpoint.url}.` };
        if (created?.id === endpoint.id) created = undefined;
      } catch (err) {
        outcome = { ok: false, text: `The endpoint was not deleted: ${message(err)}` };
      }
      close();
      ctx.go("#/webhooks");
      ctx.refresh();
    },
    cancel: () => {
      close();
      ctx.refresh();
    },
  });
}

function deliveriesPanel(endpoint: Endpoint, deliveries: Delivery[]): HTMLElement {
  const title = h("span", {}, "Recent deliveries · ", h("code", { class: "url" }, endpoint.url));
  const section = h(
    "section",
    { class: "panel", "data-deliveries": endpoint.id },
    h("h2", {}, title),
  );
  if (deliveries.length === 0) {
    section.append(
      emptyState(
        "No deliveries yet.",
        "Send a test delivery, or wait for an alert of the endpoint's types; each attempt appears here.",
      ),
    );
    return section;
  }
  section.append(
    table(
      ["Attempted", "Event", "Attempt", "Status", "Code", "Duration", "Detail"],
      deliveries.map((d) => [
        formatTime(d.attemptedAt),
        h("code", {}, shortAlertType(d.eventType)),
        formatNumber(d.attempt),
        h(
          "span",
          { class: `badge ${d.status === "delivered" ? "ok" : "bad"}`, "data-status": d.status },
          d.status,
        ),
        d.statusCode === undefined ? "–" : String(d.statusCode),
        `${formatNumber(d.durationMs)} ms`,
        [d.error, d.nextAttemptAt ? `next attempt ${formatTime(d.nextAttemptAt)}` : undefined]
          .filter((x) => x !== undefined)
          .join(" · ") || "–",
      ]),
      "deliveries",
    ),
  );
  return section;
}
