import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { signalForConversions } from "./label-signals.ts";
import { resolveMonitoringSettings } from "./monitoring-settings.ts";
import { policyFromSettings } from "./policy-from-settings.ts";
import {
  applyMonitoringOverrides,
  monitoringSettingsView,
  parseMonitoringOverrides,
} from "./settings-overrides.ts";

const base = resolveMonitoringSettings({
  sliding: { size: 1000, stride: 100, minSample: 400 },
  labels: { attributionWindowMs: 3_600_000, conversionEvents: ["Purchase"] },
});

function refusal(value: unknown, scope: "tenant" | "model" = "tenant") {
  try {
    parseMonitoringOverrides(value, scope);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return {
      message: (error as ValidationError).message,
      issues: (error as ValidationError).issues,
    };
  }
  throw new Error("accepted");
}

describe("monitoring overrides", () => {
  it("layers tenant then model fields over the operator's, keeping what a tenant cannot change", () => {
    const tenant = parseMonitoringOverrides(
      {
        drift: { psiThreshold: 0.1 },
        alerts: { confirmations: 3 },
        conversionEvents: ["Purchase", "Lead"],
        retrain: { psiAbove: null, aucDelta: 0.02 },
      },
      "tenant",
    );
    const model = parseMonitoringOverrides({ drift: { psiThreshold: 0.4 } }, "model");
    const s = applyMonitoringOverrides(base, tenant, model);
    expect(s.drift.psi.threshold).toBe(0.4);
    expect(s.alerts.confirmations).toBe(3);
    expect(s.labels.conversionEvents).toEqual(["Purchase", "Lead"]);
    expect(s.retrain.psiAbove).toBeUndefined();
    expect(s.retrain.aucDelta).toBe(0.02);
    // The operator's windows and attribution stay.
    expect(s.sliding).toEqual(base.sliding);
    expect(s.drift.minSampleSize).toBe(400);
    expect(s.labels.attributionWindowMs).toBe(3_600_000);
    // Switching PSI retraining off leaves the AUC policy alone.
    expect(policyFromSettings(s.retrain).name).toContain("auc-below-baseline");
    expect(policyFromSettings(s.retrain).name).not.toContain("psi");
  });

  it("reads no layers as the operator's settings, and views them with null for off", () => {
    expect(applyMonitoringOverrides(base)).toBe(base);
    const view = monitoringSettingsView(base);
    expect(view.drift.psiThreshold).toBe(0.25);
    expect(view.retrain.driftedShare).toBeNull();
    expect(view.conversionEvents).toEqual(["Purchase"]);
    const any = applyMonitoringOverrides(
      base,
      parseMonitoringOverrides({ conversionEvents: ["*"] }, "tenant"),
    );
    expect(any.labels.conversionEvents).toEqual([]);
    expect(monitoringSettingsView(any).conversionEvents).toEqual(["*"]);
    const aged = applyMonitoringOverrides(base, { retrain: { maxModelAgeDays: 30 } });
    expect(aged.retrain.maxModelAgeMs).toBe(30 * 86_400_000);
    expect(monitoringSettingsView(aged).retrain.maxModelAgeDays).toBe(30);
  });

  it.each([
    [{ drift: { psiThreshold: -1 } }, "drift.psiThreshold"],
    [{ drift: { ksAlpha: 1 } }, "drift.ksAlpha"],
    [{ drift: { decideBy: [] } }, "drift.decideBy"],
    [{ drift: { decideBy: ["psi", "psi"] } }, "drift.decideBy"],
    [{ alerts: { confirmations: 1.5 } }, "alerts.confirmations"],
    [{ alerts: { confirmations: 0 } }, "alerts.confirmations"],
    [{ retrain: { driftedShare: 2 } }, "retrain.driftedShare"],
    [{ retrain: { cooldownMs: "1h" } }, "retrain.cooldownMs"],
    [{ conversionEvents: [] }, "conversionEvents"],
    [{ conversionEvents: ["*", "Purchase"] }, "conversionEvents"],
    [{ conversionEvents: ["Pur\nchase"] }, "conversionEvents.0"],
    [{ drift: { psiTreshold: 0.2 } }, "drift"],
    [{ windowSize: 10 }, "(body)"],
  ])("refuses %j naming %s", (value, field) => {
    const { issues, message } = refusal(value);
    expect(issues[0]?.field).toBe(field);
    expect(message).toContain(field);
  });

  it("says where conversion events belong when a model's settings name them", () => {
    const { issues } = refusal({ conversionEvents: ["Lead"] }, "model");
    expect(issues[0]?.message).toContain("tenant setting");
  });

  it("relabels a signal with a tenant's conversion events", () => {
    const signal = {
      tenant: "t",
      eventName: "Lead",
      eventId: "e",
      eventTimeMs: 1,
      predictionId: undefined,
      clickIds: ["c"],
      conversion: true,
    };
    expect(signalForConversions(signal, new Set(["Purchase"]))).toBeUndefined();
    expect(signalForConversions(signal, new Set(["Lead"]))).toBe(signal);
    expect(signalForConversions({ ...signal, predictionId: "p" }, new Set(["Purchase"]))).toEqual({
      ...signal,
      predictionId: "p",
      conversion: false,
    });
    expect(signalForConversions(signal, new Set())).toBe(signal);
  });
});
