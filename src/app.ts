/** The Worker's HTTP application: middleware, routes, OpenAPI document and docs page. */

import { swaggerUI } from "@hono/swagger-ui";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./app-env";
import { errorBody, handleError } from "./http/errors";
import { validationHook } from "./http/validation";
import { healthRoutes } from "./routes/health";
import type { Services } from "./services";

export const API_VERSION = "0.1.0";

/**
 * Builds the app around a service factory, so tests hand in fakes and the Worker entry hands in
 * adapters built from its bindings. The factory runs once per request and should be cheap.
 */
export function createApp(buildServices: (c: { env: unknown }) => Services) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use("*", async (c, next) => {
    const requestId = c.req.header("cf-ray") ?? crypto.randomUUID();
    c.set("requestId", requestId);
    c.header("X-Request-Id", requestId);
    await next();
  });
  app.use("*", async (c, next) => {
    c.set("services", buildServices({ env: c.env }));
    await next();
  });

  app.route("/", healthRoutes);

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Driftline edge API",
      version: API_VERSION,
      description:
        "Score conversion models at the edge and ingest website and Conversions-API events.",
    },
  });
  app.get("/docs", swaggerUI({ url: "/openapi.json" }));

  app.notFound((c) =>
    c.json(
      errorBody(
        "NOT_FOUND",
        `No route for ${c.req.method} ${new URL(c.req.url).pathname}; see /docs.`,
        c.get("requestId") ?? "unknown",
      ),
      404,
    ),
  );
  app.onError(handleError);
  return app;
}
