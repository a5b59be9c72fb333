import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { resolveMonitoringSettings } from "./monitoring-settings.ts";

describe("resolveMonitoringSettings", () => {
  it("fills defaults and ties the drift minimum sample to the window's", () => {
    const s = resolveMonitoringSettings({ sliding: { size: 1000, stride: 100, minSample: 300 } });
    expect(s.sliding).toEqual({ size: 1000, stride: 100, minSample: 300 });
    expect(s.drift.minSampleSize).toBe(300);
    expect(s.drift.ks).toMatchObject({ alpha: 0.05, minEffect: 0.1 });
    expect(s.retrain).toMatchObject({ psiAbove: 0.25, psiConsecutive: 3, cooldownMs: 86_400_000 });
    expect(s.labels.attributionWindowMs).toBe(7 * 86_400_000);
  });

  it("names the bad field", () => {
    const bad = (input: Parameters<typeof resolveMonitoringSettings>[0], field: RegExp) =>
      expect(() => resolveMonitoringSettings(input)).toThrow(field);
    bad({ sliding: { size: 100, stride: 200 } }, /sliding\.stride/);
    bad({ sliding: { size: 0 } }, /sliding\.size/);
    bad({ drift: { ks: { alpha: 2 } } }, /ks\.alpha/);
    bad({ performance: { windowMs: 10 } }, /performance\.windowMs/);
    bad({ retrain: { driftedShare: 2 } }, /retrain\.driftedShare/);
    expect(() => resolveMonitoringSettings({ alerts: { confirmations: 0 } })).toThrow(
      ValidationError,
    );
  });
});
