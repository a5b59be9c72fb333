/** The stream processor's HTTP API (Hono): health, readiness, Prometheus metrics, tenant metrics. */
import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, Hono, type Next } from "hono";
import { requestId } from "hono/request-id";
import type { Logger } from "pino";
import { errorBody, isDriftlineError, STATUS_BY_CODE, ValidationError } from "#core/errors";
import type { Clock } from "../clock/clock";
import type { MetricsReader } from "../db/metrics-reader";
import type { ApiKeyRole, ApiKeyStore } from "./api-key-store";
import { createApiKeyAuthenticator } from "./authenticate-api-key";
import { readMetrics } from "./metrics-route";

export interface ReadinessCheck {
  ok: boolean;
  message?: string;
}

export interface ApiDeps {
  reader: MetricsReader;
  keys: ApiKeyStore;
  clock: Clock;
  log: Logger;
  /** Named checks (database, kafka); /ready answers 503 unless all are ok. */
  readiness: () => Promise<Record<string, ReadinessCheck>>;
  /** The Prometheus exposition. */
  prometheus: () => Promise<{ contentType: string; body: string }>;
  readRoles: readonly ApiKeyRole[];
  keyCacheTtlMs: number;
  maxRows: number;
  allowedLatenessMs: number;
  /** Bearer token /metrics and /ready require; undefined leaves them open (loopback only). */
  opsToken?: string | undefined;
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

  app.get("/health", (c) => c.json({ status: "ok" }));

  // /metrics and /ready name tenants' models and features, and the processor's internals: with
  // an ops token they answer only to it (/health stays open: it says alive and nothing else).
  const opsOnly = async (c: Context<Env>, next: Next) => {
    if (
      deps.opsToken !== undefined &&
      !bearerMatches(c.req.header("Authorization"), deps.opsToken)
    ) {
      c.header("WWW-Authenticate", 'Bearer realm="driftline-ops"');
      return c.json(
        errorBody(
          "UNAUTHENTICATED",
          "Send Authorization: Bearer <STREAM_OPS_TOKEN> for /metrics and /ready.",
          c.get("requestId"),
        ),
        401,
      );
    }
    await next();
  };
  app.use("/ready", opsOnly);
  app.use("/metrics", opsOnly);

  app.get("/ready", async (c) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every((check) => check.ok);
    return c.json({ status: ready ? "ready" : "not ready", checks }, ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const { contentType, body } = await deps.prometheus();
    return c.body(body, 200, { "Content-Type": contentType });
  });

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

/** Constant-time comparison of `Authorization: Bearer <token>` with the expected token. */
function bearerMatches(header: string | undefined, expected: string): boolean {
  const sent = /^Bearer\s+(.+)$/i.exec(header ?? "")?.[1]?.trim() ?? "";
  const a = createHash("sha256").update(sent).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
