/** A version's drift in a batch: the sliding window over its fresh predictions, and the hourly windows the watermark closed. */
import {
  driftResultRows,
  type EvaluatedWindow,
  evaluateModelDrift,
  type ModelDriftEvaluation,
  type ModelReference,
  type MonitoringSettings,
  monitoringId,
  observeDriftEvaluation,
  PredictionWindow,
  type WindowRow,
} from "#core/monitoring";
import { HOUR_MS, windowStartMs } from "#core/windows";
import type { MonitoringTransaction, PredictionRow } from "./monitoring-store";
import {
  type BatchOutcome,
  type EvaluationDeps,
  MAX_WINDOWS_PER_BATCH,
  type VersionRun,
} from "./version-run";

/**
 * Takes the version's fresh predictions in: the first starts its performance cursor; on a
 * monitored version each joins the sliding window (evaluated every `stride` predictions once it
 * holds `minSample`) and opens its hour. Returns the sliding evaluations made.
 */
export function slideWindow(
  deps: EvaluationDeps,
  run: VersionRun,
  fresh: readonly PredictionRow[],
  window: PredictionWindow | undefined,
  out: BatchOutcome,
): number {
  const { settings } = deps;
  const { key, reference } = run;
  let evaluations = 0;
  for (const row of fresh) {
    if (run.state.performanceCursorMs === undefined) {
      run.state.performanceCursorMs = windowStartMs(
        row.predictedAtMs,
        settings.performance.windowMs,
      );
    }
    if (!run.monitored || reference === undefined || window === undefined) continue;
    window.push(row);
    run.state.sinceEvaluation += 1;
    if (settings.hourly.enabled) openHour(run, windowStartMs(row.predictedAtMs, HOUR_MS));
    if (
      window.size >= settings.sliding.minSample &&
      run.state.sinceEvaluation >= settings.sliding.stride
    ) {
      const started = performance.now();
      const range = window.timeRange() as { startMs: number; endMs: number };
      const evaluation = evaluateModelDrift(
        reference,
        (c) => window.columnValues(c.name),
        { kind: "sliding", startMs: range.startMs, endMs: range.endMs + 1, size: window.size },
        run.own.settings.drift,
      );
      const step = observeDriftEvaluation(
        { ...run.state, sinceEvaluation: 0 },
        evaluation,
        run.context(),
      );
      run.take(step);
      evaluations += 1;
      for (const r of driftResultRows(evaluation)) {
        out.drift.push({ key, evaluationId: step.evaluationId, window: evaluation.window, row: r });
      }
      deps.observer?.slidingDrift(key, evaluation);
      deps.observer?.evaluated("sliding", performance.now() - started);
    }
  }
  return evaluations;
}

/** Marks the hour starting at `h` open, unless it was closed already. */
function openHour(run: VersionRun, h: number): void {
  const { state } = run;
  if (h >= (state.hourlyClosedBeforeMs ?? Number.NEGATIVE_INFINITY) && !state.openHours.includes(h))
    state.openHours.push(h);
}

/**
 * Evaluates the version's open hours that ended at or before the watermark, oldest first, from
 * the stored predictions, and closes them. Returns the hourly evaluations made.
 */
export async function closeHours(
  deps: EvaluationDeps,
  tx: MonitoringTransaction,
  run: VersionRun,
  watermarkMs: number,
  out: BatchOutcome,
): Promise<number> {
  const { settings } = deps;
  const { key, reference } = run;
  if (reference === undefined) return 0;
  let evaluations = 0;
  const closing = run.state.openHours
    .filter((h) => h + HOUR_MS <= watermarkMs)
    .sort((a, b) => a - b);
  for (const h of closing.slice(0, MAX_WINDOWS_PER_BATCH)) {
    const started = performance.now();
    const rows = await tx.predictionsBetween(key, h, h + HOUR_MS, settings.hourly.maxRows);
    if (rows.length > 0) {
      const hourWindow: EvaluatedWindow = {
        kind: "hourly",
        startMs: h,
        endMs: h + HOUR_MS,
        size: rows.length,
      };
      const evaluation = evaluateRows(reference, rows, hourWindow, run.own.settings);
      const evaluationId = monitoringId("evaluation", key, 0, `hourly:${h}`);
      for (const r of driftResultRows(evaluation)) {
        out.drift.push({ key, evaluationId, window: hourWindow, row: r });
      }
      evaluations += 1;
      deps.observer?.evaluated("hourly", performance.now() - started);
    }
    run.state.openHours = run.state.openHours.filter((x) => x !== h);
    run.state.hourlyClosedBeforeMs = Math.max(
      run.state.hourlyClosedBeforeMs ?? Number.NEGATIVE_INFINITY,
      h + HOUR_MS,
    );
  }
  return evaluations;
}

/** Drift of stored rows (an hour) without keeping a sliding window for them. */
function evaluateRows(
  reference: ModelReference,
  rows: readonly WindowRow[],
  window: EvaluatedWindow,
  settings: MonitoringSettings,
): ModelDriftEvaluation {
  const w = new PredictionWindow(reference.windowColumns, Math.max(1, rows.length));
  for (const r of rows) w.push(r);
  return evaluateModelDrift(reference, (c) => w.columnValues(c.name), window, settings.drift);
}
