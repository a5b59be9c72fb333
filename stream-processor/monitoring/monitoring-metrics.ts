/** Prometheus metrics of model monitoring (prom-client): drift values, evaluations, alerts, retraining requests, deliveries. */
import { LRUCache } from "lru-cache";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Alert, ModelDriftEvaluation, RetrainRequest } from "#core/monitoring";
import type { OutboxItem } from "../alerts/alert-outbox";
import type { PublisherObserver } from "../alerts/monitoring-publisher";
import type { MonitoringObserver } from "./monitoring-observer";
import type { ModelKey } from "./monitoring-store";

/** Versions with per-tenant drift series at most, by default. */
export const DEFAULT_MAX_LABELLED_VERSIONS = 1_000;

type DriftLabels = Record<"tenant" | "model" | "version" | "feature", string>;

const labelledId = (k: ModelKey) => `${k.tenant}\u0000${k.model}\u0000${k.version}`;

export class MonitoringMetrics implements MonitoringObserver, PublisherObserver {
  private readonly psi: Gauge<"tenant" | "model" | "version" | "feature">;
  private readonly ksStatistic: Gauge<"tenant" | "model" | "version" | "feature">;
  private readonly evaluations: Histogram<"kind">;
  private readonly alerts: Counter<"type">;
  private readonly requests: Counter;
  private readonly suppressedRequests: Counter;
  private readonly deliveries: Counter<"channel" | "outcome">;
  private readonly outboxPending: Gauge;
  private readonly failedBatches: Counter;
  private readonly refused: Counter<"kind" | "cause">;

  /**
   * Per-tenant drift gauges name tenants, models and features on an endpoint operators share,
   * and grow a series per retired version; off by default (the read API serves drift per tenant).
   */
  private readonly tenantLabels: boolean;
  /**
   * The versions with drift series, each with its features' label sets. A version's series go
   * when its sliding window leaves the stage's memory (`windowDropped`: a retired or idle version)
   * or when more than `maxLabelledVersions` versions have series, least recently evaluated first.
   */
  private readonly labelled: LRUCache<string, DriftLabels[]>;

  constructor(
    registry: Registry,
    options: { tenantLabels?: boolean; maxLabelledVersions?: number } = {},
  ) {
    this.tenantLabels = options.tenantLabels ?? false;
    this.labelled = new LRUCache<string, DriftLabels[]>({
      max: options.maxLabelledVersions ?? DEFAULT_MAX_LABELLED_VERSIONS,
      dispose: (series, _id, reason) => {
        if (reason === "set") return; // replaced by the same version's newer list
        for (const labels of series) {
          this.psi.remove(labels);
          this.ksStatistic.remove(labels);
        }
      },
    });
    const registers = [registry];
    this.psi = new Gauge({
      name: "driftline_monitoring_psi",
      help: "PSI of the latest sliding-window evaluation, per monitored feature (__score__: the score).",
      labelNames: ["tenant", "model", "version", "feature"],
      registers,
    });
    this.ksStatistic = new Gauge({
      name: "driftline_monitoring_ks_statistic",
      help: "Two-sample KS D of the latest sliding-window evaluation, per numeric feature.",
      labelNames: ["tenant", "model", "version", "feature"],
      registers,
    });
    this.evaluations = new Histogram({
      name: "driftline_monitoring_evaluation_seconds",
      help: "Time of one drift evaluation (all features of a version) or performance evaluation.",
      labelNames: ["kind"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.alerts = new Counter({
      name: "driftline_monitoring_alerts_total",
      help: "Alerts opened (one per state change), by CloudEvents type.",
      labelNames: ["type"],
      registers,
    });
    this.requests = new Counter({
      name: "driftline_monitoring_retrain_requests_total",
      help: "Retraining requests opened.",
      registers,
    });
    this.suppressedRequests = new Counter({
      name: "driftline_monitoring_retrain_suppressed_total",
      help: "Retraining policies that fired while their model was in its cooldown.",
      registers,
    });
    this.deliveries = new Counter({
      name: "driftline_monitoring_deliveries_total",
      help: "Outbox deliveries by channel (alerts, retrain-requests, webhook) and outcome (delivered, retry, given_up).",
      labelNames: ["channel", "outcome"],
      registers,
    });
    this.failedBatches = new Counter({
      name: "driftline_monitoring_failed_batches_total",
      help: "Batches whose monitoring part failed whole and was re-applied tenant by tenant, leaving out what was refused (their metrics committed).",
      registers,
    });
    this.refused = new Counter({
      name: "driftline_monitoring_refused_records_total",
      help: "Records left out of monitoring, by kind (prediction, label) and cause: unusable (the monitoring decoder skipped it, e.g. a score outside [0, 1] or text Postgres cannot store), refused (the database refused the record), tenant_failed (its tenant's monitoring failed on the batch without a record to blame).",
      labelNames: ["kind", "cause"],
      registers,
    });
    this.outboxPending = new Gauge({
      name: "driftline_monitoring_outbox_pending",
      help: "Deliveries waiting in the monitoring outbox.",
      registers,
    });
  }

  evaluated(kind: "sliding" | "hourly" | "performance", durationMs: number): void {
    this.evaluations.observe({ kind }, durationMs / 1000);
  }

  slidingDrift(key: ModelKey, evaluation: ModelDriftEvaluation): void {
    if (!this.tenantLabels) return;
    const id = labelledId(key);
    const series = this.labelled.get(id) ?? [];
    for (const { report } of evaluation.columns) {
      const labels = {
        tenant: key.tenant,
        model: key.model,
        version: key.version,
        feature: report.feature,
      };
      if (!series.some((s) => s.feature === labels.feature)) series.push(labels);
      if (report.psi.kind === "evaluated") this.psi.set(labels, report.psi.result.value);
      if (report.ks.kind === "evaluated") this.ksStatistic.set(labels, report.ks.result.statistic);
    }
    if (!this.labelled.has(id)) this.labelled.set(id, series);
  }

  windowDropped(key: ModelKey): void {
    this.labelled.delete(labelledId(key));
  }

  /** Versions with per-tenant drift series on /metrics. */
  get labelledVersions(): number {
    return this.labelled.size;
  }

  alerted(alerts: readonly Alert[]): void {
    for (const a of alerts) this.alerts.inc({ type: a.type });
  }

  retrainRequested(requests: readonly RetrainRequest[], suppressed: number): void {
    if (requests.length > 0) this.requests.inc(requests.length);
    if (suppressed > 0) this.suppressedRequests.inc(suppressed);
  }

  delivered(channel: OutboxItem["channel"], count: number): void {
    this.deliveries.inc({ channel, outcome: "delivered" }, count);
  }

  failed(channel: OutboxItem["channel"], gaveUp: boolean): void {
    this.deliveries.inc({ channel, outcome: gaveUp ? "given_up" : "retry" });
  }

  batchFailed(): void {
    this.failedBatches.inc();
  }

  refusedRecords(
    kind: "prediction" | "label",
    cause: "unusable" | "refused" | "tenant_failed",
    count = 1,
  ): void {
    this.refused.inc({ kind, cause }, count);
  }

  pending(count: number): void {
    this.outboxPending.set(count);
  }
}
