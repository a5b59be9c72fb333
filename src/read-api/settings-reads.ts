/** Monitoring settings: the operator's stored values and the tenant's and a model's levels. */
import type { MonitoringSettingsLayers, StoredMonitoringSettings } from "./read-store";
import { MS, type QueryRows, type Row } from "./sql-rows";

const SETTINGS_LAYERS_SQL = `
  SELECT 'level' AS kind, model_name, overrides, revision::text AS revision,
    ${MS("updated_at")} AS updated_ms
  FROM monitoring_settings WHERE tenant_id = $1 AND model_name = ANY($2::text[])
  UNION ALL
  SELECT 'operator', '', settings, '0', ${MS("updated_at")} FROM monitoring_settings_defaults`;

const SAVE_SETTINGS_SQL = `
  INSERT INTO monitoring_settings (tenant_id, model_name, overrides, revision, updated_at)
  VALUES ($1, $2, $3::jsonb, 1, now())
  ON CONFLICT (tenant_id, model_name) DO UPDATE
    SET overrides = EXCLUDED.overrides, revision = monitoring_settings.revision + 1,
        updated_at = now()
  RETURNING overrides, revision::text AS revision, ${MS("updated_at")} AS updated_ms`;

export async function monitoringSettings(
  query: QueryRows,
  tenant: string,
  model: string | undefined,
): Promise<MonitoringSettingsLayers> {
  const rows = await query(SETTINGS_LAYERS_SQL, [tenant, model === undefined ? [""] : ["", model]]);
  const layers: MonitoringSettingsLayers = {
    operator: undefined,
    tenant: undefined,
    model: undefined,
  };
  for (const r of rows) {
    if (r.kind === "operator") {
      layers.operator = { settings: r.overrides, updatedAtMs: Number(r.updated_ms) };
    } else if (r.model_name === "") layers.tenant = storedSettings(r);
    else layers.model = storedSettings(r);
  }
  return layers;
}

export async function saveMonitoringSettings(
  query: QueryRows,
  tenant: string,
  model: string | undefined,
  overrides: Record<string, unknown>,
): Promise<StoredMonitoringSettings> {
  const [row] = await query(SAVE_SETTINGS_SQL, [tenant, model ?? "", JSON.stringify(overrides)]);
  return storedSettings(row as Row);
}

function storedSettings(r: Row): StoredMonitoringSettings {
  return {
    overrides: (r.overrides as Record<string, unknown> | null) ?? {},
    revision: Number(r.revision),
    updatedAtMs: Number(r.updated_ms),
  };
}
