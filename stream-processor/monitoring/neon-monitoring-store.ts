/** MonitoringTransaction on Postgres (set-based SQL over the Neon serverless driver, or any pg-compatible connection). */

import type { Alert, ModelMonitorState, RetrainRequest, WindowRow } from "#core/monitoring";
import { NeonAlertQueue } from "../alerts/neon-alert-queue";
import { nullableTextArray, numberArray, textArray } from "../db/array-literals";
import { MS, ms, TS } from "../db/epoch-ms-sql";
import {
  type Queryable,
  type QueryTimer,
  type ScopedQuery,
  scopedQuery,
  timedStatement,
} from "../db/timed-query";
import type {
  LabelRows,
  LockedState,
  ModelKey,
  MonitoringTransaction,
  OpenMonitoring,
  PredictionRow,
  StoredDriftResult,
  StoredOverrides,
  StoredPerformanceResult,
} from "./monitoring-store";

type Timer = QueryTimer;

/** Opens monitoring's repository on a batch transaction's connection. */
export function openNeonMonitoring(timer: Timer = () => {}): OpenMonitoring {
  return (tx) => new NeonMonitoringTransaction(tx.sql, timer);
}

/** The transaction-scoped store: every statement runs on the batch's own connection. */
export class NeonMonitoringTransaction implements MonitoringTransaction {
  private readonly run: ScopedQuery;
  private readonly queue: NeonAlertQueue;

  constructor(db: Queryable, timer: Timer = () => {}) {
    this.run = scopedQuery(db, timer, "monitoring");
    // The webhook plan names its own statement; it is timed like the rest of monitoring's.
    const planning: Queryable = {
      query: <R>(c: { name?: string; text: string; values?: unknown[] }) =>
        timedStatement<R>(
          db,
          timer,
          "monitoring_plan_webhooks",
          { name: c.name ?? "driftline_monitoring_plan_webhooks", text: c.text },
          c.values,
        ),
    };
    this.queue = new NeonAlertQueue(this.run, planning);
  }

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

  async recentPredictions(key: ModelKey, limit: number): Promise<WindowRow[]> {
    const { rows } = await this.run<{
      features: Record<string, unknown>;
      score: number;
      ms: string;
    }>(
      "recent_predictions",
      `SELECT features, score, ${MS("predicted_at")} AS ms FROM predictions
       WHERE tenant_id = $1 AND model_name = $2 AND version = $3
       ORDER BY predicted_at DESC, prediction_id DESC LIMIT $4`,
      [key.tenant, key.model, key.version, limit],
    );
    return rows.reverse().map(toWindowRow);
  }

  async insertPredictions(rows: readonly PredictionRow[]): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    // Key order, so that concurrent batches take their row locks in the same order.
    const sorted = [...rows].sort(
      (a, b) => cmp(a.tenant, b.tenant) || cmp(a.predictionId, b.predictionId),
    );
    const { rows: inserted } = await this.run<{ tenant_id: string; prediction_id: string }>(
      "insert_predictions",
      `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, entity_id, score,
         features, reasons, predicted_at)
       SELECT t, p, m, v, e, s, f::jsonb, r::jsonb, ${TS("ms")}
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[],
                   $7::text[], $8::text[], $9::bigint[]) AS d(t, p, m, v, e, s, f, r, ms)
       ON CONFLICT (tenant_id, prediction_id) DO NOTHING
       RETURNING tenant_id, prediction_id`,
      // Array literals built in one pass: a batch of predictions can hold ~20,000 rows, and the
      // driver's generic serializer took longer than the insert itself.
      [
        textArray(sorted.map((r) => r.tenant)),
        textArray(sorted.map((r) => r.predictionId)),
        textArray(sorted.map((r) => r.model)),
        textArray(sorted.map((r) => r.version)),
        nullableTextArray(sorted.map((r) => r.entityId)),
        numberArray(sorted.map((r) => r.score)),
        textArray(sorted.map((r) => JSON.stringify(r.features))),
        nullableTextArray(
          sorted.map((r) => (r.reasons === undefined ? undefined : JSON.stringify(r.reasons))),
        ),
        numberArray(sorted.map((r) => ms(r.predictedAtMs))),
      ],
    );
    return new Set(inserted.map((r) => `${r.tenant_id}\u0000${r.prediction_id}`));
  }

  async recordLabels(rows: LabelRows, attributionWindowMs: number): Promise<void> {
    const keys = rows.conversionKeys;
    if (keys.length > 0) {
      await this.run(
        "insert_conversion_keys",
        `INSERT INTO conversion_keys (tenant_id, key_kind, key, event_name, event_id, event_time)
         SELECT t, k, c, n, i, ${TS("ms")}
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
           AS d(t, k, c, n, i, ms)
         ORDER BY t, k, c, n, i
         ON CONFLICT DO NOTHING`,
        [
          keys.map((k) => k.tenant),
          keys.map((k) => k.kind),
          keys.map((k) => k.key),
          keys.map((k) => k.eventName),
          keys.map((k) => k.eventId),
          keys.map((k) => ms(k.eventTimeMs)),
        ],
      );
      const direct = keys.filter((k) => k.kind === "prediction");
      if (direct.length > 0) {
        // Positive right away when the prediction is known; otherwise (it arrives later, or
        // the conversion is outside the window) the final label comes from resolveLabels.
        // "Not labelled yet" is tested on labelled_at (NULL exactly when label is, by the
        // table's CHECK): with `label IS NULL` the planner may walk the partial index
        // predictions_unlabelled, every unlabelled prediction of the tenant for each conversion
        // (0.3-0.7 s a batch at 100k predictions), instead of one primary-key lookup.
        await this.run(
          "label_direct",
          `UPDATE predictions p
             SET label = true, labelled_at = now(), label_event_id = d.i
           FROM (SELECT DISTINCT ON (t, c) t, c, i, ms
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS x(t, c, i, ms)
                 ORDER BY t, c, ms) AS d
           WHERE p.tenant_id = d.t AND p.prediction_id = d.c AND p.labelled_at IS NULL
             AND ${TS("d.ms")} <= p.predicted_at + $5::bigint * interval '1 millisecond'`,
          [
            direct.map((k) => k.tenant),
            direct.map((k) => k.key),
            direct.map((k) => k.eventId),
            direct.map((k) => ms(k.eventTimeMs)),
            ms(attributionWindowMs),
          ],
        );
      }
    }
    const maps = rows.clickMappings;
    if (maps.length > 0) {
      await this.run(
        "insert_click_mappings",
        `INSERT INTO click_id_predictions (tenant_id, prediction_id, click_id)
         SELECT t, p, c FROM unnest($1::text[], $2::text[], $3::text[]) AS d(t, p, c)
         ORDER BY t, p, c
         ON CONFLICT DO NOTHING`,
        [maps.map((m) => m.tenant), maps.map((m) => m.predictionId), maps.map((m) => m.clickId)],
      );
    }
  }

  async resolveLabels(
    tenant: string,
    maturedAtMs: number,
    attributionWindowMs: number,
  ): Promise<number> {
    const result = await this.run(
      "resolve_labels",
      `WITH due AS (
         SELECT p.prediction_id, p.predicted_at FROM predictions p
         WHERE p.tenant_id = $1 AND p.label IS NULL AND p.predicted_at <= ${TS("$2")}
       ), hit AS (
         SELECT d.prediction_id, COALESCE(
           (SELECT ck.event_id FROM conversion_keys ck
            WHERE ck.tenant_id = $1 AND ck.key_kind = 'prediction' AND ck.key = d.prediction_id
              AND ck.event_time <= d.predicted_at + $3::bigint * interval '1 millisecond'
            ORDER BY ck.event_time LIMIT 1),
           (SELECT ck.event_id FROM click_id_predictions m
            JOIN conversion_keys ck ON ck.tenant_id = $1 AND ck.key_kind = 'click' AND ck.key = m.click_id
            WHERE m.tenant_id = $1 AND m.prediction_id = d.prediction_id
              AND ck.event_time <= d.predicted_at + $3::bigint * interval '1 millisecond'
            ORDER BY ck.event_time LIMIT 1)
         ) AS event_id
         FROM due d
       )
       UPDATE predictions p
         SET label = (h.event_id IS NOT NULL), labelled_at = now(), label_event_id = h.event_id
       FROM hit h
       WHERE p.tenant_id = $1 AND p.prediction_id = h.prediction_id`,
      [tenant, ms(maturedAtMs), ms(attributionWindowMs)],
    );
    return result.rowCount ?? 0;
  }

  async predictionsBetween(
    key: ModelKey,
    startMs: number,
    endMs: number,
    maxRows: number,
  ): Promise<WindowRow[]> {
    // md5 order: a fixed, id-determined subsample when the hour holds more than maxRows.
    const { rows } = await this.run<{
      features: Record<string, unknown>;
      score: number;
      ms: string;
    }>(
      "predictions_between",
      `SELECT features, score, ${MS("predicted_at")} AS ms FROM predictions
       WHERE tenant_id = $1 AND model_name = $2 AND version = $3
         AND predicted_at >= ${TS("$4")} AND predicted_at < ${TS("$5")}
       ORDER BY md5(prediction_id) LIMIT $6`,
      [key.tenant, key.model, key.version, ms(startMs), ms(endMs), maxRows],
    );
    return rows.map(toWindowRow);
  }

  async labelledBetween(
    key: ModelKey,
    startMs: number,
    endMs: number,
  ): Promise<{ scores: number[]; labels: number[]; unlabelled: number }> {
    const { rows } = await this.run<{ score: number; label: boolean | null }>(
      "labelled_between",
      `SELECT score, label FROM predictions
       WHERE tenant_id = $1 AND model_name = $2 AND version = $3
         AND predicted_at >= ${TS("$4")} AND predicted_at < ${TS("$5")}`,
      [key.tenant, key.model, key.version, ms(startMs), ms(endMs)],
    );
    const scores: number[] = [];
    const labels: number[] = [];
    let unlabelled = 0;
    for (const r of rows) {
      if (r.label === null) {
        unlabelled++;
        continue;
      }
      scores.push(r.score);
      labels.push(r.label ? 1 : 0);
    }
    return { scores, labels, unlabelled };
  }

  async labelsSoFarFrom(
    key: ModelKey,
    fromMs: number,
    attributionWindowMs: number,
  ): Promise<{ scores: number[]; labels: number[]; predictedAtMs: number[] }> {
    // The same match as resolveLabels, without writing: a conversion by the prediction's id or
    // by a click id mapped to it, within its attribution window.
    const { rows } = await this.run<{ score: number; hit: boolean; ms: string }>(
      "labels_so_far_from",
      `SELECT p.score, ${MS("p.predicted_at")} AS ms,
         coalesce(p.label, false) OR EXISTS (
           SELECT 1 FROM conversion_keys ck
           WHERE ck.tenant_id = $1 AND ck.key_kind = 'prediction' AND ck.key = p.prediction_id
             AND ck.event_time <= p.predicted_at + $5::bigint * interval '1 millisecond')
         OR EXISTS (
           SELECT 1 FROM click_id_predictions m
           JOIN conversion_keys ck ON ck.tenant_id = $1 AND ck.key_kind = 'click' AND ck.key = m.click_id
           WHERE m.tenant_id = $1 AND m.prediction_id = p.prediction_id
             AND ck.event_time <= p.predicted_at + $5::bigint * interval '1 millisecond') AS hit
       FROM predictions p
       WHERE p.tenant_id = $1 AND p.model_name = $2 AND p.version = $3
         AND p.predicted_at >= ${TS("$4")}`,
      [key.tenant, key.model, key.version, ms(fromMs), ms(attributionWindowMs)],
    );
    return {
      scores: rows.map((r) => r.score),
      labels: rows.map((r) => (r.hit ? 1 : 0)),
      predictedAtMs: rows.map((r) => Number(r.ms)),
    };
  }

  async deleteProvisionalPerformance(key: ModelKey, startMs: number, endMs: number): Promise<void> {
    await this.run(
      "delete_provisional_performance",
      `DELETE FROM performance_results
       WHERE tenant_id = $1 AND model_name = $2 AND version = $3
         AND window_start = ${TS("$4")} AND window_end = ${TS("$5")} AND provisional`,
      [key.tenant, key.model, key.version, ms(startMs), ms(endMs)],
    );
  }

  async firstPredictionFrom(key: ModelKey, fromMs: number): Promise<number | undefined> {
    const { rows } = await this.run<{ ms: string | null }>(
      "first_prediction_from",
      `SELECT ${MS("min(predicted_at)")} AS ms FROM predictions
       WHERE tenant_id = $1 AND model_name = $2 AND version = $3 AND predicted_at >= ${TS("$4")}`,
      [key.tenant, key.model, key.version, ms(fromMs)],
    );
    const v = rows[0]?.ms;
    return v === null || v === undefined ? undefined : Number(v);
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

  async insertDriftResults(rows: readonly StoredDriftResult[]): Promise<void> {
    if (rows.length === 0) return;
    await this.run(
      "insert_drift_results",
      `INSERT INTO drift_results (tenant_id, model_name, version, feature, test, value, p_value,
         band, is_drift, bins, reference_size, current_size, window_kind, window_start, window_end,
         evaluation_id, details)
       SELECT t, m, v, f, x, val, p, b, d, bins::jsonb, rs, cs, wk, ${TS("ws")}, ${TS("we")}, e,
         det::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[],
         $7::float8[], $8::text[], $9::boolean[], $10::text[], $11::bigint[], $12::bigint[],
         $13::text[], $14::bigint[], $15::bigint[], $16::text[], $17::text[])
         AS r(t, m, v, f, x, val, p, b, d, bins, rs, cs, wk, ws, we, e, det)
       ON CONFLICT DO NOTHING`,
      [
        rows.map((r) => r.key.tenant),
        rows.map((r) => r.key.model),
        rows.map((r) => r.key.version),
        rows.map((r) => r.row.feature),
        rows.map((r) => r.row.test),
        // Rounding can leave a statistic a hair outside its range; the table checks the range.
        rows.map((r) => Math.max(0, r.row.value)),
        rows.map((r) => (r.row.pValue === null ? null : Math.min(1, Math.max(0, r.row.pValue)))),
        rows.map((r) => r.row.band),
        rows.map((r) => r.row.isDrift),
        rows.map((r) => (r.row.bins === null ? null : JSON.stringify(r.row.bins))),
        rows.map((r) => Math.max(1, Math.round(r.row.referenceSize))),
        rows.map((r) => r.row.currentSize),
        rows.map((r) => r.window.kind),
        rows.map((r) => ms(r.window.startMs)),
        rows.map((r) => ms(r.window.endMs)),
        rows.map((r) => r.evaluationId ?? null),
        rows.map((r) => JSON.stringify({ ...r.row.details, windowSize: r.window.size })),
      ],
    );
  }

  async insertPerformanceResults(rows: readonly StoredPerformanceResult[]): Promise<void> {
    if (rows.length === 0) return;
    await this.run(
      "insert_performance_results",
      `INSERT INTO performance_results (tenant_id, model_name, version, window_start, window_end,
         sample_size, positive_count, auc, log_loss, brier, calibration, details, provisional)
       SELECT t, m, v, ${TS("ws")}, ${TS("we")}, n, pos, auc, ll, br, cal::jsonb, det::jsonb, prov
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
         $7::bigint[], $8::float8[], $9::float8[], $10::float8[], $11::text[], $12::text[],
         $13::boolean[])
         AS r(t, m, v, ws, we, n, pos, auc, ll, br, cal, det, prov)
       -- A provisional row is replaced in place (same id) by a newer provisional or the final
       -- result; a final row stays as it is (a replayed batch cannot change it).
       ON CONFLICT (tenant_id, model_name, version, window_start, window_end) DO UPDATE SET
         sample_size = excluded.sample_size, positive_count = excluded.positive_count,
         auc = excluded.auc, log_loss = excluded.log_loss, brier = excluded.brier,
         calibration = excluded.calibration, details = excluded.details,
         provisional = excluded.provisional, evaluated_at = now()
       WHERE performance_results.provisional`,
      [
        rows.map((r) => r.key.tenant),
        rows.map((r) => r.key.model),
        rows.map((r) => r.key.version),
        rows.map((r) => ms(r.result.window.startMs)),
        rows.map((r) => ms(r.result.window.endMs)),
        rows.map((r) => r.result.sampleSize),
        rows.map((r) => r.result.positiveCount),
        rows.map((r) => r.result.auc),
        rows.map((r) => r.result.logLoss),
        rows.map((r) => r.result.brier),
        rows.map((r) => JSON.stringify(r.result.calibration)),
        rows.map((r) =>
          JSON.stringify({
            expectedCalibrationError: r.result.expectedCalibrationError,
            logLossEpsilon: r.result.logLossEpsilon,
            calibrationBins: r.result.calibrationBins,
            ...r.details,
          }),
        ),
        rows.map((r) => r.provisional === true),
      ],
    );
  }

  insertAlerts(alerts: readonly Alert[], operatorSinks: readonly string[]): Promise<number> {
    return this.queue.insertAlerts(alerts, operatorSinks);
  }

  insertRetrainRequests(requests: readonly RetrainRequest[], nowMs: number): Promise<number> {
    return this.queue.insertRetrainRequests(requests, nowMs);
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

function toWindowRow(r: {
  features: Record<string, unknown>;
  score: number;
  ms: string;
}): WindowRow {
  return { features: r.features, score: r.score, predictedAtMs: Number(r.ms) };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortKeys(keys: readonly ModelKey[]): ModelKey[] {
  const unique = new Map(keys.map((k) => [`${k.tenant}\u0000${k.model}\u0000${k.version}`, k]));
  return [...unique.values()].sort(
    (a, b) => cmp(a.tenant, b.tenant) || cmp(a.model, b.model) || cmp(a.version, b.version),
  );
}
