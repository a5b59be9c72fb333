/** `GET /v1/settings/monitoring` and `GET /v1/models/{name}/settings/monitoring`: a tenant's or a model's monitoring settings, with the values they are layered over. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../app-env";
import { errorResponses } from "./error-responses";
import {
  MonitoringSettingsSchema,
  SETTINGS_TAG,
  settingsAnswer,
} from "./monitoring-settings-shared";
import { requireModel } from "./read-model-drift";
import { ModelNameParam, READ_ERRORS, READ_MIDDLEWARE, READ_SECURITY } from "./read-shared";

const ok = {
  200: {
    description: "The settings: what this level sets, what it inherits, what applies",
    content: { "application/json": { schema: MonitoringSettingsSchema } },
  },
};

const tenantRoute = createRoute({
  method: "get",
  path: "/v1/settings/monitoring",
  tags: [SETTINGS_TAG],
  summary: "The tenant's monitoring settings",
  description:
    "Drift thresholds, alert confirmations, retraining policies and conversion events for every model of the tenant: the fields the tenant set (`overrides`), the operator's defaults (`inherited`, the stream processor's MONITORING_* values) and the result (`effective`). Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  responses: { ...ok, ...READ_ERRORS },
});

const modelRoute = createRoute({
  method: "get",
  path: "/v1/models/{name}/settings/monitoring",
  tags: [SETTINGS_TAG],
  summary: "A model's monitoring settings",
  description:
    "The model's own fields (`overrides`) over the tenant's settings (`inherited`), and the result (`effective`). Needs the `read` (or `admin`) role.",
  security: READ_SECURITY,
  middleware: READ_MIDDLEWARE,
  request: { params: z.object({ name: ModelNameParam }) },
  responses: { ...ok, ...errorResponses(404), ...READ_ERRORS },
});

export const getMonitoringSettingsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(tenantRoute, async (c) => {
    const layers = await c.var.reads.monitoringSettings(c.var.auth.tenant, undefined);
    c.header("Cache-Control", "no-store");
    return c.json(settingsAnswer(layers, undefined), 200);
  })
  .openapi(modelRoute, async (c) => {
    const { name } = c.req.valid("param");
    const tenant = c.var.auth.tenant;
    const [layers] = await Promise.all([
      c.var.reads.monitoringSettings(tenant, name),
      requireModel(c.var.reads, tenant, name),
    ]);
    c.header("Cache-Control", "no-store");
    return c.json(settingsAnswer(layers, name), 200);
  });
