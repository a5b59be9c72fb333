/** Prometheus metrics of the delivery service (prom-client): events by outcome, latencies, lag, pauses. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { SourceObserver } from "../kafka/kafkajs-event-source";
import type { DeliveryBatchObserver } from "./handle-delivery-batch";

export class DeliveryMetrics implements DeliveryBatchObserver, SourceObserver {
  readonly registry = new Registry();
  private readonly events: Counter<"kind" | "outcome">;
  private readonly requestDuration: Histogram<"kind">;
  private readonly batchDuration: Histogram;
  private readonly retries: Counter<"operation">;
  private readonly lagGauge: Gauge<"topic" | "partition">;
  private readonly parkedEvents: Gauge;
  private readonly pausedDestinations: Gauge;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.events = new Counter({
      name: "driftline_delivery_events_total",
      help: "Events by destination kind and outcome: forwarded (the destination took them), failed (an attempt failed transiently; they are retried or parked), parked (their destination is paused), dead_lettered (refused for good).",
      labelNames: ["kind", "outcome"],
      registers,
    });
    this.requestDuration = new Histogram({
      name: "driftline_delivery_request_duration_seconds",
      help: "One request to a destination, from sending to its answer (or failure).",
      labelNames: ["kind"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.batchDuration = new Histogram({
      name: "driftline_delivery_batch_duration_seconds",
      help: "From receiving a Kafka batch to its answers, parked events and offset being committed.",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.retries = new Counter({
      name: "driftline_delivery_retries_total",
      help: "Waits before a retry: deliver (a destination failed transiently), or a dependency (destination lookup, dead-letter, delivery commit) was unavailable.",
      labelNames: ["operation"],
      registers,
    });
    this.lagGauge = new Gauge({
      name: "driftline_delivery_consumer_lag",
      help: "Records between the delivery service's committed position and the end of the partition.",
      labelNames: ["topic", "partition"],
      registers,
    });
    this.parkedEvents = new Gauge({
      name: "driftline_delivery_parked_events",
      help: "Events parked for paused destinations, waiting to be sent (at the last look).",
      registers,
    });
    this.pausedDestinations = new Gauge({
      name: "driftline_delivery_paused_destinations",
      help: "Destinations with parked events (at the last look).",
      registers,
    });
  }

  forwarded(kind: string, events: number): void {
    this.events.inc({ kind, outcome: "forwarded" }, events);
  }
  failed(kind: string, events: number): void {
    this.events.inc({ kind, outcome: "failed" }, events);
  }
  deadLettered(kind: string, events: number): void {
    this.events.inc({ kind, outcome: "dead_lettered" }, events);
  }
  parked(kind: string, events: number): void {
    this.events.inc({ kind, outcome: "parked" }, events);
  }
  requestSeconds(kind: string, seconds: number): void {
    this.requestDuration.observe({ kind }, seconds);
  }
  batchSeconds(seconds: number): void {
    this.batchDuration.observe(seconds);
  }
  retrying(operation: string): void {
    this.retries.inc({ operation });
  }
  parkedNow(events: number, destinations: number): void {
    this.parkedEvents.set(events);
    this.pausedDestinations.set(destinations);
  }
  lag(topic: string, partition: number, lag: number): void {
    this.lagGauge.set({ topic, partition: String(partition) }, lag);
  }
  assignmentChanged(): void {
    // Partitions another member owns now are its to report.
    this.lagGauge.reset();
  }
  skippedByRetention(): void {}
}
