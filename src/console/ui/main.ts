/** The console's entry: the sign-in form, or the hash-routed pages refreshed every few seconds. */
import { ApiError, api, type SessionInfo, useCsrfToken } from "./api";
import { drawPendingCharts } from "./charts";
import { errorState, h } from "./dom";
import { holds, type Page, type PageContext } from "./page";
import { alertsPage } from "./pages/alerts";
import { driftPage } from "./pages/drift";
import { healthPage } from "./pages/health";
import { modelsPage } from "./pages/models";
import { overviewPage } from "./pages/overview";
import { performancePage } from "./pages/performance";
import { retrainingPage } from "./pages/retraining";
import { settingsPage } from "./pages/settings";
import { webhooksPage } from "./pages/webhooks";

const REFRESH_MS = 3_000;

const PAGES: Record<string, Page> = {
  overview: overviewPage,
  models: modelsPage,
  drift: driftPage,
  performance: performancePage,
  alerts: alertsPage,
  health: healthPage,
  retraining: retrainingPage,
  webhooks: webhooksPage,
  settings: settingsPage,
};

function startSignIn(): void {
  const form = document.getElementById("signin-form") as HTMLFormElement;
  const input = document.getElementById("api-key") as HTMLInputElement;
  const error = document.getElementById("signin-error") as HTMLElement;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const res = await fetch("/dashboard/session", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ key: input.value.trim() }),
    }).catch(() => undefined);
    if (res?.ok) {
      // The key is not kept: the cookie stands for it from now on.
      input.value = "";
      location.replace("/dashboard#/overview");
      location.reload();
      return;
    }
    const body = (await res?.json().catch(() => undefined)) as
      | { error?: { message?: string } }
      | undefined;
    error.textContent = body?.error?.message ?? "Sign-in failed; is the Worker running?";
    error.hidden = false;
  });
}

async function startApp(): Promise<void> {
  const view = document.getElementById("view") as HTMLElement;
  const live = document.getElementById("live") as HTMLElement;
  let session: SessionInfo;
  try {
    session = await api.get<SessionInfo>("/dashboard/session");
  } catch {
    location.reload();
    return;
  }
  useCsrfToken(session.csrfToken);
  (document.getElementById("tenant") as HTMLElement).textContent = session.tenant;

  document.getElementById("sign-out")?.addEventListener("click", async () => {
    await api.delete("/dashboard/session").catch(() => undefined);
    location.replace("/dashboard");
  });

  let rendering = false;
  let again = false;
  const route = () => {
    const [name = "overview", ...params] = location.hash.replace(/^#\/?/, "").split("/");
    return { name: name in PAGES ? name : "overview", params: params.map(decodeURIComponent) };
  };

  const render = async (): Promise<void> => {
    if (rendering) {
      again = true;
      return;
    }
    rendering = true;
    const { name, params } = route();
    const ctx: PageContext = {
      session,
      params,
      refresh: () => void render(),
      go: (hash) => {
        location.hash = hash;
      },
    };
    for (const a of document.querySelectorAll<HTMLAnchorElement>("#nav a")) {
      a.classList.toggle("active", a.getAttribute("href") === `#/${name}`);
    }
    try {
      const content = await PAGES[name]!(ctx);
      const scrollY = window.scrollY;
      view.replaceChildren(content);
      drawPendingCharts();
      window.scrollTo(0, scrollY);
      live.classList.remove("stale");
      live.textContent = `live · ${new Date().toLocaleTimeString("en-GB")}`;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        // The key was revoked or the session expired: back to the sign-in form.
        await api.delete("/dashboard/session").catch(() => undefined);
        location.replace("/dashboard");
        return;
      }
      live.classList.add("stale");
      live.textContent = "not updating";
      const message = err instanceof Error ? err.message : String(err);
      const hint =
        err instanceof ApiError && err.status === 404
          ? " (this Worker does not serve that read route yet)"
          : "";
      view.replaceChildren(
        h("div", { class: "page" }, errorState(`Could not load this page: ${message}${hint}`)),
      );
    } finally {
      rendering = false;
      if (again) {
        again = false;
        void render();
      }
    }
  };

  window.addEventListener("hashchange", () => {
    holds.clear();
    void render();
  });
  await render();
  setInterval(() => {
    const focused = document.activeElement;
    const editing = focused instanceof HTMLSelectElement || focused instanceof HTMLInputElement;
    if (holds.size === 0 && !editing && document.visibilityState === "visible") void render();
  }, REFRESH_MS);
}

if (document.body.dataset.view === "sign-in") startSignIn();
else void startApp();
