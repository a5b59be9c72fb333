/** Liveness and readiness: `/health` says the isolate runs, `/ready` that its dependencies answer. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";

const DependencyStatus = z.object({
  ok: z.boolean(),
  latencyMs: z.number().optional(),
  message: z.string().optional(),
});

const ReadyBody = z
  .object({
    status: z.enum(["ready", "not-ready"]),
    dependencies: z.record(z.string(), DependencyStatus),
  })
  .openapi("Readiness");

const healthRoute = createRoute({
  method: "get",
  path: "/health",
  tags: ["operations"],
  summary: "Liveness",
  responses: {
    200: {
      description: "The Worker is alive",
      content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
    },
  },
});

const readyRoute = createRoute({
  method: "get",
  path: "/ready",
  tags: ["operations"],
  summary: "Readiness: the model store and Upstash Redis are reachable",
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: ReadyBody } } },
    503: {
      description: "A dependency is down",
      content: { "application/json": { schema: ReadyBody } },
    },
  },
});

export const healthRoutes = new OpenAPIHono<AppEnv>()
  .openapi(healthRoute, (c) => c.json({ status: "ok" as const }, 200))
  .openapi(readyRoute, async (c) => {
    const dependencies = await c.var.services.readiness.check();
    const ok = Object.values(dependencies).every((d) => d.ok);
    return c.json(
      { status: ok ? ("ready" as const) : ("not-ready" as const), dependencies },
      ok ? 200 : 503,
    );
  });
