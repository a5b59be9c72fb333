import { describe, expect, it } from "vitest";
import { z } from "zod";
import { LOCAL_WEBHOOK_ENCRYPTION_KEY } from "#core/webhooks";
import {
  applyDeprecatedAliases,
  monitoringConfigFrom,
  monitoringEnvIssues,
  monitoringEnvShape,
} from "./monitoring-config";

const schema = z.object(monitoringEnvShape);
const parse = (env: Record<string, string>) => schema.parse(env);

describe("MONITORING_* settings", () => {
  it("has documented defaults", () => {
    const c = monitoringConfigFrom(parse({}));
    expect(c.enabled).toBe(true);
    expect(c.settings.sliding).toEqual({ size: 2000, stride: 250, minSample: 500 });
    expect(c.settings.retrain).toMatchObject({
      psiAbove: 0.25,
      psiConsecutive: 3,
      aucDelta: 0.05,
      driftedShare: undefined,
      maxModelAgeMs: undefined,
    });
    expect(c.webhooks).toEqual({
      operator: { urls: [], secret: undefined },
      encryptionKey: LOCAL_WEBHOOK_ENCRYPTION_KEY,
      timeoutMs: 5000,
      maxAttempts: 8,
    });
    expect(c.settings.labels.conversionEvents).toEqual([
      "Purchase",
      "Lead",
      "CompleteRegistration",
      "Subscribe",
      "StartTrial",
      "SubmitApplication",
      "Schedule",
      "Contact",
      "Donate",
    ]);
  });

  it("takes * as any event (the core's empty list)", () => {
    const any = monitoringConfigFrom(parse({ MONITORING_CONVERSION_EVENTS: "*" }));
    expect(any.settings.labels.conversionEvents).toEqual([]);
  });

  it("parses lists, off switches and days", () => {
    const c = monitoringConfigFrom(
      parse({
        MONITORING_RETRAIN_PSI_ABOVE: "off",
        MONITORING_RETRAIN_MAX_MODEL_AGE_DAYS: "30",
        MONITORING_CONVERSION_EVENTS: "Purchase, Lead",
        MONITORING_DRIFT_DECIDE_BY: "psi",
      }),
    );
    expect(c.settings.retrain.psiAbove).toBeUndefined();
    expect(c.settings.retrain.maxModelAgeMs).toBe(30 * 86_400_000);
    expect(c.settings.labels.conversionEvents).toEqual(["Purchase", "Lead"]);
    expect(c.settings.drift.decideBy).toEqual(["psi"]);
  });

  it("names the bad key", () => {
    expect(
      monitoringEnvIssues(parse({ MONITORING_OPERATOR_WEBHOOK_URLS: "https://a.example/h" })),
    ).toEqual([
      [
        "MONITORING_OPERATOR_WEBHOOK_SECRET",
        "is required when MONITORING_OPERATOR_WEBHOOK_URLS is set",
      ],
    ]);
    const issues = monitoringEnvIssues(
      parse({ MONITORING_WINDOW_SIZE: "100", MONITORING_WINDOW_STRIDE: "200" }),
    );
    expect(issues[0]![0]).toBe("MONITORING_WINDOW_STRIDE");
    expect(monitoringEnvIssues(parse({ MONITORING_KS_ALPHA: "2" }))[0]![0]).toBe(
      "MONITORING_KS_ALPHA",
    );
    expect(
      monitoringEnvIssues(
        parse({
          MONITORING_RETENTION_HOURS: "24",
          MONITORING_ATTRIBUTION_WINDOW_MS: String(2 * 86_400_000),
        }),
      )[0]![0],
    ).toBe("MONITORING_RETENTION_HOURS");
    expect(schema.safeParse({ MONITORING_RETRAIN_AUC_DELTA: "lots" }).success).toBe(false);
    expect(schema.safeParse({ MONITORING_OPERATOR_WEBHOOK_URLS: "ftp://x" }).success).toBe(false);
  });

  it("takes the deprecated operator sink names under their current names", () => {
    const secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0";
    const old = applyDeprecatedAliases({
      MONITORING_WEBHOOK_URLS: "https://ops.example/h",
      MONITORING_WEBHOOK_SECRET: secret,
    });
    expect(old.env).toEqual({
      MONITORING_OPERATOR_WEBHOOK_URLS: "https://ops.example/h",
      MONITORING_OPERATOR_WEBHOOK_SECRET: secret,
    });
    expect(old.used).toEqual([
      { name: "MONITORING_WEBHOOK_URLS", replacedBy: "MONITORING_OPERATOR_WEBHOOK_URLS" },
      { name: "MONITORING_WEBHOOK_SECRET", replacedBy: "MONITORING_OPERATOR_WEBHOOK_SECRET" },
    ]);
    expect(old.problems).toEqual([]);
    expect(monitoringConfigFrom(parse(old.env)).webhooks.operator).toEqual({
      urls: ["https://ops.example/h"],
      secret,
    });
    // Both names alike: fine; both names apart: which one is meant is not guessed.
    const same = applyDeprecatedAliases({
      MONITORING_WEBHOOK_URLS: "https://ops.example/h",
      MONITORING_OPERATOR_WEBHOOK_URLS: "https://ops.example/h",
    });
    expect(same.problems).toEqual([]);
    expect(same.env).toEqual({ MONITORING_OPERATOR_WEBHOOK_URLS: "https://ops.example/h" });
    const apart = applyDeprecatedAliases({
      MONITORING_WEBHOOK_URLS: "https://old.example/h",
      MONITORING_OPERATOR_WEBHOOK_URLS: "https://new.example/h",
    });
    expect(apart.problems.map((p) => p.key)).toEqual(["MONITORING_OPERATOR_WEBHOOK_URLS"]);
    expect(apart.problems[0]?.message).not.toContain("example");
  });
});
