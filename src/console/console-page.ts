/** The console's one HTML document: the sign-in form or the app shell, with no inline script. */

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!,
  );

export function consolePage(options: {
  view: "sign-in" | "app";
  script: string;
  stylesheet: string;
  tenant?: string;
}): string {
  const assets = "/dashboard/assets/";
  const body =
    options.view === "sign-in"
      ? `<main class="signin">
  <h1><span class="logo">◆</span> Driftline</h1>
  <p>Sign in with an API key that has the <code>read</code> or <code>admin</code> role.</p>
  <form id="signin-form" method="post" action="/dashboard/session" autocomplete="off">
    <label for="api-key">API key</label>
    <input id="api-key" name="key" type="password" placeholder="dl_…" required spellcheck="false">
    <button type="submit">Sign in</button>
    <p id="signin-error" class="error" role="alert" hidden></p>
  </form>
  <p class="hint">Create one with <code>npm run keys:create -- --tenant &lt;id&gt; --roles read</code>.
  The key is exchanged for a signed session cookie and is not stored in the browser.</p>
</main>`
      : `<header class="top">
  <a class="brand" href="#/overview"><span class="logo">◆</span> Driftline</a>
  <nav id="nav">
    <a href="#/overview">Overview</a><a href="#/models">Models</a><a href="#/drift">Drift</a>
    <a href="#/performance">Performance</a><a href="#/alerts">Alerts</a><a href="#/health">Health</a>
    <a href="#/retraining">Retraining</a><a href="#/webhooks">Webhooks</a>
    <a href="#/settings">Settings</a>
  </nav>
  <span class="who">tenant <strong id="tenant">${escapeHtml(options.tenant ?? "")}</strong>
  <span id="live" class="live" title="updates every few seconds">live</span>
  <button id="sign-out" type="button" class="link">Sign out</button></span>
</header>
<main id="view" aria-live="polite"></main>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Driftline console</title>
<link rel="stylesheet" href="${assets}${options.stylesheet}">
<script type="module" src="${assets}${options.script}"></script>
</head>
<body data-view="${options.view}">
${body}
</body>
</html>
`;
}
