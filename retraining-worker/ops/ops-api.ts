/**
 * The retraining worker's HTTP API (Hono), for operators: /health, /ready, Prometheus /metrics,
 * and the automation controls — list a tenant's requests, cancel one, roll a challenger back,
 * approve a waiting decision, pause or resume automation and set the approval mode per tenant
 * and model. With RETRAIN_OPS_TOKEN set, everything but /health needs it as a bearer token.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, Hono, type Next } from "hono";
import { requestId } from "hono/request-id";
import type { Logger } from "pino";
import { z } from "zod";
import {
  ConflictError,
  errorBody,
  isDriftlineError,
  NotFoundError,
  STATUS_BY_CODE,
  ValidationError,
} from "#core/errors";
import { canMoveTo, isFinalStatus, retrainingAlert } from "#core/retraining";
import { IDENTIFIER_PATTERN } from "#core/scoring";
import type { RetrainingStore } from "../db/retraining-store";

export interface OpsApiDeps {
  store: RetrainingStore;
  log: Logger;
  readiness: () => Promise<Record<string, { ok: boolean; message?: string }>>;
  prometheus: () => Promise<{ contentType: string; body: string }>;
  opsToken?: string;
  alertSource: string;
  operatorSinks: readonly string[];
  /** Wakes the job runner after a command. */
  wake: () => void;
}

type Env = { Variables: { requestId: string } };

const SettingsBody = z
  .strictObject({
    paused: z.boolean().optional(),
    approval: z.enum(["auto", "manual"]).optional(),
  })
  .refine((b) => b.paused !== undefined || b.approval !== undefined, {
    message: "send paused (true|false) and/or approval (auto|manual)",
  });

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = header?.startsWith("Bearer ") ? header.slice(7) : "";
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
}

function tenantOf(c: Context<Env>): string {
  const tenant = c.req.param("tenant") ?? "";
  if (!IDENTIFIER_PATTERN.test(tenant)) {
    throw new ValidationError(`"${tenant}" is not a tenant id`, [
      { field: "tenant", message: "letters, digits, . _ - (max 64)" },
    ]);
  }
  return tenant;
}

export function createOpsApi(deps: OpsApiDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.use(requestId());
  app.get("/health", (c) => c.json({ status: "ok" }));

  app.use("*", async (c: Context<Env>, next: Next) => {
    if (
      deps.opsToken !== undefined &&
      !bearerMatches(c.req.header("Authorization"), deps.opsToken)
    ) {
      c.header("WWW-Authenticate", 'Bearer realm="driftline-ops"');
      return c.json(
        errorBody(
          "UNAUTHENTICATED",
          "Send the ops token: Authorization: Bearer <RETRAIN_OPS_TOKEN>.",
          c.get("requestId"),
        ),
        401,
      );
    }
    return next();
  });

  app.get("/ready", async (c) => {
    const checks = await deps.readiness();
    const ok = Object.values(checks).every((v) => v.ok);
    return c.json({ status: ok ? "ready" : "not-ready", checks }, ok ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const { contentType, body } = await deps.prometheus();
    return c.body(body, 200, { "content-type": contentType });
  });

  app.get("/v1/tenants/:tenant/retraining-requests", async (c) => {
    const limit = Math.min(1000, Math.max(1, Number(c.req.query("limit") ?? 100) || 100));
    return c.json({ data: await deps.store.listJobs(tenantOf(c), limit) });
  });

  const jobOf = async (c: Context<Env>) => {
    const tenant = tenantOf(c);
    const id = c.req.param("id") ?? "";
    const job = await deps.store.getJob(tenant, id);
    if (job === undefined) {
      throw new NotFoundError(
        `Tenant "${tenant}" has no retraining request "${id}" that the worker consumed.`,
      );
    }
    return job;
  };

  app.post("/v1/tenants/:tenant/retraining-requests/:id/cancel", async (c) => {
    const job = await jobOf(c);
    if (job.status === "challenger") {
      throw new ConflictError(
        "The candidate already serves as challenger; roll it back instead: POST …/rollback.",
      );
    }
    if (
      isFinalStatus(job.status) ||
      !canMoveTo(job.status === "open" ? "requested" : job.status, "cancelled")
    ) {
      throw new ConflictError(
        `The request is ${job.status}; only unfinished requests can be cancelled.`,
      );
    }
    const reason = "cancelled by an operator";
    const moved = await deps.store.transition(
      {
        tenant: job.tenant,
        requestId: job.requestId,
        from: job.status,
        to: "cancelled",
        reason,
        evidence: { previous: job.status },
        done: true,
        alert: retrainingAlert({
          tenant: job.tenant,
          requestId: job.requestId,
          model: job.model,
          version: job.state.candidateVersion ?? job.version,
          step: "cancelled",
          reason,
          evidence: { previous: job.status },
          timeMs: Date.now(),
          source: deps.alertSource,
        }),
      },
      deps.operatorSinks,
    );
    if (!moved) throw new ConflictError("The request changed status meanwhile; look again.");
    return c.json({ id: job.requestId, status: "cancelled" });
  });

  for (const command of ["rollback", "approve"] as const) {
    app.post(`/v1/tenants/:tenant/retraining-requests/:id/${command}`, async (c) => {
      const job = await jobOf(c);
      if (job.status !== "challenger") {
        throw new ConflictError(
          `The request is ${job.status}; ${command === "rollback" ? "only a serving challenger can be rolled back" : "only a challenger's decision can be approved"}.`,
        );
      }
      if (command === "approve" && job.state.pendingDecision === undefined) {
        throw new ConflictError(
          "No decision waits for approval yet; the online test is still running.",
        );
      }
      await deps.store.command(job.tenant, job.requestId, command);
      deps.wake();
      return c.json({ id: job.requestId, status: job.status, command }, 202);
    });
  }

  app.put("/v1/tenants/:tenant/retraining-settings/:model", async (c) => {
    const tenant = tenantOf(c);
    const model = c.req.param("model");
    if (model !== "*" && !IDENTIFIER_PATTERN.test(model)) {
      throw new ValidationError(`"${model}" is not a model name (or * for every model)`, [
        { field: "model", message: "letters, digits, . _ - (max 64), or *" },
      ]);
    }
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      throw new ValidationError("The body is not JSON", [{ field: "(body)", message: "not JSON" }]);
    }
    const parsed = SettingsBody.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        field: i.path.map(String).join(".") || "(body)",
        message: i.message,
      }));
      throw new ValidationError(
        `Invalid settings: ${issues.map((i) => `${i.field} ${i.message}`).join("; ")}`,
        issues,
      );
    }
    const settings = await deps.store.putSettings(tenant, model, parsed.data);
    deps.wake();
    return c.json({ tenant, model, ...settings });
  });

  app.notFound((c) =>
    c.json(
      errorBody("NOT_FOUND", `No route ${c.req.method} ${c.req.path}.`, c.get("requestId")),
      404,
    ),
  );
  app.onError((err, c) => {
    if (isDriftlineError(err)) {
      return c.json(
        errorBody(
          err.code,
          err.message,
          c.get("requestId"),
          "issues" in err ? (err as ValidationError).issues : undefined,
        ),
        STATUS_BY_CODE[err.code],
      );
    }
    deps.log.error({ err, requestId: c.get("requestId") }, "ops API request failed");
    return c.json(
      errorBody("INTERNAL", "Internal error; see the worker's log.", c.get("requestId")),
      500,
    );
  });
  return app;
}
