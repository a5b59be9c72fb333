/** The operations routes every Node service of the program serves: /health, /ready, /metrics. */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Context, Hono, Next } from "hono";
import { errorBody } from "#core/errors";

export interface ReadinessCheck {
  ok: boolean;
  message?: string;
}

export interface OpsDeps {
  /** Named checks (database, kafka); /ready answers 503 unless all are ok. */
  readiness: () => Promise<Record<string, ReadinessCheck>>;
  /** The Prometheus exposition. */
  prometheus: () => Promise<{ contentType: string; body: string }>;
  /** Bearer token /metrics and /ready require; undefined leaves them open (loopback only). */
  opsToken?: string | undefined;
}

type Env = { Variables: { requestId: string } };

/** Registers the routes on `app` (which sets the request id). */
export function registerOpsRoutes<E extends Env>(app: Hono<E>, deps: OpsDeps): void {
  app.get("/health", (c) => c.json({ status: "ok" }));

  // /metrics and /ready name tenants' models and features, and the service's internals: with an
  // ops token they answer only to it (/health stays open: it says alive and nothing else).
  const opsOnly = async (c: Context<E>, next: Next) => {
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
}

/** Constant-time comparison of `Authorization: Bearer <token>` with the expected token. */
function bearerMatches(header: string | undefined, expected: string): boolean {
  const sent = /^Bearer\s+(.+)$/i.exec(header ?? "")?.[1]?.trim() ?? "";
  const a = createHash("sha256").update(sent).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
