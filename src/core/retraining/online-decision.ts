/** The champion/challenger decision: a sequential test on per-row log loss with a minimum sample and a maximum duration. */
import { type ArmStats, type MsprtResult, msprt } from "./msprt.ts";

export interface OnlineDecisionSettings {
  /** False-positive rate of the sequential test (promoting or rolling back on no real difference). */
  alpha: number;
  /** Scale τ of the expected log-loss difference (the mixing distribution's standard deviation). */
  tau: number;
  /** Labelled rows each arm needs before a decision. */
  minSamplePerArm: number;
  /** Longest the challenger serves without a decision; then it is rolled back as inconclusive. */
  maxDurationMs: number;
}

export type OnlineDecision =
  | { kind: "continue"; reason: string; evidence: DecisionEvidence }
  | { kind: "promote" | "roll-back"; reason: string; evidence: DecisionEvidence };

export interface DecisionEvidence {
  champion: ArmStats;
  challenger: ArmStats;
  test: MsprtResult & { alpha: number; tau: number; alwaysValidPValue: number };
  elapsedMs: number;
  settings: OnlineDecisionSettings;
}

/**
 * Decides from the arms' log-loss outcomes so far. `previousPValue` is the running minimum of
 * earlier looks (1 at the first), which makes the p-value always valid. The challenger is
 * promoted when its log loss is significantly lower, rolled back when significantly higher,
 * and rolled back when `maxDurationMs` passes without a decision (the champion stays: it is
 * the version with a track record).
 */
export function decideOnline(input: {
  champion: ArmStats;
  challenger: ArmStats;
  elapsedMs: number;
  previousPValue: number;
  settings: OnlineDecisionSettings;
}): OnlineDecision {
  const { champion, challenger, elapsedMs, settings } = input;
  const test = msprt(champion, challenger, settings.tau);
  const alwaysValidPValue = Math.min(input.previousPValue, test.pValue);
  const evidence: DecisionEvidence = {
    champion,
    challenger,
    test: { ...test, alpha: settings.alpha, tau: settings.tau, alwaysValidPValue },
    elapsedMs,
    settings,
  };
  const enough = champion.n >= settings.minSamplePerArm && challenger.n >= settings.minSamplePerArm;
  const summary = `log loss champion ${champion.mean.toFixed(4)} (n=${champion.n}) vs challenger ${challenger.mean.toFixed(4)} (n=${challenger.n}), always-valid p=${alwaysValidPValue.toPrecision(3)}, alpha=${settings.alpha}`;
  if (enough && alwaysValidPValue <= settings.alpha) {
    return test.difference < 0
      ? { kind: "promote", reason: `challenger is better: ${summary}`, evidence }
      : { kind: "roll-back", reason: `challenger is worse: ${summary}`, evidence };
  }
  if (elapsedMs >= settings.maxDurationMs) {
    return {
      kind: "roll-back",
      reason: `no decision within ${Math.round(settings.maxDurationMs / 1000)} s (${enough ? "no significant difference" : `fewer than ${settings.minSamplePerArm} labelled rows per arm`}): ${summary}`,
      evidence,
    };
  }
  return {
    kind: "continue",
    reason: enough ? `no significant difference yet: ${summary}` : `collecting labels: ${summary}`,
    evidence,
  };
}
