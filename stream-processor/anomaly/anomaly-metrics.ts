/** Prometheus metrics of anomaly detection (prom-client): minutes evaluated, detector updates, state changes, series refused by the cap, series retired. */
import { Counter, type Registry } from "prom-client";
import type { AnomalyObserver } from "./anomaly-stage";
import type { KpiMetric } from "./kpi-series";

export class AnomalyMetrics implements AnomalyObserver {
  private readonly minutes: Counter;
  private readonly updates: Counter;
  private readonly changes: Counter<"change" | "metric">;
  private readonly overflow: Counter;
  private readonly retirements: Counter<"metric">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.minutes = new Counter({
      name: "driftline_anomaly_minutes_evaluated_total",
      help: "Closed minute windows fed to the anomaly detectors (per tenant, summed).",
      registers,
    });
    this.updates = new Counter({
      name: "driftline_anomaly_detector_updates_total",
      help: "Detector updates (one per series and closed minute).",
      registers,
    });
    this.changes = new Counter({
      name: "driftline_anomaly_changes_total",
      help: "Anomalies detected and resolved, by metric.",
      labelNames: ["change", "metric"],
      registers,
    });
    this.overflow = new Counter({
      name: "driftline_anomaly_series_overflow_total",
      help: "New series not watched because their tenant reached STREAM_ANOMALY_MAX_SERIES_PER_TENANT (per batch and series).",
      registers,
    });
    this.retirements = new Counter({
      name: "driftline_anomaly_series_retired_total",
      help: "Series retired after STREAM_ANOMALY_RETIRE_AFTER_HOURS without data, by metric.",
      labelNames: ["metric"],
      registers,
    });
  }

  retired(metric: KpiMetric, count: number): void {
    this.retirements.inc({ metric }, count);
  }

  evaluated(minutes: number, updates: number): void {
    this.minutes.inc(minutes);
    this.updates.inc(updates);
  }

  changed(change: "detected" | "resolved", metric: KpiMetric): void {
    this.changes.inc({ change, metric });
  }

  seriesOverflowed(_tenant: string, refused: number): void {
    this.overflow.inc(refused);
  }
}
