/** Monitoring's state rows and what a batch reads beside them (watermarks, tenant settings, the last retraining request, registered manifests), on Postgres. */
import type { ModelMonitorState } from "#core/monitoring";
import { MS, ms, TS } from "../db/epoch-ms-sql";
import type { ScopedQuery } from "../db/timed-query";
import type {
  LockedState,
  ModelKey,
  MonitoringTransaction,
  StoredOverrides,
} from "./monitoring-store";
import { compareText } from "./neon-prediction-labels";

/** The statements on monitoring_state and the batch's other reads, on the batch's connection. */
export class NeonMonitoringStates
  implements
    Pick<
      MonitoringTransaction,
      | "lockStates"
      | "dueKeys"
      | "provisionalKeys"
      | "saveState"
      | "maxEventTimes"
      | "monitoringOverrides"
      | "lastRetrainRequestAt"
      | "loadManifest"
    >
{
  constructor(private readonly run: ScopedQuery) {}

  async lockStates(keys: readonly ModelKey[], initial: ModelMonitorState): Promise<LockedState[]> {
    if (keys.length === 0) return [];
    const sorted = sortKeys(keys);
    const cols = [
      sorted.map((k) => k.tenant),
      sorted.map((k) => k.model),
      sorted.map((k) => k.version),
    ];
    await this.run(
      "create_states",
      `INSERT INTO monitoring_state (tenant_id, model_name, version, state)
       SELECT t, m, v, $4::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) AS k(t, m, v)
       ORDER BY t, m, v
       ON CONFLICT DO NOTHING`,
      [...cols, JSON.stringify(initial)],
    );
    const { rows } = await this.run<{
      tenant_id: string;
      model_name: string;
      version: string;
      seq: string;
      state: unknown;
    }>(
      "lock_states",
      `SELECT s.tenant_id, s.model_name, s.version, s.seq::text AS seq, s.state
       FROM monitoring_state s
       JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(t, m, v)
         ON s.tenant_id = k.t AND s.model_name = k.m AND s.version = k.v
       ORDER BY s.tenant_id, s.model_name, s.version
       FOR UPDATE OF s`,
      cols,
    );
    return rows.map((r) => ({
      key: { tenant: r.tenant_id, model: r.model_name, version: r.version },
      seq: Number(r.seq),
      state: r.state,
    }));
  }

  async dueKeys(watermarkMs: ReadonlyMap<string, number>): Promise<ModelKey[]> {
    if (watermarkMs.size === 0) return [];
    const entries = [...watermarkMs];
    const { rows } = await this.run<{ tenant_id: string; model_name: string; version: string }>(
      "due_keys",
      `SELECT s.tenant_id, s.model_name, s.version
       FROM unnest($1::text[], $2::bigint[]) AS w(t, ms)
       JOIN monitoring_state s ON s.tenant_id = w.t AND s.next_due_at <= ${TS("w.ms")}`,
      [entries.map(([t]) => t), entries.map(([, v]) => ms(v))],
    );
    return rows.map((r) => ({ tenant: r.tenant_id, model: r.model_name, version: r.version }));
  }

  async provisionalKeys(tenants: readonly string[], notSinceMs: number): Promise<ModelKey[]> {
    const { rows } = await this.run<{ tenant_id: string; model_name: string; version: string }>(
      "provisional_keys",
      `SELECT tenant_id, model_name, version FROM monitoring_state
       WHERE tenant_id = ANY($1::text[]) AND next_due_at IS NOT NULL
         AND coalesce((state->>'provisionalAtMs')::float8, '-Infinity') <= $2::float8`,
      [tenants, notSinceMs],
    );
    return rows.map((r) => ({ tenant: r.tenant_id, model: r.model_name, version: r.version }));
  }

  async saveState(
    key: ModelKey,
    state: ModelMonitorState,
    nextDueMs: number | undefined,
  ): Promise<void> {
    await this.run(
      "save_state",
      `UPDATE monitoring_state
         SET seq = seq + 1, state = $4::jsonb, updated_at = now(),
             next_due_at = CASE WHEN $5::bigint IS NULL THEN NULL ELSE ${TS("$5")} END
       WHERE tenant_id = $1 AND model_name = $2 AND version = $3`,
      [
        key.tenant,
        key.model,
        key.version,
        JSON.stringify(state),
        nextDueMs === undefined ? null : ms(nextDueMs),
      ],
    );
  }

  async maxEventTimes(tenants: readonly string[]): Promise<Map<string, number>> {
    if (tenants.length === 0) return new Map();
    const { rows } = await this.run<{ tenant_id: string; ms: string }>(
      "max_event_times",
      `SELECT tenant_id, ${MS("max_event_time")} AS ms FROM event_time_watermarks
       WHERE tenant_id = ANY($1::text[])`,
      [tenants],
    );
    return new Map(rows.map((r) => [r.tenant_id, Number(r.ms)]));
  }

  async monitoringOverrides(tenants: readonly string[]): Promise<StoredOverrides[]> {
    if (tenants.length === 0) return [];
    const { rows } = await this.run<{
      tenant_id: string;
      model_name: string;
      revision: string;
      overrides: unknown;
    }>(
      "monitoring_overrides",
      `SELECT tenant_id, model_name, revision::text AS revision, overrides
       FROM monitoring_settings WHERE tenant_id = ANY($1::text[])`,
      [tenants],
    );
    return rows.map((r) => ({
      tenant: r.tenant_id,
      model: r.model_name,
      revision: Number(r.revision),
      overrides: r.overrides,
    }));
  }

  async lastRetrainRequestAt(tenant: string, model: string): Promise<number | undefined> {
    const { rows } = await this.run<{ ms: string | null }>(
      "last_retrain_request",
      `SELECT ${MS("max(requested_at)")} AS ms FROM retrain_requests
       WHERE tenant_id = $1 AND model_name = $2`,
      [tenant, model],
    );
    const v = rows[0]?.ms;
    return v === null || v === undefined ? undefined : Number(v);
  }

  async loadManifest(key: ModelKey): Promise<unknown | undefined> {
    const { rows } = await this.run<{ manifest: Record<string, unknown>; reference_bins: unknown }>(
      "load_manifest",
      `SELECT manifest, reference_bins FROM model_versions
       WHERE tenant_id = $1 AND model_name = $2 AND version = $3`,
      [key.tenant, key.model, key.version],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    // reference_bins is the reference frozen at upload; it wins over the manifest's copy.
    return row.reference_bins === null || row.reference_bins === undefined
      ? row.manifest
      : { ...row.manifest, reference: row.reference_bins };
  }
}

function sortKeys(keys: readonly ModelKey[]): ModelKey[] {
  const unique = new Map(keys.map((k) => [`${k.tenant}\u0000${k.model}\u0000${k.version}`, k]));
  return [...unique.values()].sort(
    (a, b) =>
      compareText(a.tenant, b.tenant) ||
      compareText(a.model, b.model) ||
      compareText(a.version, b.version),
  );
}
