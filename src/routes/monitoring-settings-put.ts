/** `PUT /v1/settings/monitoring` and `PUT /v1/models/{name}/settings/monitoring`: replaces the fields a tenant or a model sets; the stream processor applies them from its next batch. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import {
  type MonitoringOverrides,
  modelMonitoringOverridesSchema,
  tenantMonitoringOverridesSchema,
} from "#core/monitoring";
import type { AppEnv } from "../app-env";
import { useAuditLog } from "../audit/audit-services";
import { recordAdminAction } from "../audit/record-admin-action";
import { requireKey } from "../auth/require-key";
import { ADMIN_JSON_MAX_BYTES, limitBody } from "../http/body-limit";
import { useReadStore } from "../read-api/use-read-store";
import { errorResponses } from "./error-responses";
import {
  MonitoringSettingsSchema,
  SETTINGS_TAG,
  settingsAnswer,
} from "./monitoring-settings-shared";
import { requireModel } from "./read-model-drift";
import { ModelNameParam, READ_ERRORS, READ_SECURITY } from "./read-shared";

/** Settings change what is alerted and retrained for every model: admin only. */
const ADMIN_MIDDLEWARE: MiddlewareHandler<AppEnv>[] = [
  requireKey("admin"),
  limitBody(() => ADMIN_JSON_MAX_BYTES, "monitoring settings"),
  useReadStore(),
  useAuditLog(),
];

const ok = {
  200: {
    description: "Saved; the stream processor applies them from its next batch",
    content: { "application/json": { schema: MonitoringSettingsSchema } },
  },
};

const HOW =
  "The body replaces this level's fields: a field left out takes the value below (the operator's for the tenant, the tenant's for a model); `{}` clears them all. Retraining fields take `null` to switch that policy off. Needs the `admin` role.";

const tenantRoute = createRoute({
  method: "put",
  path: "/v1/settings/monitoring",
  tags: [SETTINGS_TAG],
  summary: "Set the tenant's monitoring settings",
  description: `Drift thresholds, alert confirmations, retraining policies and conversion events for every model of the tenant. ${HOW}`,
  security: READ_SECURITY,
  middleware: ADMIN_MIDDLEWARE,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          // The core's schema (plain zod) rebuilt with this zod, which carries `.openapi`.
          schema: z
            .object(tenantMonitoringOverridesSchema.shape)
            .strict()
            .openapi("TenantMonitoringSettingsInput", {
              example: {
                drift: { psiThreshold: 0.2 },
                alerts: { confirmations: 2 },
                retrain: { psiAbove: 0.3, psiConsecutive: 3, aucDelta: null },
                conversionEvents: ["Purchase", "Lead"],
              },
            }),
        },
      },
    },
  },
  responses: { ...ok, ...errorResponses(413, 415), ...READ_ERRORS },
});

const modelRoute = createRoute({
  method: "put",
  path: "/v1/models/{name}/settings/monitoring",
  tags: [SETTINGS_TAG],
  summary: "Set a model's monitoring settings",
  description: `Thresholds, confirmations and retraining policies of one model, over the tenant's (conversion events are the tenant's only). ${HOW}`,
  security: READ_SECURITY,
  middleware: ADMIN_MIDDLEWARE,
  request: {
    params: z.object({ name: ModelNameParam }),
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object(modelMonitoringOverridesSchema.shape)
            .strict()
            .openapi("ModelMonitoringSettingsInput", {
              example: { drift: { psiThreshold: 0.3 }, retrain: { psiAbove: null } },
            }),
        },
      },
    },
  },
  responses: { ...ok, ...errorResponses(404, 413, 415), ...READ_ERRORS },
});

async function save(c: Context<AppEnv>, model: string | undefined, overrides: MonitoringOverrides) {
  const tenant = c.var.auth.tenant;
  const layers = await c.var.reads.monitoringSettings(tenant, model);
  // Checked against the levels below before anything is stored (throws a 400 naming the field).
  settingsAnswer(layers, model, {
    overrides,
    stored: { overrides, revision: 0, updatedAtMs: 0 },
  });
  const level = model === undefined ? layers.tenant : layers.model;
  await recordAdminAction(c, {
    action: "monitoring-settings.update",
    target:
      model === undefined ? "monitoring-settings:tenant" : `monitoring-settings:model:${model}`,
    before: level === undefined ? null : { overrides: level.overrides, revision: level.revision },
    after: { overrides },
  });
  const stored = await c.var.reads.saveMonitoringSettings(tenant, model, overrides);
  return settingsAnswer(layers, model, { overrides, stored });
}

export const putMonitoringSettingsRoutes = new OpenAPIHono<AppEnv>()
  .openapi(tenantRoute, async (c) => {
    const answer = await save(c, undefined, c.req.valid("json"));
    c.header("Cache-Control", "no-store");
    return c.json(answer, 200);
  })
  .openapi(modelRoute, async (c) => {
    const { name } = c.req.valid("param");
    await requireModel(c.var.reads, c.var.auth.tenant, name);
    const answer = await save(c, name, c.req.valid("json"));
    c.header("Cache-Control", "no-store");
    return c.json(answer, 200);
  });
