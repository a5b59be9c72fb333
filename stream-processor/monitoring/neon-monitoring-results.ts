/** Drift and performance results on Postgres: batch inserts, and the removal of a provisional result that matured without a final one. */
import { ms, TS } from "../db/epoch-ms-sql";
import type { ScopedQuery } from "../db/timed-query";
import type {
  ModelKey,
  MonitoringTransaction,
  StoredDriftResult,
  StoredPerformanceResult,
} from "./monitoring-store";

/** The statements on drift_results and performance_results, on the batch's connection. */
export class NeonMonitoringResults
  implements
    Pick<
      MonitoringTransaction,
      "insertDriftResults" | "insertPerformanceResults" | "deleteProvisionalPerformance"
    >
{
  constructor(private readonly run: ScopedQuery) {}

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

  async deleteProvisionalPerformance(key: ModelKey, startMs: number, endMs: number): Promise<void> {
    await this.run(
      "delete_provisional_performance",
      `DELETE FROM performance_results
       WHERE tenant_id = $1 AND model_name = $2 AND version = $3
         AND window_start = ${TS("$4")} AND window_end = ${TS("$5")} AND provisional`,
      [key.tenant, key.model, key.version, ms(startMs), ms(endMs)],
    );
  }
}
