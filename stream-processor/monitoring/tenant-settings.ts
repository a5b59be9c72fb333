/** Each tenant's (and model's) monitoring settings for a batch: the operator's MONITORING_* values with the tenant's stored fields on top, parsed once per revision. */
import type { Logger } from "pino";
import {
  applyMonitoringOverrides,
  type MonitoringOverrides,
  type MonitoringSettings,
  parseMonitoringOverrides,
  policyFromSettings,
  type RetrainPolicy,
} from "#core/monitoring";
import type { StoredOverrides } from "./monitoring-store";

/** The settings and retraining policy a model version is monitored with. */
export interface EffectiveSettings {
  settings: MonitoringSettings;
  policy: RetrainPolicy;
}

/** One batch's view: read in the batch's transaction, so a change applies from the next batch on. */
export interface BatchSettings {
  forModel(tenant: string, model: string): EffectiveSettings;
  /** The tenant's conversion event names; empty = every event. */
  conversionsOf(tenant: string): ReadonlySet<string>;
}

const id = (tenant: string, model: string) => `${tenant}\u0000${model}`;

/**
 * Keeps the parsed overrides and the combined settings by (tenant, model) and the revisions they
 * came from, so a batch pays one indexed read of its tenants' rows and re-parses only what changed.
 * Stored overrides are written by the Worker, which checks them; should a row still be refused
 * (the operator's values changed under it so that the combination is invalid), the layer is
 * left out, logged, and the operator's values apply.
 */
export class TenantSettings {
  private readonly parsed = new Map<
    string,
    { revision: number; overrides?: MonitoringOverrides }
  >();
  private readonly combined = new Map<string, { revisions: string; value: EffectiveSettings }>();
  private readonly base: EffectiveSettings;

  constructor(
    private readonly operator: MonitoringSettings,
    operatorPolicy: RetrainPolicy,
    private readonly log: Logger,
  ) {
    this.base = { settings: operator, policy: operatorPolicy };
  }

  /** The view of a batch from the rows `monitoringOverrides` read for its tenants. */
  forBatch(rows: readonly StoredOverrides[]): BatchSettings {
    const layers = new Map<string, { revision: number; overrides?: MonitoringOverrides }>();
    for (const row of rows) layers.set(id(row.tenant, row.model), this.parse(row));
    const forModel = (tenant: string, model: string): EffectiveSettings => {
      const t = layers.get(id(tenant, ""));
      const m = model === "" ? undefined : layers.get(id(tenant, model));
      if (t?.overrides === undefined && m?.overrides === undefined) return this.base;
      const revisions = `${t?.revision ?? 0}:${m?.revision ?? 0}`;
      const key = id(tenant, model);
      const cached = this.combined.get(key);
      if (cached?.revisions === revisions) return cached.value;
      const value = this.combine(tenant, model, t?.overrides, m?.overrides);
      this.combined.set(key, { revisions, value });
      return value;
    };
    return {
      forModel,
      conversionsOf: (tenant) => new Set(forModel(tenant, "").settings.labels.conversionEvents),
    };
  }

  private parse(row: StoredOverrides): { revision: number; overrides?: MonitoringOverrides } {
    const key = id(row.tenant, row.model);
    const known = this.parsed.get(key);
    if (known?.revision === row.revision) return known;
    let entry: { revision: number; overrides?: MonitoringOverrides };
    try {
      const overrides = parseMonitoringOverrides(
        row.overrides,
        row.model === "" ? "tenant" : "model",
      );
      entry = { revision: row.revision, overrides };
    } catch (error) {
      this.log.warn(
        { tenant: row.tenant, model: row.model, revision: row.revision, err: error },
        "stored monitoring settings are refused; the operator's values apply",
      );
      entry = { revision: row.revision };
    }
    this.parsed.set(key, entry);
    return entry;
  }

  private combine(
    tenant: string,
    model: string,
    tenantLayer: MonitoringOverrides | undefined,
    modelLayer: MonitoringOverrides | undefined,
  ): EffectiveSettings {
    let settings = this.operator;
    for (const [scope, layer] of [
      ["tenant", tenantLayer],
      ["model", modelLayer],
    ] as const) {
      if (layer === undefined) continue;
      try {
        settings = applyMonitoringOverrides(settings, layer);
      } catch (error) {
        this.log.warn(
          { tenant, model, scope, err: error },
          "monitoring settings do not combine with the operator's; this layer is left out",
        );
      }
    }
    return { settings, policy: policyFromSettings(settings.retrain) };
  }
}
