/**
 * Monitoring settings inside workerd against real Postgres (the test schema, through the local
 * relay) and real Redis for keys: defaults, layering, validation, roles and tenant isolation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "./read-db";
import { createKey, type ErrorJson, testApp, uniqueTenant } from "./support";

const MODEL = "conversion";

interface Settings {
  scope: string;
  overrides: Record<string, unknown>;
  inherited: { drift: { psiThreshold: number }; conversionEvents: string[] } & Record<
    string,
    Record<string, unknown>
  >;
  effective: {
    drift: { psiThreshold: number; ksAlpha: number };
    alerts: { confirmations: number };
    retrain: { psiAbove: number | null; aucDelta: number | null; cooldownMs: number };
    conversionEvents: string[];
  };
  revision: number;
  defaultsFrom: string;
}

interface TenantKeys {
  tenant: string;
  admin: string;
  read: string;
}

/** The tenant has the model: a promoted version. */
async function hasModel(tenant: string, model: string): Promise<void> {
  await sql(
    `INSERT INTO model_pointers (tenant_id, model_name, champion, promoted_at)
     VALUES ($1, $2, '1', now())`,
    [tenant, model],
  );
}

async function seedTenant(label: string): Promise<TenantKeys> {
  const tenant = uniqueTenant(label);
  await sql("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
  await hasModel(tenant, MODEL);
  return {
    tenant,
    admin: await createKey(tenant, ["admin"]),
    read: await createKey(tenant, ["read"]),
  };
}

describe("monitoring settings", () => {
  const app = testApp();
  let acme: TenantKeys;
  let globex: TenantKeys;

  const call = async (method: string, path: string, key: string, json?: unknown) => {
    const res = await app.fetch(path, { method, key, ...(json === undefined ? {} : { json }) });
    return { status: res.status, body: (await res.json()) as Settings & ErrorJson };
  };

  beforeAll(async () => {
    acme = await seedTenant("acme");
    globex = await seedTenant("globex");
  }, 60_000);

  it("answers the operator's defaults before anything is set", async () => {
    const { status, body } = await call("GET", "/v1/settings/monitoring", acme.read);
    expect(status).toBe(200);
    expect(body).toMatchObject({ scope: "tenant", overrides: {}, revision: 0 });
    expect(body.effective).toEqual(body.inherited);
    expect(body.effective.drift.psiThreshold).toBeGreaterThan(0);
    expect(body.effective.conversionEvents.length).toBeGreaterThan(0);
  });

  it("stores a tenant's fields over the defaults and a model's over the tenant's", async () => {
    const put = await call("PUT", "/v1/settings/monitoring", acme.admin, {
      drift: { psiThreshold: 0.12 },
      alerts: { confirmations: 3 },
      retrain: { aucDelta: null },
      conversionEvents: ["Purchase", "Lead"],
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      revision: 1,
      overrides: { drift: { psiThreshold: 0.12 } },
      effective: {
        drift: { psiThreshold: 0.12 },
        alerts: { confirmations: 3 },
        retrain: { aucDelta: null },
        conversionEvents: ["Purchase", "Lead"],
      },
    });
    const model = await call("PUT", `/v1/models/${MODEL}/settings/monitoring`, acme.admin, {
      drift: { psiThreshold: 0.4 },
    });
    expect(model.status).toBe(200);
    expect(model.body).toMatchObject({
      scope: "model",
      revision: 1,
      inherited: { drift: { psiThreshold: 0.12 } },
      effective: { drift: { psiThreshold: 0.4 }, alerts: { confirmations: 3 } },
    });
    const read = await call("GET", `/v1/models/${MODEL}/settings/monitoring`, acme.read);
    expect(read.body.effective).toEqual(model.body.effective);
    const stored = await sql(
      "SELECT model_name, revision::int AS revision FROM monitoring_settings WHERE tenant_id = $1 ORDER BY 1",
      [acme.tenant],
    );
    expect(stored).toEqual([
      { model_name: "", revision: 1 },
      { model_name: MODEL, revision: 1 },
    ]);
    const again = await call("PUT", "/v1/settings/monitoring", acme.admin, {});
    expect(again.body).toMatchObject({ revision: 2, overrides: {} });
    expect(again.body.effective).toEqual(again.body.inherited);
  });

  it.each([
    [{ drift: { psiThreshold: -0.1 } }, "drift.psiThreshold"],
    [{ drift: { ksAlpha: 2 } }, "drift.ksAlpha"],
    [{ alerts: { confirmations: 0 } }, "alerts.confirmations"],
    [{ retrain: { psiConsecutive: 2.5 } }, "retrain.psiConsecutive"],
    [{ conversionEvents: [] }, "conversionEvents"],
    [{ windowSize: 5 }, "(body)"],
  ])("refuses %j with a 400 naming %s, storing nothing", async (body, field) => {
    const res = await call("PUT", "/v1/settings/monitoring", globex.admin, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("VALIDATION");
    expect(res.body.error.details?.issues?.map((d) => d.field)).toContain(field);
    const rows = await sql("SELECT 1 FROM monitoring_settings WHERE tenant_id = $1", [
      globex.tenant,
    ]);
    expect(rows).toEqual([]);
  });

  it("refuses conversion events on a model and an unknown model", async () => {
    const events = await call("PUT", `/v1/models/${MODEL}/settings/monitoring`, globex.admin, {
      conversionEvents: ["Lead"],
    });
    expect(events.status).toBe(400);
    expect(events.body.error.message).toContain("conversionEvents");
    const unknown = await call("PUT", "/v1/models/nope/settings/monitoring", globex.admin, {});
    expect(unknown.status).toBe(404);
  });

  it("needs admin to change settings; read may look", async () => {
    const put = await call("PUT", "/v1/settings/monitoring", acme.read, {});
    expect(put.status).toBe(403);
    const score = await createKey(acme.tenant, ["score"]);
    expect((await call("GET", "/v1/settings/monitoring", score)).status).toBe(403);
  });

  // Every settings route × a foreign tenant's key: never the other tenant's values.
  it("keeps tenants apart on every settings route", async () => {
    await call("PUT", "/v1/settings/monitoring", acme.admin, { drift: { psiThreshold: 0.07 } });
    await call("PUT", `/v1/models/${MODEL}/settings/monitoring`, acme.admin, {
      alerts: { confirmations: 9 },
    });
    const tenantView = await call("GET", "/v1/settings/monitoring", globex.read);
    expect(tenantView.body.effective.drift.psiThreshold).not.toBe(0.07);
    expect(tenantView.body.revision).toBe(0);
    const modelView = await call("GET", `/v1/models/${MODEL}/settings/monitoring`, globex.read);
    expect(modelView.status).toBe(200);
    expect(modelView.body.effective.alerts.confirmations).not.toBe(9);
    expect(modelView.body.revision).toBe(0);
    // globex writes its own levels; acme's stay as they were.
    await call("PUT", "/v1/settings/monitoring", globex.admin, { drift: { psiThreshold: 0.33 } });
    await call("PUT", `/v1/models/${MODEL}/settings/monitoring`, globex.admin, {
      alerts: { confirmations: 2 },
    });
    const acmeModel = await call("GET", `/v1/models/${MODEL}/settings/monitoring`, acme.read);
    expect(acmeModel.body.effective).toMatchObject({
      drift: { psiThreshold: 0.07 },
      alerts: { confirmations: 9 },
    });
    // A model only the other tenant has is unknown here.
    const other = uniqueTenant("initech");
    await sql("INSERT INTO tenants (tenant_id) VALUES ($1)", [other]);
    await hasModel(other, "secret-model");
    expect(
      (await call("GET", "/v1/models/secret-model/settings/monitoring", acme.read)).status,
    ).toBe(404);
    expect(
      (await call("PUT", "/v1/models/secret-model/settings/monitoring", acme.admin, {})).status,
    ).toBe(404);
  });
});
