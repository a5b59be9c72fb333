/** A version's performance in a batch: final results of the windows whose labels matured, provisional ones of the open windows. */
import { evaluatePerformance, observePerformanceResult } from "#core/monitoring";
import { windowStartMs } from "#core/windows";
import type { ModelKey, MonitoringTransaction, StoredPerformanceResult } from "./monitoring-store";
import {
  type BatchOutcome,
  type EvaluationDeps,
  MAX_WINDOWS_PER_BATCH,
  type VersionRun,
} from "./version-run";

/**
 * Evaluates the version's performance windows whose attribution ended at the watermark, from the
 * cursor on (skipping empty stretches), and moves the cursor past them. A window that matured
 * without a final result loses its provisional one. Returns the results made.
 */
export async function evaluateMaturedWindows(
  deps: EvaluationDeps,
  tx: MonitoringTransaction,
  run: VersionRun,
  watermarkMs: number,
  out: BatchOutcome,
): Promise<number> {
  const { settings, log } = deps;
  const { key, reference } = run;
  const attribution = settings.labels.attributionWindowMs;
  const width = settings.performance.windowMs;
  const maturedAt = watermarkMs - attribution;
  let results = 0;
  for (
    let i = 0;
    i < MAX_WINDOWS_PER_BATCH &&
    run.state.performanceCursorMs !== undefined &&
    run.state.performanceCursorMs + width <= maturedAt;
    i++
  ) {
    const start: number = run.state.performanceCursorMs;
    const started = performance.now();
    const labelled = await tx.labelledBetween(key, start, start + width);
    if (labelled.scores.length > 0) {
      const result = evaluatePerformance(
        { startMs: start, endMs: start + width },
        labelled.scores,
        labelled.labels,
        settings.performance,
      );
      if (result.kind === "evaluated") {
        out.performance.push({
          key,
          result,
          details: {
            attributionWindowMs: attribution,
            baselineAuc: reference?.baselineAuc ?? run.state.observedBaselineAuc ?? null,
            unlabelled: labelled.unlabelled,
          },
        });
        run.take(observePerformanceResult(run.state, result, run.context()));
        results += 1;
        deps.observer?.evaluated("performance", performance.now() - started);
      } else {
        log.debug(
          { ...key, window: result.window, sampleSize: result.sampleSize },
          "too few labelled predictions for a performance result",
        );
      }
    }
    if (!out.performance.some((r) => r.key === key && r.result.window.startMs === start)) {
      // Matured without a final result: a provisional one must not stay as if it were.
      await tx.deleteProvisionalPerformance(key, start, start + width);
    }
    // Next window with predictions in it (skipping empty stretches in one step).
    const next = await tx.firstPredictionFrom(key, start + width);
    run.state.performanceCursorMs =
      next === undefined
        ? Math.max(start + width, windowStartMs(maturedAt, width))
        : Math.max(start + width, windowStartMs(next, width));
  }
  return results;
}

/**
 * Provisional results of the version's open windows, at most every `provisionalIntervalMs`, when
 * the batch `touched` it (conversions of the tenant or new predictions of the version). Returns
 * the results made.
 */
export async function evaluateOpenWindows(
  deps: EvaluationDeps,
  tx: MonitoringTransaction,
  run: VersionRun,
  touched: boolean,
  nowMs: number,
  out: BatchOutcome,
): Promise<number> {
  const interval = deps.settings.performance.provisionalIntervalMs;
  const { state } = run;
  if (
    !(
      interval > 0 &&
      touched &&
      state.performanceCursorMs !== undefined &&
      nowMs - (state.provisionalAtMs ?? Number.NEGATIVE_INFINITY) >= interval
    )
  ) {
    return 0;
  }
  const started = performance.now();
  const provisional = await provisionalResults(
    deps,
    tx,
    run.key,
    state.performanceCursorMs,
    run.reference?.baselineAuc ?? state.observedBaselineAuc ?? null,
  );
  out.performance.push(...provisional);
  state.provisionalAtMs = nowMs;
  if (provisional.length > 0) deps.observer?.evaluated("performance", performance.now() - started);
  return provisional.length;
}

/**
 * Results of the version's open windows (scored at or after `fromMs`, attribution not ended)
 * from the labels known now; windows with fewer than `minSample` predictions get none.
 */
async function provisionalResults(
  deps: EvaluationDeps,
  tx: MonitoringTransaction,
  key: ModelKey,
  fromMs: number,
  baselineAuc: number | null,
): Promise<StoredPerformanceResult[]> {
  const { performance: perf, labels: lab } = deps.settings;
  const soFar = await tx.labelsSoFarFrom(key, fromMs, lab.attributionWindowMs);
  const windows = new Map<number, { scores: number[]; labels: number[] }>();
  for (let i = 0; i < soFar.scores.length; i++) {
    const start = windowStartMs(soFar.predictedAtMs[i] as number, perf.windowMs);
    const w = windows.get(start) ?? { scores: [], labels: [] };
    w.scores.push(soFar.scores[i] as number);
    w.labels.push(soFar.labels[i] as number);
    windows.set(start, w);
  }
  const out: StoredPerformanceResult[] = [];
  for (const [start, w] of [...windows].sort((a, b) => a[0] - b[0])) {
    const result = evaluatePerformance(
      { startMs: start, endMs: start + perf.windowMs },
      w.scores,
      w.labels,
      perf,
    );
    if (result.kind !== "evaluated") continue;
    out.push({
      key,
      result,
      provisional: true,
      details: {
        attributionWindowMs: lab.attributionWindowMs,
        baselineAuc,
        // Not converted yet counts as 0 until the window matures.
        labelledSoFar: true,
      },
    });
  }
  return out;
}
