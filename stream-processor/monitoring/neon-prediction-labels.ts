/** Predictions and their labels (conversion keys, click mappings) on Postgres: stored, labelled and read back for windows. */
import type { WindowRow } from "#core/monitoring";
import { nullableTextArray, numberArray, textArray } from "../db/array-literals";
import { MS, ms, TS } from "../db/epoch-ms-sql";
import type { ScopedQuery } from "../db/timed-query";
import type { LabelRows, ModelKey, MonitoringTransaction, PredictionRow } from "./monitoring-store";

/** The statements on predictions, conversion_keys and click_id_predictions, on the batch's connection. */
export class NeonPredictionLabels
  implements
    Pick<
      MonitoringTransaction,
      | "recentPredictions"
      | "insertPredictions"
      | "recordLabels"
      | "resolveLabels"
      | "predictionsBetween"
      | "labelledBetween"
      | "labelsSoFarFrom"
      | "firstPredictionFrom"
    >
{
  constructor(private readonly run: ScopedQuery) {}

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
      (a, b) => compareText(a.tenant, b.tenant) || compareText(a.predictionId, b.predictionId),
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
}

function toWindowRow(r: {
  features: Record<string, unknown>;
  score: number;
  ms: string;
}): WindowRow {
  return { features: r.features, score: r.score, predictedAtMs: Number(r.ms) };
}

/** Orders strings by `<` (UTF-16 code units): the order the key-ordered statements lock rows in. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
