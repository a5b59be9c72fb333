/** `/docs`: Swagger UI for /openapi.json, its script and stylesheet served by the Worker itself (works offline). */
import { Hono } from "hono";
import swaggerUiCss from "swagger-ui-dist/swagger-ui.css";
import swaggerUiBundle from "swagger-ui-dist/swagger-ui-bundle.js";
import type { AppEnv } from "../app-env";
import { CONSOLE_CSP } from "../console/security-headers";
import { securityHeaders } from "../http/security-headers";

/** The pinned swagger-ui-dist version (package.json); part of the asset URLs, so caches never mix. */
export const SWAGGER_UI_VERSION = "5.35.0";
const ASSETS = `/docs/assets/${SWAGGER_UI_VERSION}`;
/** Not under the versioned path: it is ours and may change without Swagger UI changing. */
const INIT_PATH = "/docs/swagger-init.js";

/**
 * Swagger UI 5 runs under the console's strict policy: its bundle needs no eval (the
 * `Function("return this")` fallbacks in it are never reached where `globalThis` exists) and it
 * sets element styles through the DOM (allowed), not through inline style elements, so neither
 * `'unsafe-inline'` nor `'unsafe-eval'` is granted. The start-up call lives in its own file for
 * the same reason. Fetches ("Try it out", /openapi.json) stay on this origin; its stylesheet's
 * icons are data: URLs.
 */
export const DOCS_CSP = CONSOLE_CSP;

// validatorUrl: null keeps the page from calling validator.swagger.io.
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null });
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Driftline edge API</title>
<link rel="stylesheet" href="${ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${ASSETS}/swagger-ui-bundle.js"></script>
<script src="${INIT_PATH}"></script>
</body>
</html>`;

/** Versioned URLs never change content, so browsers may keep them for a year. */
const IMMUTABLE = "public, max-age=31536000, immutable";

export const docsRoutes = new Hono<AppEnv>()
  .use("/docs", securityHeaders({ contentSecurityPolicy: DOCS_CSP }))
  .use("/docs/*", securityHeaders({ contentSecurityPolicy: DOCS_CSP }))
  .get("/docs", (c) => c.html(PAGE))
  .get(INIT_PATH, (c) =>
    c.body(INIT_SCRIPT, 200, {
      "Content-Type": "text/javascript; charset=utf-8",
      "Cache-Control": "no-cache",
    }),
  )
  .get(`${ASSETS}/swagger-ui-bundle.js`, (c) =>
    c.body(swaggerUiBundle, 200, {
      "Content-Type": "text/javascript; charset=utf-8",
      "Cache-Control": IMMUTABLE,
    }),
  )
  .get(`${ASSETS}/swagger-ui.css`, (c) =>
    c.body(swaggerUiCss, 200, {
      "Content-Type": "text/css; charset=utf-8",
      "Cache-Control": IMMUTABLE,
    }),
  );
