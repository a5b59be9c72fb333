/** Retraining policies: small composable factories (`retrainWhen.psiAbove(0.25, { consecutive: 3 })`) over drift and performance observations. */

import { ValidationError } from "../errors.ts";
import type { EvaluatedWindow, ModelDriftEvaluation } from "./evaluate-model-drift.ts";
import type { PerformanceResult } from "./evaluate-performance.ts";
import { SCORE_COLUMN } from "./prediction-window.ts";

/** What a policy looks at: a sliding drift evaluation or a performance result. */
export type PolicyObservation =
  | { kind: "drift"; evaluationId: string; evaluation: ModelDriftEvaluation; nowMs: number }
  | { kind: "performance"; result: PerformanceResult; nowMs: number };

/** Facts about the model version a policy may need. */
export interface PolicyContext {
  /** Manifest `trainedAt`, epoch ms. */
  trainedAtMs: number | undefined;
  /** The performance baseline (manifest holdout AUC, else the first evaluated window's AUC). */
  baselineAuc: number | undefined;
}

/** Why a policy fired: stored with the retraining request and published with it. */
export interface PolicyEvidence {
  policy: string;
  reason: string;
  details: Record<string, unknown>;
}

/** A policy's memory between observations: plain JSON, stored durably with the model's monitoring state. */
export type PolicyState = Record<string, unknown>;

export interface PolicyDecision {
  state: PolicyState;
  /** Evidence of every (sub-)policy that fired on this observation; empty when none did. */
  fired: PolicyEvidence[];
}

export interface RetrainPolicy {
  /** Stable, readable name, e.g. `psi-above(0.25, consecutive=3)`; also the key of its state. */
  readonly name: string;
  /** Pure: the next state and what fired, from the previous state (undefined at first). */
  observe(
    state: PolicyState | undefined,
    observation: PolicyObservation,
    context: PolicyContext,
  ): PolicyDecision;
}

function invalid(field: string, message: string): ValidationError {
  return new ValidationError(`retraining policy: ${field} ${message}`, [{ field, message }]);
}

function checkConsecutive(consecutive: number): void {
  if (!Number.isInteger(consecutive) || consecutive < 1 || consecutive > 1000) {
    throw invalid("consecutive", "must be a whole number from 1 to 1000");
  }
}

function windowFacts(w: EvaluatedWindow) {
  return { windowKind: w.kind, windowStartMs: w.startMs, windowEndMs: w.endMs, windowSize: w.size };
}

interface Streak<E> {
  count: number;
  /** The last `consecutive` observations of the streak (the evidence). */
  recent: E[];
}

function extend<E>(streak: Streak<E> | undefined, entry: E, keep: number): Streak<E> {
  const recent = [...(streak?.recent ?? []), entry];
  return { count: (streak?.count ?? 0) + 1, recent: recent.slice(-keep) };
}

/** Options of {@link retrainWhen.psiAbove}. */
export interface PsiAboveOptions {
  /** Evaluations in a row the same column must stay at or above the threshold (default 1). */
  consecutive?: number;
  /** Only these features (default: every monitored feature). */
  features?: readonly string[];
  /** Also watch the score's PSI (default false: score drift follows from feature drift). */
  includeScore?: boolean;
}

interface PsiEntry {
  evaluationId: string;
  psi: number;
  band: string;
  windowKind: string;
  windowStartMs: number;
  windowEndMs: number;
  windowSize: number;
}

function psiAbove(threshold: number, options: PsiAboveOptions = {}): RetrainPolicy {
  if (!(Number.isFinite(threshold) && threshold > 0)) {
    throw invalid("psiAbove.threshold", "must be a positive number");
  }
  const consecutive = options.consecutive ?? 1;
  checkConsecutive(consecutive);
  const only = options.features === undefined ? undefined : new Set(options.features);
  const name = `psi-above(${threshold}, consecutive=${consecutive}${only ? `, features=${[...only].join("|")}` : ""}${options.includeScore ? ", with-score" : ""})`;
  return {
    name,
    observe(state, observation) {
      const streaks = { ...((state?.streaks as Record<string, Streak<PsiEntry>>) ?? {}) };
      if (observation.kind !== "drift") return { state: { streaks }, fired: [] };
      const fired: { feature: string; evaluations: PsiEntry[] }[] = [];
      for (const { report } of observation.evaluation.columns) {
        const feature = report.feature;
        if (feature === SCORE_COLUMN && !options.includeScore) continue;
        if (only !== undefined && !only.has(feature)) continue;
        // Too few values is no evidence either way: the streak neither grows nor breaks.
        if (report.psi.kind !== "evaluated") continue;
        const psi = report.psi.result;
        if (psi.value < threshold) {
          delete streaks[feature];
          continue;
        }
        const entry: PsiEntry = {
          evaluationId: observation.evaluationId,
          psi: psi.value,
          band: psi.band,
          ...windowFacts(observation.evaluation.window),
        };
        const next = extend(streaks[feature], entry, consecutive);
        if (next.count >= consecutive) {
          fired.push({ feature, evaluations: next.recent });
          // The evidence is used up: a further request needs a new run of evaluations.
          delete streaks[feature];
        } else {
          streaks[feature] = next;
        }
      }
      return {
        state: { streaks },
        fired:
          fired.length === 0
            ? []
            : [
                {
                  policy: name,
                  reason: `PSI ≥ ${threshold} on ${fired.map((f) => f.feature).join(", ")} for ${consecutive} evaluation(s) in a row`,
                  details: { threshold, consecutive, features: fired },
                },
              ],
      };
    },
  };
}

/** Options of {@link retrainWhen.shareOfFeaturesDrifted}. */
export interface ShareOptions {
  /** Evaluations in a row the share must hold (default 1). */
  consecutive?: number;
}

interface ShareEntry {
  evaluationId: string;
  drifted: string[];
  evaluated: number;
  share: number;
  windowStartMs: number;
  windowEndMs: number;
}

function shareOfFeaturesDrifted(share: number, options: ShareOptions = {}): RetrainPolicy {
  if (!(share > 0 && share <= 1))
    throw invalid("shareOfFeaturesDrifted.share", "must be in (0, 1]");
  const consecutive = options.consecutive ?? 1;
  checkConsecutive(consecutive);
  const name = `share-of-features-drifted(${share}, consecutive=${consecutive})`;
  return {
    name,
    observe(state, observation) {
      const previous = state?.streak as Streak<ShareEntry> | undefined;
      if (observation.kind !== "drift") return { state: state ?? {}, fired: [] };
      const features = observation.evaluation.columns.filter(
        (c) => c.report.feature !== SCORE_COLUMN && c.report.psi.kind === "evaluated",
      );
      if (features.length === 0) return { state: state ?? {}, fired: [] };
      const drifted = features.filter((c) => c.report.drift).map((c) => c.report.feature);
      const observed = drifted.length / features.length;
      if (observed < share) return { state: {}, fired: [] };
      const next = extend(
        previous,
        {
          evaluationId: observation.evaluationId,
          drifted,
          evaluated: features.length,
          share: observed,
          windowStartMs: observation.evaluation.window.startMs,
          windowEndMs: observation.evaluation.window.endMs,
        },
        consecutive,
      );
      if (next.count < consecutive) return { state: { streak: next }, fired: [] };
      return {
        state: {},
        fired: [
          {
            policy: name,
            reason: `${drifted.length} of ${features.length} features drifted (share ${observed.toFixed(3)} ≥ ${share})`,
            details: { share, consecutive, evaluations: next.recent },
          },
        ],
      };
    },
  };
}

/** Options of {@link retrainWhen.aucBelowBaseline}. */
export interface AucOptions {
  /** Baseline AUC; default the model's (manifest holdout AUC, else the first window's). */
  baseline?: number;
  /** Performance windows in a row below the bound (default 1). */
  consecutive?: number;
}

interface AucEntry {
  windowStartMs: number;
  windowEndMs: number;
  auc: number;
  sampleSize: number;
  positiveCount: number;
}

function aucBelowBaseline(delta: number, options: AucOptions = {}): RetrainPolicy {
  if (!(delta >= 0 && delta < 1)) throw invalid("aucBelowBaseline.delta", "must be in [0, 1)");
  if (options.baseline !== undefined && !(options.baseline > 0 && options.baseline <= 1)) {
    throw invalid("aucBelowBaseline.baseline", "must be in (0, 1]");
  }
  const consecutive = options.consecutive ?? 1;
  checkConsecutive(consecutive);
  const name = `auc-below-baseline(${delta}, consecutive=${consecutive}${options.baseline === undefined ? "" : `, baseline=${options.baseline}`})`;
  return {
    name,
    observe(state, observation, context) {
      if (observation.kind !== "performance") return { state: state ?? {}, fired: [] };
      const r = observation.result;
      const baseline = options.baseline ?? context.baselineAuc;
      if (r.auc === null || baseline === undefined) return { state: state ?? {}, fired: [] };
      const bound = baseline - delta;
      if (r.auc >= bound) return { state: {}, fired: [] };
      const next = extend(
        state?.streak as Streak<AucEntry> | undefined,
        {
          windowStartMs: r.window.startMs,
          windowEndMs: r.window.endMs,
          auc: r.auc,
          sampleSize: r.sampleSize,
          positiveCount: r.positiveCount,
        },
        consecutive,
      );
      if (next.count < consecutive) return { state: { streak: next }, fired: [] };
      return {
        state: {},
        fired: [
          {
            policy: name,
            reason: `AUC ${r.auc.toFixed(4)} below baseline ${baseline.toFixed(4)} − ${delta}`,
            details: { baseline, delta, bound, consecutive, windows: next.recent },
          },
        ],
      };
    },
  };
}

function modelAge(maxAgeMs: number): RetrainPolicy {
  if (!(Number.isInteger(maxAgeMs) && maxAgeMs > 0)) {
    throw invalid("modelAge.maxAgeMs", "must be a positive whole number of ms");
  }
  const days = maxAgeMs / 86_400_000;
  const name = `model-age(${Number.isInteger(days) ? `${days}d` : `${maxAgeMs}ms`})`;
  return {
    name,
    // Fires on every observation once the model is old enough; the per-model cooldown turns
    // that into one request per cooldown period.
    observe(_state, observation, context) {
      if (context.trainedAtMs === undefined) return { state: {}, fired: [] };
      const ageMs = observation.nowMs - context.trainedAtMs;
      if (ageMs < maxAgeMs) return { state: {}, fired: [] };
      return {
        state: {},
        fired: [
          {
            policy: name,
            reason: `the model was trained ${(ageMs / 86_400_000).toFixed(1)} days ago (limit ${days.toFixed(1)})`,
            details: { trainedAtMs: context.trainedAtMs, ageMs, maxAgeMs },
          },
        ],
      };
    },
  };
}

/** Fires when any of `policies` fires (all that fired are in the evidence); keeps each one's state. */
function any(...policies: RetrainPolicy[]): RetrainPolicy {
  const names = new Set<string>();
  for (const p of policies) {
    if (names.has(p.name)) throw invalid("any", `lists ${p.name} twice`);
    names.add(p.name);
  }
  const name = `any(${policies.map((p) => p.name).join(", ")})`;
  return {
    name,
    observe(state, observation, context) {
      const next: PolicyState = {};
      const fired: PolicyEvidence[] = [];
      for (const p of policies) {
        const d = p.observe(state?.[p.name] as PolicyState | undefined, observation, context);
        next[p.name] = d.state;
        fired.push(...d.fired);
      }
      return { state: next, fired };
    },
  };
}

/** Never fires: the policy when every retraining trigger is switched off. */
const never: RetrainPolicy = {
  name: "never",
  observe: () => ({ state: {}, fired: [] }),
};

/** The policy factories. */
export const retrainWhen = {
  psiAbove,
  shareOfFeaturesDrifted,
  aucBelowBaseline,
  modelAge,
  any,
  never,
} as const;

/** When the last request of the same model leaves no room for another one, ms until it does. */
export function cooldownRemainingMs(
  lastRequestedAtMs: number | undefined,
  nowMs: number,
  cooldownMs: number,
): number {
  if (lastRequestedAtMs === undefined) return 0;
  return Math.max(0, lastRequestedAtMs + cooldownMs - nowMs);
}
