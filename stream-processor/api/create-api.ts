/** The stream processor's HTTP API (Hono): health, readiness, Prometheus metrics, tenant metrics. */
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { Logger } from "pino";
import { errorBody, isDriftlineError, STATUS_BY_CODE, ValidationError } from "#core/errors";
import type { Clock } from "../clock/clock";
import type { MetricsReader } from "../db/metrics-reader";
import type { ApiKeyRole, ApiKeyStore } from "./api-key-store";
import { createApiKeyAuthenticator } from "./authenticate-api-key";
import { readMetrics } from "./metrics-route";
import { type OpsDeps, registerOpsRoutes } from "./ops-routes";

export type { ReadinessCheck } from "./ops-routes";

export interface ApiDeps extends OpsDeps {
  reader: MetricsReader;
  keys: ApiKeyStore;
  clock: Clock;
  log: Logger;
  readRoles: readonly ApiKeyRole[];
  keyCacheTtlMs: number;
  maxRows: number;
  allowedLatenessMs: number;
}

type Env = { Variables: { requestId: string } };

export function createApi(deps: ApiDeps): Hono<Env> {
  const app = new Hono<Env>();
  const authenticate = createApiKeyAuthenticator({
    store: deps.keys,
    clock: deps.clock,
    cacheTtlMs: deps.keyCacheTtlMs,
    requiredRoles: deps.readRoles,
  });

  app.use(requestId());

  registerOpsRoutes(app, deps);

  app.get("/v1/metrics", async (c) => {
    const started = deps.clock.nowMs();
    const key = await authenticate(c.req.header("Authorization"));
    const body = await readMetrics(
      {
        reader: deps.reader,
        nowMs: () => deps.clock.nowMs(),
        allowedLatenessMs: deps.allowedLatenessMs,
        maxRows: deps.maxRows,
      },
      key.tenantId,
      c.req.query(),
    );
    deps.log.info(
      {
        requestId: c.get("requestId"),
        tenant: key.tenantId,
        keyId: key.keyId,
        rows: body.windows.length,
        durationMs: deps.clock.nowMs() - started,
      },
      "GET /v1/metrics",
    );
    return c.json(body);
  });

  app.notFound((c) =>
    c.json(
      errorBody("NOT_FOUND", `No route ${c.req.method} ${c.req.path}.`, c.get("requestId")),
      404,
    ),
  );

  app.onError((err, c) => {
    const id = c.get("requestId") ?? "unknown";
    if (isDriftlineError(err)) {
      const details =
        err instanceof ValidationError && err.issues.length > 0
          ? { issues: err.issues }
          : undefined;
      if (STATUS_BY_CODE[err.code] >= 500) deps.log.error({ requestId: id, err }, err.message);
      const headers: Record<string, string> =
        err.code === "UNAUTHENTICATED" ? { "WWW-Authenticate": 'Bearer realm="driftline"' } : {};
      return c.json(
        errorBody(err.code, err.message, id, details),
        STATUS_BY_CODE[err.code],
        headers,
      );
    }
    deps.log.error({ requestId: id, err }, "unhandled error in the API");
    return c.json(
      errorBody("INTERNAL", "Internal error; quote the requestId when reporting it.", id),
      500,
    );
  });

  return app;
}
