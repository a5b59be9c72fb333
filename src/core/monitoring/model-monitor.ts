/** The monitoring state machine of one model version: drift and performance levels, alerts on every change, retraining requests. */

import { sha256Hex } from "../events/sha256-hex.ts";
import { ALERT_TYPES, type AlertType, buildCloudEvent, type CloudEvent } from "./cloud-event.ts";
import type { DriftLevel, EvaluatedWindow, ModelDriftEvaluation } from "./evaluate-model-drift.ts";
import type { PerformanceResult } from "./evaluate-performance.ts";
import type { MonitoringSettings } from "./monitoring-settings.ts";
import { SCORE_COLUMN } from "./prediction-window.ts";
import {
  cooldownRemainingMs,
  type PolicyEvidence,
  type PolicyObservation,
  type PolicyState,
  type RetrainPolicy,
} from "./retrain-policies.ts";

export type PerformanceLevel = "ok" | "degraded";

/** A level plus the candidate level waiting for its confirmations. */
export interface LevelState<L extends string> {
  level: L;
  pending?: { level: L; count: number };
}

/** Everything monitoring remembers about one model version between batches (plain JSON, stored durably). */
export interface ModelMonitorState {
  schemaVersion: 1;
  /** Predictions added to the sliding window since its last evaluation. */
  sinceEvaluation: number;
  /** Sliding evaluations so far (numbers evaluation ids). */
  evaluations: number;
  /** Alerts emitted so far (numbers alert ids). */
  alerts: number;
  /** Retraining requests opened so far (numbers request ids). */
  requests: number;
  /** Drift level per monitored column (absent = stable). */
  drift: Record<string, LevelState<DriftLevel>>;
  performance: LevelState<PerformanceLevel>;
  /** Baseline AUC when the manifest has none: the first evaluated window's. */
  observedBaselineAuc?: number;
  /** Name of the policy the state belongs to; a different policy starts from scratch. */
  policyName?: string;
  policy: PolicyState;
  /** Starts (epoch ms) of scoring-time hours with predictions whose hourly drift is not evaluated yet. */
  openHours: number[];
  /** Hours starting before this (epoch ms) are evaluated: late predictions for them are not added. */
  hourlyClosedBeforeMs?: number;
  /** Start (epoch ms) of the first performance window not evaluated yet. */
  performanceCursorMs?: number;
  /** When (processing time, epoch ms) provisional results of open windows were last written. */
  provisionalAtMs?: number;
}

export function initialMonitorState(): ModelMonitorState {
  return {
    schemaVersion: 1,
    sinceEvaluation: 0,
    evaluations: 0,
    alerts: 0,
    requests: 0,
    drift: {},
    performance: { level: "ok" },
    policy: {},
    openHours: [],
  };
}

/** Which model version a step is about, and what it may use. */
export interface MonitorContext {
  tenant: string;
  model: string;
  version: string;
  settings: MonitoringSettings;
  policy: RetrainPolicy;
  /** Manifest `trainedAt` (epoch ms) and holdout AUC. */
  trainedAtMs: number | undefined;
  baselineAuc: number | undefined;
  /** Processing time, epoch ms (alert times, cooldown, model age). */
  nowMs: number;
  /** The last retraining request of this model, any version, epoch ms. */
  lastRetrainRequestedAtMs: number | undefined;
}

/** An alert ready to store and publish. */
export interface Alert {
  alertId: string;
  tenant: string;
  model: string;
  version: string;
  type: AlertType;
  cloudEvent: CloudEvent;
}

/** The `retrain-requests` topic message (schema version 1). */
export interface RetrainRequest {
  schemaVersion: 1;
  requestId: string;
  tenant: string;
  model: string;
  version: string;
  /** The policy that fired (the configured policy's name). */
  policy: string;
  reasons: string[];
  evidence: {
    fired: PolicyEvidence[];
    /** What was being observed when it fired. */
    observation: Record<string, unknown>;
  };
  /** ISO-8601 UTC. */
  requestedAt: string;
}

export interface MonitorStep {
  state: ModelMonitorState;
  alerts: Alert[];
  requests: RetrainRequest[];
  /** Policies that fired while the model was in its cooldown (no request opened). */
  suppressed: PolicyEvidence[];
}

/** Deterministic id (32 hex digits in UUID layout) of the n-th object of a kind for a model version. */
export function monitoringId(
  kind: "alert" | "evaluation" | "request",
  ctx: Pick<MonitorContext, "tenant" | "model" | "version">,
  n: number,
  extra = "",
): string {
  const h = sha256Hex(
    JSON.stringify(["driftline", kind, ctx.tenant, ctx.model, ctx.version, n, extra]),
  );
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Moves a level state by one observation: a new level is adopted after `confirmations`
 * observations in a row; returns the change when the adopted level changed.
 */
export function advanceLevel<L extends string>(
  state: LevelState<L>,
  observed: L,
  confirmations: number,
): { state: LevelState<L>; change?: { from: L; to: L } } {
  if (observed === state.level) return { state: { level: state.level } };
  const count = state.pending?.level === observed ? state.pending.count + 1 : 1;
  if (count >= confirmations) {
    return { state: { level: observed }, change: { from: state.level, to: observed } };
  }
  return { state: { level: state.level, pending: { level: observed, count } } };
}

function subjectOf(ctx: MonitorContext, column?: string): string {
  const base = `tenants/${ctx.tenant}/models/${ctx.model}/versions/${ctx.version}`;
  if (column === undefined) return base;
  return column === SCORE_COLUMN ? `${base}/score` : `${base}/features/${column}`;
}

function windowData(w: EvaluatedWindow | { startMs: number; endMs: number }) {
  return {
    ...("kind" in w ? { kind: w.kind, size: w.size } : {}),
    start: new Date(w.startMs).toISOString(),
    end: new Date(w.endMs).toISOString(),
  };
}

class StepBuilder {
  readonly alerts: Alert[] = [];
  readonly requests: RetrainRequest[] = [];
  readonly suppressed: PolicyEvidence[] = [];
  readonly ctx: MonitorContext;
  readonly state: ModelMonitorState;
  // Plain fields, not parameter properties: the core runs on Node's type stripping too.
  constructor(ctx: MonitorContext, state: ModelMonitorState) {
    this.ctx = ctx;
    this.state = state;
  }

  alert(type: AlertType, subject: string, data: Record<string, unknown>): void {
    const ctx = this.ctx;
    const alertId = monitoringId("alert", ctx, this.state.alerts);
    this.state.alerts += 1;
    const cloudEvent = buildCloudEvent({
      id: alertId,
      source: ctx.settings.alerts.source,
      type,
      timeMs: ctx.nowMs,
      subject,
      data: { tenant: ctx.tenant, model: ctx.model, version: ctx.version, ...data },
    });
    this.alerts.push({
      alertId,
      tenant: ctx.tenant,
      model: ctx.model,
      version: ctx.version,
      type,
      cloudEvent,
    });
  }

  /** Runs the policy on the observation; opens a request (and its alert) unless in cooldown. */
  policy(observation: PolicyObservation, summary: Record<string, unknown>): void {
    const ctx = this.ctx;
    const previous = this.state.policyName === ctx.policy.name ? this.state.policy : undefined;
    const decision = ctx.policy.observe(previous, observation, {
      trainedAtMs: ctx.trainedAtMs,
      baselineAuc: ctx.baselineAuc ?? this.state.observedBaselineAuc,
    });
    this.state.policy = decision.state;
    this.state.policyName = ctx.policy.name;
    if (decision.fired.length === 0) return;
    const lastMs = this.requests.length > 0 ? ctx.nowMs : ctx.lastRetrainRequestedAtMs;
    if (cooldownRemainingMs(lastMs, ctx.nowMs, ctx.settings.retrain.cooldownMs) > 0) {
      this.suppressed.push(...decision.fired);
      return;
    }
    const requestId = monitoringId("request", ctx, this.state.requests);
    this.state.requests += 1;
    const reasons = decision.fired.map((f) => f.reason);
    this.requests.push({
      schemaVersion: 1,
      requestId,
      tenant: ctx.tenant,
      model: ctx.model,
      version: ctx.version,
      policy: ctx.policy.name,
      reasons,
      evidence: { fired: decision.fired, observation: summary },
      requestedAt: new Date(ctx.nowMs).toISOString(),
    });
    this.alert(ALERT_TYPES.retrainingRequested, subjectOf(ctx), {
      requestId,
      policy: ctx.policy.name,
      reasons,
      firedPolicies: decision.fired.map((f) => f.policy),
    });
  }

  done(): MonitorStep {
    return {
      state: this.state,
      alerts: this.alerts,
      requests: this.requests,
      suppressed: this.suppressed,
    };
  }
}

function copyState(state: ModelMonitorState): ModelMonitorState {
  return structuredClone(state);
}

/**
 * One sliding-window drift evaluation: each column's level moves (one alert per adopted change:
 * `drift.changed` up or down between levels, `drift.recovered` back to stable); then the
 * retraining policy sees the evaluation. Columns with too few values keep their level.
 */
export function observeDriftEvaluation(
  previous: ModelMonitorState,
  evaluation: ModelDriftEvaluation,
  ctx: MonitorContext,
): MonitorStep & { evaluationId: string } {
  const state = copyState(previous);
  const evaluationId = monitoringId("evaluation", ctx, state.evaluations);
  state.evaluations += 1;
  const step = new StepBuilder(ctx, state);
  for (const column of evaluation.columns) {
    if (column.level === undefined) continue;
    const feature = column.report.feature;
    const current = state.drift[feature] ?? { level: "stable" };
    const moved = advanceLevel(current, column.level, ctx.settings.alerts.confirmations);
    if (moved.state.level === "stable" && moved.state.pending === undefined) {
      delete state.drift[feature];
    } else {
      state.drift[feature] = moved.state;
    }
    if (moved.change === undefined) continue;
    const { report } = column;
    step.alert(
      moved.change.to === "stable" ? ALERT_TYPES.driftRecovered : ALERT_TYPES.driftChanged,
      subjectOf(ctx, feature),
      {
        feature,
        from: moved.change.from,
        to: moved.change.to,
        evaluationId,
        window: windowData(evaluation.window),
        drift: report.drift,
        psi:
          report.psi.kind === "evaluated"
            ? {
                value: report.psi.result.value,
                band: report.psi.result.band,
                threshold: report.psi.threshold,
              }
            : null,
        ks:
          report.ks.kind === "evaluated"
            ? {
                statistic: report.ks.result.statistic,
                pValue: report.ks.result.pValue,
                alpha: report.ks.threshold.alpha,
                minEffect: report.ks.threshold.minEffect,
                drift: report.ks.drift,
              }
            : null,
      },
    );
  }
  step.policy(
    { kind: "drift", evaluationId, evaluation, nowMs: ctx.nowMs },
    {
      kind: "drift",
      evaluationId,
      window: windowData(evaluation.window),
      levels: Object.fromEntries(
        evaluation.columns
          .filter((c) => c.level !== undefined)
          .map((c) => [c.report.feature, c.level]),
      ),
    },
  );
  return { ...step.done(), evaluationId };
}

/**
 * One performance result: the level is `degraded` when AUC < baseline − degradedAucDelta
 * (baseline: the manifest's holdout AUC, else the first evaluated window's); a change alerts
 * once (`performance.degraded` / `performance.recovered`). Then the retraining policy sees it.
 */
export function observePerformanceResult(
  previous: ModelMonitorState,
  result: PerformanceResult,
  ctx: MonitorContext,
): MonitorStep {
  const state = copyState(previous);
  const step = new StepBuilder(ctx, state);
  if (
    ctx.baselineAuc === undefined &&
    state.observedBaselineAuc === undefined &&
    result.auc !== null
  ) {
    state.observedBaselineAuc = result.auc;
  }
  const baseline = ctx.baselineAuc ?? state.observedBaselineAuc;
  if (result.auc !== null && baseline !== undefined) {
    const bound = baseline - ctx.settings.performance.degradedAucDelta;
    const observed: PerformanceLevel = result.auc < bound ? "degraded" : "ok";
    const moved = advanceLevel(state.performance, observed, ctx.settings.alerts.confirmations);
    state.performance = moved.state;
    if (moved.change !== undefined) {
      step.alert(
        moved.change.to === "degraded"
          ? ALERT_TYPES.performanceDegraded
          : ALERT_TYPES.performanceRecovered,
        subjectOf(ctx),
        {
          from: moved.change.from,
          to: moved.change.to,
          window: windowData(result.window),
          auc: result.auc,
          baselineAuc: baseline,
          bound,
          logLoss: result.logLoss,
          brier: result.brier,
          sampleSize: result.sampleSize,
          positiveCount: result.positiveCount,
        },
      );
    }
  }
  step.policy(
    { kind: "performance", result, nowMs: ctx.nowMs },
    {
      kind: "performance",
      window: windowData(result.window),
      auc: result.auc,
      baselineAuc: baseline ?? null,
      logLoss: result.logLoss,
      brier: result.brier,
      sampleSize: result.sampleSize,
    },
  );
  return step.done();
}
