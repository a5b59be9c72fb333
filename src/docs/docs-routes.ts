/** `/docs`: Swagger UI for /openapi.json, its script and stylesheet served by the Worker itself (works offline). */
import { Hono } from "hono";
import swaggerUiCss from "swagger-ui-dist/swagger-ui.css";
import swaggerUiBundle from "swagger-ui-dist/swagger-ui-bundle.js";
import type { AppEnv } from "../app-env";

/** The pinned swagger-ui-dist version (package.json); part of the asset URLs, so caches never mix. */
export const SWAGGER_UI_VERSION = "5.35.0";
const ASSETS = `/docs/assets/${SWAGGER_UI_VERSION}`;

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
<script>
  // validatorUrl: null keeps the page from calling validator.swagger.io.
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null });
</script>
</body>
</html>`;

/** Versioned URLs never change content, so browsers may keep them for a year. */
const IMMUTABLE = "public, max-age=31536000, immutable";

export const docsRoutes = new Hono<AppEnv>()
  .get("/docs", (c) => c.html(PAGE))
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
