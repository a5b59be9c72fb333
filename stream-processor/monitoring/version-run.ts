/** One batch's evaluation of a model version (its state, settings and context) and what the batch's evaluations produce. */
import type { Logger } from "pino";
import {
  type Alert,
  initialMonitorState,
  type ModelMonitorState,
  type ModelReference,
  type MonitorContext,
  type MonitoringSettings,
  type MonitorStep,
  type PredictionWindow,
  type RetrainRequest,
} from "#core/monitoring";
import type { MonitoringObserver } from "./monitoring-observer";
import type {
  LockedState,
  ModelKey,
  MonitoringTransaction,
  StoredDriftResult,
  StoredPerformanceResult,
} from "./monitoring-store";
import type { EffectiveSettings } from "./tenant-settings";

/** Windows evaluated per version and batch at most, so a long-idle version catches up over batches. */
export const MAX_WINDOWS_PER_BATCH = 1_000;

/** What the evaluation steps need of the stage's deps. */
export interface EvaluationDeps {
  /** The operator's settings: windows, attribution and performance windows. */
  settings: MonitoringSettings;
  log: Logger;
  observer?: MonitoringObserver;
}

/** A locked version with what its evaluation starts from (read before the batch's predictions are stored). */
export interface PreparedVersion extends LockedState {
  state: ModelMonitorState;
  reference: ModelReference | undefined;
  window: PredictionWindow | undefined;
}

/** One version's evaluation in a batch: every step reads and replaces `state`. */
export interface VersionRun {
  readonly key: ModelKey;
  readonly reference: ModelReference | undefined;
  /** The tenant's (and model's) settings and policy, layered over the operator's. */
  readonly own: EffectiveSettings;
  /** True when the version has a reference with columns to watch for drift. */
  readonly monitored: boolean;
  state: ModelMonitorState;
  /** The policies' context, as of now (the latest request time included). */
  context(): MonitorContext;
  /** Adopts a step's state and collects its alerts and requests. */
  take(step: MonitorStep): void;
}

/** What the batch's evaluations produce, written together at the end of the batch. */
export class BatchOutcome {
  readonly drift: StoredDriftResult[] = [];
  readonly performance: StoredPerformanceResult[] = [];
  readonly alerts: Alert[] = [];
  readonly requests: RetrainRequest[] = [];
  /** Retraining policies that fired during a cooldown. */
  suppressed = 0;
  /** Latest retraining request per model, read once per batch and moved by this batch's requests. */
  private readonly lastRequest = new Map<string, number | undefined>();

  constructor(private readonly nowMs: number) {}

  /** Starts a version's run; its steps' alerts and requests are collected here. */
  async startVersion(
    tx: MonitoringTransaction,
    prepared: PreparedVersion,
    own: EffectiveSettings,
  ): Promise<VersionRun> {
    const { key, reference } = prepared;
    const nowMs = this.nowMs;
    const modelId = `${key.tenant}\u0000${key.model}`;
    if (!this.lastRequest.has(modelId)) {
      this.lastRequest.set(modelId, await tx.lastRetrainRequestAt(key.tenant, key.model));
    }
    const run: VersionRun = {
      key,
      reference,
      own,
      monitored: reference !== undefined && reference.columns.length > 0,
      state: prepared.state,
      context: () => ({
        ...key,
        settings: own.settings,
        policy: own.policy,
        trainedAtMs: reference?.trainedAtMs,
        baselineAuc: reference?.baselineAuc,
        nowMs,
        lastRetrainRequestedAtMs: this.lastRequest.get(modelId),
      }),
      take: (step) => {
        run.state = step.state;
        this.alerts.push(...step.alerts);
        this.requests.push(...step.requests);
        this.suppressed += step.suppressed.length;
        if (step.requests.length > 0) this.lastRequest.set(modelId, nowMs);
      },
    };
    return run;
  }
}

/** The stored state, or a fresh one (logged) when it is missing or of an unknown shape. */
export function parseState(raw: unknown, log: Logger, key: ModelKey): ModelMonitorState {
  const initial = initialMonitorState();
  if (
    raw !== null &&
    typeof raw === "object" &&
    (raw as { schemaVersion?: unknown }).schemaVersion === 1
  ) {
    const s = { ...initial, ...(raw as Partial<ModelMonitorState>) };
    if (Array.isArray(s.openHours) && typeof s.drift === "object" && s.drift !== null) return s;
  }
  log.warn({ ...key }, "monitoring state has an unknown shape; starting it over");
  return initial;
}
