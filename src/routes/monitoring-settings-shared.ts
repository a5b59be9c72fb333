/** What the monitoring settings routes share: the answer's shape and how the levels combine into it. */
import { z } from "@hono/zod-openapi";
import { ValidationError } from "#core/errors";
import {
  applyMonitoringOverrides,
  type MonitoringOverrides,
  type MonitoringSettings,
  monitoringSettingsView,
  parseMonitoringOverrides,
  resolveMonitoringSettings,
} from "#core/monitoring";
import type { MonitoringSettingsLayers, StoredMonitoringSettings } from "../read-api/read-store";
import { iso } from "./read-shared";

export const SETTINGS_TAG = "settings";

const orOff = (description: string) => z.number().nullable().openapi({ description });

export const SettingsViewSchema = z
  .object({
    drift: z.object({
      psiThreshold: z
        .number()
        .openapi({ description: "PSI at or above which a feature is drifted" }),
      ksAlpha: z.number().openapi({ description: "KS significance level" }),
      ksMinEffect: z
        .number()
        .openapi({ description: "Smallest KS D called drift (with p < alpha)" }),
      jensenShannonThreshold: z.number(),
      decideBy: z
        .array(z.string())
        .openapi({ description: "Tests whose verdict makes a feature drifted" }),
    }),
    alerts: z.object({
      confirmations: z.number().int().openapi({
        description: "Evaluations in a row before a new drift or performance state is alerted",
      }),
    }),
    performance: z.object({
      degradedAucDelta: z.number().openapi({ description: "Degraded when AUC < baseline − this" }),
    }),
    retrain: z.object({
      psiAbove: orOff("Retrain when one feature's PSI ≥ this … (null: off)"),
      psiConsecutive: z
        .number()
        .int()
        .openapi({ description: "… for this many evaluations in a row" }),
      driftedShare: orOff("Retrain when this share of features drifted (null: off)"),
      aucDelta: orOff("Retrain when AUC < baseline − this (null: off)"),
      maxModelAgeDays: orOff("Retrain models trained longer ago than this (null: off)"),
      cooldownMs: z
        .number()
        .int()
        .openapi({ description: "Least time between two requests for one model" }),
    }),
    conversionEvents: z
      .array(z.string())
      .openapi({ description: 'Event names that label predictions; ["*"] = any event' }),
  })
  .openapi("MonitoringSettingsValues");

export const MonitoringSettingsSchema = z
  .object({
    scope: z.enum(["tenant", "model"]),
    model: z.string().optional(),
    overrides: z
      .record(z.string(), z.unknown())
      .openapi({ description: "The fields set at this level (what PUT replaces)" }),
    inherited: SettingsViewSchema.openapi({
      description:
        "The values below this level: the operator's defaults for the tenant, the tenant's for a model",
    }),
    effective: SettingsViewSchema.openapi({ description: "What the stream processor applies" }),
    defaultsFrom: z.enum(["stream-processor", "built-in"]).openapi({
      description:
        "Where the operator's defaults come from: the running processor's MONITORING_* settings, or Driftline's built-in values before a processor has started",
    }),
    revision: z.number().int().openapi({ description: "Bumped by every PUT; 0 when never set" }),
    updatedAt: z.iso.datetime().optional(),
  })
  .openapi("MonitoringSettings");

export type MonitoringSettingsAnswer = z.infer<typeof MonitoringSettingsSchema>;

/** The operator's settings: what the processor stored, else the built-in defaults. */
function operatorSettings(layers: MonitoringSettingsLayers): {
  settings: MonitoringSettings;
  from: "stream-processor" | "built-in";
} {
  const builtIn = resolveMonitoringSettings();
  if (layers.operator === undefined) return { settings: builtIn, from: "built-in" };
  try {
    const stored = parseMonitoringOverrides(layers.operator.settings, "tenant");
    return { settings: applyMonitoringOverrides(builtIn, stored), from: "stream-processor" };
  } catch {
    // A processor of another release may store fields this Worker does not know.
    return { settings: builtIn, from: "built-in" };
  }
}

/** A stored level's overrides, or none when it no longer parses (the processor skips it too). */
function storedLayer(
  level: StoredMonitoringSettings | undefined,
  scope: "tenant" | "model",
): MonitoringOverrides | undefined {
  if (level === undefined) return undefined;
  try {
    return parseMonitoringOverrides(level.overrides, scope);
  } catch {
    return undefined;
  }
}

/**
 * The answer for a level, with `replacing` in place of that level's stored overrides (a PUT's
 * body) when given.
 *
 * @throws ValidationError when `replacing` does not combine with the levels below it
 */
export function settingsAnswer(
  layers: MonitoringSettingsLayers,
  model: string | undefined,
  replacing?: { overrides: MonitoringOverrides; stored: StoredMonitoringSettings },
): MonitoringSettingsAnswer {
  const operator = operatorSettings(layers);
  const scope = model === undefined ? "tenant" : "model";
  const tenantLayer =
    scope === "tenant" && replacing ? replacing.overrides : storedLayer(layers.tenant, "tenant");
  const tenantSettings = safeApply(operator.settings, tenantLayer, scope === "tenant");
  const own = scope === "tenant" ? layers.tenant : layers.model;
  const ownLayer =
    scope === "tenant" ? tenantLayer : replacing ? replacing.overrides : storedLayer(own, "model");
  const inherited = scope === "tenant" ? operator.settings : tenantSettings;
  const effective = scope === "tenant" ? tenantSettings : safeApply(tenantSettings, ownLayer, true);
  const level = replacing?.stored ?? own;
  return {
    scope,
    ...(model === undefined ? {} : { model }),
    overrides: level?.overrides ?? {},
    inherited: monitoringSettingsView(inherited),
    effective: monitoringSettingsView(effective),
    defaultsFrom: operator.from,
    revision: level?.revision ?? 0,
    ...(level === undefined ? {} : { updatedAt: iso(level.updatedAtMs) }),
  };
}

/** Layers `layer` over `base`; a refused combination is a 400 when it is the caller's, else ignored. */
function safeApply(
  base: MonitoringSettings,
  layer: MonitoringOverrides | undefined,
  callers: boolean,
): MonitoringSettings {
  if (layer === undefined) return base;
  try {
    return applyMonitoringOverrides(base, layer);
  } catch (error) {
    if (callers && error instanceof ValidationError) {
      throw new ValidationError(
        `The monitoring settings do not combine with the values they are layered over: ${error.message}`,
        error.issues,
      );
    }
    return base;
  }
}
