/** The Worker's HTTP application: middleware, routes, OpenAPI document and docs page. */

import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { DriftlineError, errorBody, ValidationError } from "#core/errors";
import type { AppEnv } from "./app-env";
import { consoleRoutes } from "./console/console-routes";
import { docsRoutes } from "./docs/docs-routes";
import { handleError } from "./http/errors";
import { shownContentType } from "./http/shown-content-type";
import { validationHook } from "./http/validation";
import { acknowledgeAlertRoutes } from "./routes/acknowledge-alert";
import { capiRoutes } from "./routes/capi";
import { createDestinationRoutes } from "./routes/destinations-create";
import { listDestinationRoutes } from "./routes/destinations-list";
import { destinationStatsRoutes } from "./routes/destinations-stats";
import { eventRoutes } from "./routes/events";
import { healthRoutes } from "./routes/health";
import { rotateKeyRoutes } from "./routes/keys-rotate";
import { updateKeyRoutes } from "./routes/keys-update";
import { modelRoutes } from "./routes/models";
import { getMonitoringSettingsRoutes } from "./routes/monitoring-settings-get";
import { putMonitoringSettingsRoutes } from "./routes/monitoring-settings-put";
import { privacyErasureRoutes } from "./routes/privacy-erasures";
import { readAlertsRoutes } from "./routes/read-alerts";
import { readAnomaliesRoutes } from "./routes/read-anomalies";
import { readAuditRoutes } from "./routes/read-audit";
import { readHealthScoreRoutes } from "./routes/read-health-score";
import { readMetricsRoutes } from "./routes/read-metrics";
import { readModelDriftRoutes } from "./routes/read-model-drift";
import { readModelExplanationsRoutes } from "./routes/read-model-explanations";
import { readModelPerformanceRoutes } from "./routes/read-model-performance";
import { readRejectionsRoutes } from "./routes/read-rejections";
import { readRetrainingRequestRoutes } from "./routes/read-retraining-request";
import { readRetrainingRequestsRoutes } from "./routes/read-retraining-requests";
import { readTrainingSetRoutes } from "./routes/read-training-set";
import { scoreRoutes } from "./routes/score";
import { sdkRoutes } from "./routes/sdk-script";
import { createWebhookRoutes } from "./routes/webhooks-create";
import { deleteWebhookRoutes } from "./routes/webhooks-delete";
import { webhookDeliveriesRoutes } from "./routes/webhooks-deliveries";
import { listWebhooksRoutes } from "./routes/webhooks-list";
import { testWebhookRoutes } from "./routes/webhooks-test";
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
  app.route("/", scoreRoutes);
  app.route("/", modelRoutes);
  app.route("/", eventRoutes);
  app.route("/", capiRoutes);
  for (const routes of [
    readRejectionsRoutes,
    readMetricsRoutes,
    readModelDriftRoutes,
    readModelPerformanceRoutes,
    readModelExplanationsRoutes,
    readAlertsRoutes,
    acknowledgeAlertRoutes,
    readAnomaliesRoutes,
    readHealthScoreRoutes,
    readRetrainingRequestsRoutes,
    readRetrainingRequestRoutes,
    readTrainingSetRoutes,
    getMonitoringSettingsRoutes,
    putMonitoringSettingsRoutes,
    createWebhookRoutes,
    listWebhooksRoutes,
    deleteWebhookRoutes,
    webhookDeliveriesRoutes,
    testWebhookRoutes,
    createDestinationRoutes,
    listDestinationRoutes,
    destinationStatsRoutes,
    updateKeyRoutes,
    rotateKeyRoutes,
    readAuditRoutes,
    privacyErasureRoutes,
  ]) {
    app.route("/", routes);
  }
  app.route("/", consoleRoutes);
  app.route("/", sdkRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "A Driftline API key (`dl_…`) with the role the route names.",
  });

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Driftline edge API",
      version: API_VERSION,
      description:
        "Score conversion models at the edge, ingest website and Conversions-API events, and read monitoring results (metrics, drift, performance, alerts, retraining requests), and deliver alerts to signed webhooks.",
    },
  });
  app.route("/", docsRoutes);

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
  app.onError((err, c) => handleError(fromHttpException(err, c), c));
  return app;
}

/**
 * The media type a route's body takes, for the 415 message: every JSON route's, except the
 * model upload (multipart). Hono's validator knows it but does not put it in the exception.
 */
function expectedMediaType(c: Context): string {
  return c.req.method === "PUT" &&
    /^\/v1\/models\/[^/]+\/versions\//.test(new URL(c.req.url).pathname)
    ? "multipart/form-data"
    : "application/json";
}

/** Hono's own body checks (malformed JSON, unsupported media type) throw HTTPExceptions. */
function fromHttpException(err: Error, c: Context): Error {
  if (!(err instanceof HTTPException)) return err;
  const where = `${c.req.method} ${new URL(c.req.url).pathname}`;
  if (err.status === 415) {
    const sent = c.req.header("content-type");
    return new DriftlineError(
      "UNSUPPORTED_MEDIA_TYPE",
      `${sent === undefined ? "No Content-Type header was sent" : `Content-Type ${shownContentType(sent)} is not accepted`} to ${where}; send \`Content-Type: ${expectedMediaType(c)}\` (curl: -H 'content-type: ${expectedMediaType(c)}').`,
    );
  }
  if (err.status === 413) return new DriftlineError("PAYLOAD_TOO_LARGE", err.message);
  if (err.status === 400) {
    return new ValidationError(`${err.message} (${where})`, [
      { field: "(body)", message: err.message },
    ]);
  }
  return err;
}
