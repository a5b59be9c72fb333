/** A tiny element builder: text is always set as text, never parsed as HTML. */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "object" ? child : String(child));
  }
}

/**
 * An in-page confirmation of a destructive action: the question, a danger button that runs
 * `confirm`, and Cancel, which runs `cancel`. Buttons carry `data-action` for tests.
 */
export function confirmDialog(options: {
  label: string;
  question: Child[];
  confirmText: string;
  action: string;
  confirm: () => Promise<void>;
  cancel: () => void;
}): HTMLElement {
  return h(
    "div",
    { class: "confirm", role: "dialog", "aria-label": options.label },
    h("p", {}, ...options.question),
    h(
      "button",
      { type: "button", class: "danger", "data-action": options.action, onclick: options.confirm },
      options.confirmText,
    ),
    h("button", { type: "button", class: "secondary", onclick: options.cancel }, "Cancel"),
  );
}

/** A section with a heading, for one panel of a page. */
export function panel(title: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "panel" }, h("h2", {}, title), ...children);
}

/** A clear empty state: what is missing and how to make it appear. */
export function emptyState(what: string, how: Child): HTMLElement {
  return h("div", { class: "empty" }, h("strong", {}, what), h("p", {}, how));
}

export function errorState(message: string): HTMLElement {
  return h("div", { class: "error-state", role: "alert" }, message);
}

export function formatNumber(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return n.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function formatTime(iso: string | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  return `${d.toLocaleDateString("en-CA")} ${d.toLocaleTimeString("en-GB")}`;
}

export function table(headers: string[], rows: Child[][], cls = ""): HTMLTableElement {
  return h(
    "table",
    { class: `grid ${cls}` },
    h("thead", {}, h("tr", {}, ...headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
  );
}

export function stat(label: string, value: string, hint?: string): HTMLElement {
  return h(
    "div",
    { class: "stat" },
    h("span", { class: "stat-label" }, label),
    h("span", { class: "stat-value" }, value),
    hint ? h("span", { class: "stat-hint" }, hint) : null,
  );
}
