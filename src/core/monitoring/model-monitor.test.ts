import { CloudEvent as SdkCloudEvent } from "cloudevents";
import { describe, expect, it } from "vitest";
import { ALERT_TYPES } from "./cloud-event.ts";
import type { DriftLevel } from "./evaluate-model-drift.ts";
import type { PerformanceResult } from "./evaluate-performance.ts";
import {
  advanceLevel,
  initialMonitorState,
  type ModelMonitorState,
  type MonitorContext,
  monitoringId,
  observeDriftEvaluation,
  observePerformanceResult,
} from "./model-monitor.ts";
import { resolveMonitoringSettings } from "./monitoring-settings.ts";
import { policyFromSettings } from "./policy-from-settings.ts";
import { retrainWhen } from "./retrain-policies.ts";
import { fakeEvaluation } from "./testing/fake-drift.ts";

const settings = resolveMonitoringSettings({
  retrain: { psiAbove: 0.25, psiConsecutive: 3, aucDelta: 0.05, cooldownMs: 60_000 },
});

function context(overrides: Partial<MonitorContext> = {}): MonitorContext {
  return {
    tenant: "acme",
    model: "conversion",
    version: "1",
    settings,
    policy: policyFromSettings(settings.retrain),
    trainedAtMs: Date.parse("2026-11-01T00:00:00Z"),
    baselineAuc: 0.87,
    nowMs: Date.parse("2026-11-22T12:00:00Z"),
    lastRetrainRequestedAtMs: undefined,
    ...overrides,
  };
}

/** Feeds a sequence of PSI values for one feature; returns the alert types per step. */
function run(psis: (number | undefined)[], ctx = context()) {
  let state: ModelMonitorState = initialMonitorState();
  const steps: string[][] = [];
  const all = [];
  for (const [i, psi] of psis.entries()) {
    const step = observeDriftEvaluation(state, fakeEvaluation({ cart_value: psi }, i), {
      ...ctx,
      nowMs: ctx.nowMs + i * 1000,
    });
    state = step.state;
    steps.push(
      step.alerts.map(
        (a) =>
          `${a.type.replace("dev.driftline.", "")}:${(a.cloudEvent.data as { to?: string }).to ?? ""}`,
      ),
    );
    all.push(step);
  }
  return { steps, state, all };
}

describe("drift alerts", () => {
  it("emits exactly one alert per level change and none for an unchanged level", () => {
    const { steps } = run([0.01, 0.12, 0.15, 0.3, 0.31, 0.2, 0.05, 0.02]);
    expect(steps).toEqual([
      [],
      ["drift.changed:moderate"],
      [],
      ["drift.changed:significant"],
      [],
      ["drift.changed:moderate"],
      ["drift.recovered:stable"],
      [],
    ]);
  });

  it("goes straight from stable to significant in one alert", () => {
    expect(run([0.5]).steps).toEqual([["drift.changed:significant"]]);
  });

  it("keeps the level while the window is too small to tell", () => {
    expect(run([0.3, undefined, undefined, 0.3]).steps).toEqual([
      ["drift.changed:significant"],
      [],
      [],
      [],
    ]);
  });

  it("waits for confirmations when configured", () => {
    const s = resolveMonitoringSettings({
      alerts: { confirmations: 2 },
      retrain: { psiAbove: undefined },
    });
    const ctx = context({ settings: s, policy: policyFromSettings(s.retrain) });
    expect(run([0.3, 0.01, 0.3, 0.3, 0.3, 0.01, 0.01], ctx).steps).toEqual([
      [],
      [],
      [],
      ["drift.changed:significant"],
      [],
      [],
      ["drift.recovered:stable"],
    ]);
  });

  it("alerts are CloudEvents 1.0 the official SDK accepts, with what changed and why", () => {
    const { all } = run([0.3]);
    const alert = all[0]!.alerts[0]!;
    const sdk = new SdkCloudEvent(alert.cloudEvent as never);
    expect(sdk.validate()).toBe(true);
    expect(sdk.specversion).toBe("1.0");
    expect(alert.cloudEvent).toMatchObject({
      specversion: "1.0",
      type: ALERT_TYPES.driftChanged,
      source: "/driftline/stream-processor",
      subject: "tenants/acme/models/conversion/versions/1/features/cart_value",
      datacontenttype: "application/json",
      time: "2026-11-22T12:00:00.000Z",
      data: {
        tenant: "acme",
        model: "conversion",
        version: "1",
        feature: "cart_value",
        from: "stable",
        to: "significant",
        psi: { value: 0.3, band: "significant", threshold: 0.25 },
      },
    });
    expect(alert.alertId).toBe(alert.cloudEvent.id);
    expect(alert.alertId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it("gives the same ids when the same step is replayed (a retried batch)", () => {
    const a = run([0.3, 0.3, 0.3]);
    const b = run([0.3, 0.3, 0.3]);
    expect(a.all.flatMap((s) => s.alerts.map((x) => x.alertId))).toEqual(
      b.all.flatMap((s) => s.alerts.map((x) => x.alertId)),
    );
    expect(monitoringId("alert", context(), 0)).not.toBe(monitoringId("alert", context(), 1));
    expect(monitoringId("alert", context(), 0)).not.toBe(
      monitoringId("alert", context({ version: "2" }), 0),
    );
  });

  it("does not change the state it was given", () => {
    const state = initialMonitorState();
    const before = JSON.stringify(state);
    observeDriftEvaluation(state, fakeEvaluation({ cart_value: 0.4 }), context());
    expect(JSON.stringify(state)).toBe(before);
  });
});

describe("retraining requests", () => {
  it("opens one request after three significant evaluations in a row, with its evidence", () => {
    const { all } = run([0.3, 0.3, 0.3]);
    expect(all[0]!.requests).toEqual([]);
    expect(all[1]!.requests).toEqual([]);
    const [request] = all[2]!.requests;
    expect(request).toMatchObject({
      schemaVersion: 1,
      tenant: "acme",
      model: "conversion",
      version: "1",
      policy: "any(psi-above(0.25, consecutive=3), auc-below-baseline(0.05, consecutive=1))",
    });
    const fired = request!.evidence.fired[0]!;
    expect(fired.policy).toBe("psi-above(0.25, consecutive=3)");
    const features = fired.details.features as { feature: string; evaluations: unknown[] }[];
    expect(features.map((f) => f.feature)).toEqual(["cart_value"]);
    expect(features[0]!.evaluations).toHaveLength(3);
    // the request is also an alert, once
    expect(all[2]!.alerts.map((a) => a.type)).toEqual([ALERT_TYPES.retrainingRequested]);
    expect((all[2]!.alerts[0]!.cloudEvent.data as { requestId: string }).requestId).toBe(
      request!.requestId,
    );
  });

  it("a broken streak starts over", () => {
    const { all } = run([0.3, 0.3, 0.05, 0.3, 0.3]);
    expect(all.flatMap((s) => s.requests)).toEqual([]);
  });

  it("respects the per-model cooldown and reports what it suppressed", () => {
    const now = context().nowMs;
    const ctx = context({ lastRetrainRequestedAtMs: now - 10_000 });
    const { all } = run([0.3, 0.3, 0.3], ctx);
    expect(all[2]!.requests).toEqual([]);
    expect(all[2]!.suppressed.map((e) => e.policy)).toEqual(["psi-above(0.25, consecutive=3)"]);
    const later = run([0.3, 0.3, 0.3], context({ lastRetrainRequestedAtMs: now - 60_000 }));
    expect(later.all[2]!.requests).toHaveLength(1);
  });
});

function perf(auc: number | null, n = 0): PerformanceResult {
  return {
    kind: "evaluated",
    window: { startMs: n * 3_600_000, endMs: (n + 1) * 3_600_000 },
    sampleSize: 1000,
    positiveCount: 80,
    auc,
    logLoss: 0.2,
    brier: 0.06,
    calibration: [],
    expectedCalibrationError: 0.01,
    logLossEpsilon: 1e-15,
    calibrationBins: 10,
  };
}

describe("performance alerts", () => {
  it("degraded and recovered once each; the cooldown holds back a second request", () => {
    let state = initialMonitorState();
    let last: number | undefined;
    const types: string[][] = [];
    for (const [i, auc] of [0.86, 0.8, 0.79, null, 0.85, 0.86].entries()) {
      const ctx = context({ nowMs: context().nowMs + i * 1000, lastRetrainRequestedAtMs: last });
      const step = observePerformanceResult(state, perf(auc, i), ctx);
      state = step.state;
      if (step.requests.length > 0) last = ctx.nowMs;
      types.push(step.alerts.map((a) => a.type.replace("dev.driftline.", "")));
    }
    expect(types).toEqual([
      [],
      ["performance.degraded", "retraining.requested"],
      [],
      [],
      ["performance.recovered"],
      [],
    ]);
  });

  it("uses the first window's AUC as baseline when the manifest has none", () => {
    const ctx = context({ baselineAuc: undefined });
    let state = initialMonitorState();
    state = observePerformanceResult(state, perf(0.8, 0), ctx).state;
    expect(state.observedBaselineAuc).toBe(0.8);
    const step = observePerformanceResult(state, perf(0.74, 1), ctx);
    expect(step.alerts[0]!.type).toBe(ALERT_TYPES.performanceDegraded);
    expect(step.alerts[0]!.cloudEvent.data).toMatchObject({ baselineAuc: 0.8, auc: 0.74 });
  });
});

describe("advanceLevel", () => {
  it("adopts after the confirmations and forgets a candidate that does not repeat", () => {
    let s: { level: DriftLevel; pending?: { level: DriftLevel; count: number } } = {
      level: "stable",
    };
    let r = advanceLevel(s, "significant", 2);
    expect(r.change).toBeUndefined();
    s = r.state;
    r = advanceLevel(s, "moderate", 2);
    expect(r.state.pending).toEqual({ level: "moderate", count: 1 });
    r = advanceLevel(r.state, "moderate", 2);
    expect(r.change).toEqual({ from: "stable", to: "moderate" });
  });
});

describe("policies", () => {
  it("a policy change starts the policy state over", () => {
    const first = run([0.3, 0.3]);
    const other = retrainWhen.psiAbove(0.2, { consecutive: 2 });
    const step = observeDriftEvaluation(
      first.state,
      fakeEvaluation({ cart_value: 0.3 }),
      context({ policy: other }),
    );
    expect(step.requests).toEqual([]);
    expect(step.state.policyName).toBe(other.name);
  });
});
