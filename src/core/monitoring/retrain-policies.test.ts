import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import type { PerformanceResult } from "./evaluate-performance.ts";
import { resolveMonitoringSettings } from "./monitoring-settings.ts";
import { policyFromSettings } from "./policy-from-settings.ts";
import {
  cooldownRemainingMs,
  type PolicyContext,
  type PolicyObservation,
  type PolicyState,
  type RetrainPolicy,
  retrainWhen,
} from "./retrain-policies.ts";
import { fakeEvaluation } from "./testing/fake-drift.ts";

const ctx: PolicyContext = { trainedAtMs: 0, baselineAuc: 0.85 };

function feed(policy: RetrainPolicy, observations: PolicyObservation[]) {
  let state: PolicyState | undefined;
  return observations.map((o) => {
    const d = policy.observe(state, o, ctx);
    state = JSON.parse(JSON.stringify(d.state)); // states survive a JSON round trip (stored durably)
    return d.fired;
  });
}

const drift = (psi: Record<string, number | undefined>, n = 0): PolicyObservation => ({
  kind: "drift",
  evaluationId: `e${n}`,
  evaluation: fakeEvaluation(psi, n),
  nowMs: 1_000,
});

const perf = (auc: number | null): PolicyObservation => ({
  kind: "performance",
  nowMs: 1_000,
  result: {
    kind: "evaluated",
    window: { startMs: 0, endMs: 1 },
    sampleSize: 500,
    positiveCount: 40,
    auc,
    logLoss: 0.3,
    brier: 0.1,
    calibration: [],
    expectedCalibrationError: 0,
    logLossEpsilon: 1e-15,
    calibrationBins: 10,
  } satisfies PerformanceResult,
});

describe("retrainWhen.psiAbove", () => {
  it("needs the same feature above the threshold K times in a row", () => {
    const p = retrainWhen.psiAbove(0.25, { consecutive: 2 });
    const fired = feed(p, [
      drift({ a: 0.3, b: 0.01 }, 0),
      drift({ a: 0.01, b: 0.3 }, 1),
      drift({ a: 0.3, b: 0.3 }, 2),
      drift({ a: 0.3, b: 0.05 }, 3),
    ]);
    expect(fired.map((f) => f.length)).toEqual([0, 0, 1, 1]);
    expect(fired[2]![0]!.details.features).toMatchObject([{ feature: "b" }]);
    expect(fired[3]![0]!.details.features).toMatchObject([
      { feature: "a", evaluations: [{ evaluationId: "e2" }, { evaluationId: "e3" }] },
    ]);
  });

  it("ignores the score unless asked and insufficient windows keep the streak", () => {
    const p = retrainWhen.psiAbove(0.25, { consecutive: 2 });
    expect(feed(p, [drift({ __score__: 0.9 }), drift({ __score__: 0.9 })]).flat()).toEqual([]);
    const withScore = retrainWhen.psiAbove(0.25, { consecutive: 2, includeScore: true });
    expect(feed(withScore, [drift({ __score__: 0.9 }), drift({ __score__: 0.9 })])[1]).toHaveLength(
      1,
    );
    expect(
      feed(p, [drift({ a: 0.4 }), drift({ a: undefined }), drift({ a: 0.4 })])[2],
    ).toHaveLength(1);
  });

  it("can be restricted to features", () => {
    const p = retrainWhen.psiAbove(0.2, { features: ["b"] });
    expect(feed(p, [drift({ a: 0.9, b: 0.1 })])[0]).toEqual([]);
    expect(p.name).toBe("psi-above(0.2, consecutive=1, features=b)");
  });
});

describe("retrainWhen.shareOfFeaturesDrifted", () => {
  it("compares the drifted share of evaluated features (not the score)", () => {
    const p = retrainWhen.shareOfFeaturesDrifted(0.5);
    const fired = feed(p, [
      drift({ a: 0.3, b: 0.01, c: 0.01, __score__: 0.9 }),
      drift({ a: 0.3, b: 0.3, c: 0.01, d: undefined }),
    ]);
    expect(fired[0]).toEqual([]);
    expect(fired[1]![0]!.details.evaluations).toMatchObject([
      { drifted: ["a", "b"], evaluated: 3 },
    ]);
  });
});

describe("retrainWhen.aucBelowBaseline", () => {
  it("fires below baseline − delta, not on single-class windows", () => {
    const p = retrainWhen.aucBelowBaseline(0.05, { consecutive: 2 });
    expect(
      feed(p, [perf(0.79), perf(null), perf(0.81), perf(0.79), perf(0.8)]).map((f) => f.length),
    ).toEqual([0, 0, 0, 0, 0]);
    expect(feed(p, [perf(0.79), perf(0.7)]).map((f) => f.length)).toEqual([0, 1]);
    const fixed = retrainWhen.aucBelowBaseline(0.05, { baseline: 0.95 });
    expect(feed(fixed, [perf(0.85)])[0]![0]!.details).toMatchObject({
      baseline: 0.95,
      bound: expect.closeTo(0.9, 12),
    });
  });

  it("cannot fire without a baseline", () => {
    const p = retrainWhen.aucBelowBaseline(0.05);
    expect(
      p.observe(undefined, perf(0.1), { trainedAtMs: undefined, baselineAuc: undefined }).fired,
    ).toEqual([]);
  });
});

describe("retrainWhen.modelAge", () => {
  it("fires once the model is older than the limit", () => {
    const p = retrainWhen.modelAge(30 * 86_400_000);
    expect(p.name).toBe("model-age(30d)");
    const young = p.observe(undefined, { ...drift({}), nowMs: 29 * 86_400_000 }, ctx);
    expect(young.fired).toEqual([]);
    const old = p.observe(undefined, { ...drift({}), nowMs: 31 * 86_400_000 }, ctx);
    expect(old.fired[0]!.details).toMatchObject({ ageMs: 31 * 86_400_000 });
  });
});

describe("retrainWhen.any and settings", () => {
  it("keeps each policy's state apart and reports every one that fired", () => {
    const p = retrainWhen.any(retrainWhen.psiAbove(0.25), retrainWhen.shareOfFeaturesDrifted(0.5));
    const fired = feed(p, [drift({ a: 0.3, b: 0.3 })])[0]!;
    expect(fired.map((f) => f.policy)).toEqual([
      "psi-above(0.25, consecutive=1)",
      "share-of-features-drifted(0.5, consecutive=1)",
    ]);
  });

  it("refuses bad settings with a ValidationError", () => {
    expect(() => retrainWhen.psiAbove(-1)).toThrow(ValidationError);
    expect(() => retrainWhen.psiAbove(0.2, { consecutive: 0 })).toThrow(/consecutive/);
    expect(() => retrainWhen.shareOfFeaturesDrifted(1.5)).toThrow(/share/);
    expect(() => retrainWhen.aucBelowBaseline(2)).toThrow(/delta/);
    expect(() => retrainWhen.modelAge(0)).toThrow(/maxAgeMs/);
    expect(() => retrainWhen.any(retrainWhen.psiAbove(0.2), retrainWhen.psiAbove(0.2))).toThrow(
      /twice/,
    );
  });

  it("builds the configured policy", () => {
    expect(policyFromSettings(resolveMonitoringSettings().retrain).name).toBe(
      "any(psi-above(0.25, consecutive=3), auc-below-baseline(0.05, consecutive=1))",
    );
    const off = resolveMonitoringSettings({
      retrain: { psiAbove: undefined, aucDelta: undefined },
    });
    expect(policyFromSettings(off.retrain).name).toBe("never");
    const one = resolveMonitoringSettings({
      retrain: { psiAbove: undefined, aucDelta: undefined, maxModelAgeMs: 86_400_000 },
    });
    expect(policyFromSettings(one.retrain).name).toBe("model-age(1d)");
  });

  it("cooldownRemainingMs", () => {
    expect(cooldownRemainingMs(undefined, 10, 100)).toBe(0);
    expect(cooldownRemainingMs(0, 10, 100)).toBe(90);
    expect(cooldownRemainingMs(0, 100, 100)).toBe(0);
  });
});
