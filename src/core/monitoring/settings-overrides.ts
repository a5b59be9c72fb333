/** A tenant's (or one of its models') monitoring settings: the fields a tenant may change, their schema, and how they layer over the operator's settings. */
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import {
  type MonitoringSettings,
  type MonitoringSettingsInput,
  resolveMonitoringSettings,
} from "./monitoring-settings.ts";

const DAY_MS = 86_400_000;

/** "Any event" in a conversion event list (the settings' empty list). */
export const ANY_EVENT = "*";

const DRIFT_TEST_NAMES = ["psi", "ks", "jensen-shannon"] as const;

/** A number, or null to switch the retraining policy off. */
const orOff = (schema: z.ZodNumber) => schema.nullable().optional();

const driftSchema = z
  .object({
    psiThreshold: z.number().positive().max(10).optional(),
    ksAlpha: z.number().gt(0).lt(1).optional(),
    ksMinEffect: z.number().min(0).max(1).optional(),
    jensenShannonThreshold: z.number().gt(0).max(1).optional(),
    decideBy: z
      .array(z.enum(DRIFT_TEST_NAMES))
      .min(1, "needs at least one of psi, ks, jensen-shannon")
      .max(3)
      .refine((v) => new Set(v).size === v.length, "names each test at most once")
      .optional(),
  })
  .strict();

const retrainSchema = z
  .object({
    psiAbove: orOff(z.number().positive().max(10)),
    psiConsecutive: z.int().min(1).max(1000).optional(),
    driftedShare: orOff(z.number().gt(0).max(1)),
    aucDelta: orOff(z.number().min(0).lt(1)),
    maxModelAgeDays: orOff(z.number().positive().max(3650)),
    cooldownMs: z
      .int()
      .min(0)
      .max(365 * DAY_MS)
      .optional(),
  })
  .strict();

const eventName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^\s\p{Cc}]+(?: [^\s\p{Cc}]+)*$/u, "must be an event name as sent");

const conversionEventsSchema = z
  .array(eventName)
  .min(1, `needs at least one event name, or ["${ANY_EVENT}"] for any event`)
  .max(100)
  .refine(
    (v) => !v.includes(ANY_EVENT) || v.length === 1,
    `"${ANY_EVENT}" (any event) stands alone`,
  )
  .refine((v) => new Set(v).size === v.length, "names each event at most once");

const sections = {
  drift: driftSchema.optional(),
  alerts: z
    .object({ confirmations: z.int().min(1).max(100).optional() })
    .strict()
    .optional(),
  performance: z
    .object({ degradedAucDelta: z.number().min(0).lt(1).optional() })
    .strict()
    .optional(),
  retrain: retrainSchema.optional(),
};

/** What a model's settings may change: thresholds, confirmations and retraining policies. */
export const modelMonitoringOverridesSchema = z.object(sections).strict();

/** What a tenant's settings may change: the model fields plus the events that label predictions. */
export const tenantMonitoringOverridesSchema = z
  .object({ ...sections, conversionEvents: conversionEventsSchema.optional() })
  .strict();

export type MonitoringOverrides = z.infer<typeof tenantMonitoringOverridesSchema>;

/** Every field of the overrides, filled: the view of settings the API answers (null = off). */
export interface MonitoringSettingsView {
  drift: {
    psiThreshold: number;
    ksAlpha: number;
    ksMinEffect: number;
    jensenShannonThreshold: number;
    decideBy: string[];
  };
  alerts: { confirmations: number };
  performance: { degradedAucDelta: number };
  retrain: {
    psiAbove: number | null;
    psiConsecutive: number;
    driftedShare: number | null;
    aucDelta: number | null;
    maxModelAgeDays: number | null;
    cooldownMs: number;
  };
  conversionEvents: string[];
}

/** The tenant-adjustable part of full settings, in the overrides' shape. */
export function monitoringSettingsView(s: MonitoringSettings): MonitoringSettingsView {
  const r = s.retrain;
  return {
    drift: {
      psiThreshold: s.drift.psi.threshold,
      ksAlpha: s.drift.ks.alpha,
      ksMinEffect: s.drift.ks.minEffect,
      jensenShannonThreshold: s.drift.jensenShannon.threshold,
      decideBy: [...s.drift.decideBy],
    },
    alerts: { confirmations: s.alerts.confirmations },
    performance: { degradedAucDelta: s.performance.degradedAucDelta },
    retrain: {
      psiAbove: r.psiAbove ?? null,
      psiConsecutive: r.psiConsecutive,
      driftedShare: r.driftedShare ?? null,
      aucDelta: r.aucDelta ?? null,
      maxModelAgeDays: r.maxModelAgeMs === undefined ? null : r.maxModelAgeMs / DAY_MS,
      cooldownMs: r.cooldownMs,
    },
    conversionEvents:
      s.labels.conversionEvents.length === 0 ? [ANY_EVENT] : [...s.labels.conversionEvents],
  };
}

/** undefined: keep the value below; null: off; a number: this. */
const pick = <T>(v: T | null | undefined, below: T | undefined): T | undefined =>
  v === undefined ? below : v === null ? undefined : v;

/**
 * `base` with each layer's fields on top, in order (the tenant's, then the model's), checked as a
 * whole. Fields a tenant cannot change (windows, attribution, sources) stay the operator's.
 *
 * @throws ValidationError naming the first field whose combined value is refused
 */
export function applyMonitoringOverrides(
  base: MonitoringSettings,
  ...layers: readonly (MonitoringOverrides | undefined)[]
): MonitoringSettings {
  let s = base;
  for (const o of layers) {
    if (o === undefined) continue;
    const { minSampleSize: _fromSliding, ...drift } = s.drift;
    const input: MonitoringSettingsInput = {
      sliding: s.sliding,
      hourly: s.hourly,
      drift: {
        ...drift,
        psi: { ...drift.psi, threshold: o.drift?.psiThreshold ?? drift.psi.threshold },
        ks: {
          ...drift.ks,
          alpha: o.drift?.ksAlpha ?? drift.ks.alpha,
          minEffect: o.drift?.ksMinEffect ?? drift.ks.minEffect,
        },
        jensenShannon: {
          threshold: o.drift?.jensenShannonThreshold ?? drift.jensenShannon.threshold,
        },
        decideBy: o.drift?.decideBy ? [...o.drift.decideBy] : drift.decideBy,
      },
      labels: {
        ...s.labels,
        ...(o.conversionEvents === undefined
          ? {}
          : { conversionEvents: o.conversionEvents.includes(ANY_EVENT) ? [] : o.conversionEvents }),
      },
      performance: {
        ...s.performance,
        degradedAucDelta: o.performance?.degradedAucDelta ?? s.performance.degradedAucDelta,
      },
      alerts: { ...s.alerts, confirmations: o.alerts?.confirmations ?? s.alerts.confirmations },
      retrain: {
        psiAbove: pick(o.retrain?.psiAbove, s.retrain.psiAbove),
        psiConsecutive: o.retrain?.psiConsecutive ?? s.retrain.psiConsecutive,
        driftedShare: pick(o.retrain?.driftedShare, s.retrain.driftedShare),
        aucDelta: pick(o.retrain?.aucDelta, s.retrain.aucDelta),
        maxModelAgeMs: pick(
          o.retrain?.maxModelAgeDays === undefined || o.retrain.maxModelAgeDays === null
            ? o.retrain?.maxModelAgeDays
            : Math.round(o.retrain.maxModelAgeDays * DAY_MS),
          s.retrain.maxModelAgeMs,
        ),
        cooldownMs: o.retrain?.cooldownMs ?? s.retrain.cooldownMs,
      },
    };
    s = resolveMonitoringSettings(input);
  }
  return s;
}

/**
 * Parses stored or sent overrides; a model's may not name conversion events (labels are joined
 * per tenant, before a model is known).
 *
 * @throws ValidationError listing each refused field as `settings.<path>`
 */
export function parseMonitoringOverrides(
  value: unknown,
  scope: "tenant" | "model",
): MonitoringOverrides {
  const schema =
    scope === "tenant" ? tenantMonitoringOverridesSchema : modelMonitoringOverridesSchema;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => {
    const path = i.path.join(".");
    const unknownKeys = i.code === "unrecognized_keys" ? i.keys : [];
    const message =
      unknownKeys.includes("conversionEvents") && scope === "model"
        ? "conversionEvents is a tenant setting: set it on /v1/settings/monitoring"
        : unknownKeys.length > 0
          ? `unknown setting(s) ${unknownKeys.join(", ")}`
          : i.message;
    return { field: path === "" ? "(body)" : path, message };
  });
  const first = issues[0] ?? { field: "(body)", message: "is not valid" };
  throw new ValidationError(
    `The monitoring settings are refused: ${first.field} ${first.message}.`,
    issues,
  );
}
