/** Prometheus metrics of the stream processor (prom-client): lag, throughput, latencies, dead letters. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { BatchObserver } from "../batch/handle-batch";
import type { SourceObserver } from "../kafka/kafkajs-event-source";

/** Seconds of history behind the events-per-second gauge. */
const RATE_WINDOW_S = 10;

export class StreamMetrics implements BatchObserver, SourceObserver {
  readonly registry = new Registry();
  private readonly records: Counter<"topic" | "outcome">;
  private readonly deadLetters: Counter<"topic">;
  private readonly batchSeconds: Histogram<"topic">;
  private readonly batchRecords: Histogram<"topic">;
  private readonly dbSeconds: Histogram<"operation">;
  private readonly lagGauge: Gauge<"topic" | "partition">;
  private readonly retries: Counter<"operation">;
  private readonly fencedBatches: Counter<"topic">;
  private readonly retentionSkipped: Counter<"topic">;
  private readonly dimensionOverflow: Counter<"dimension">;
  /** Counted records per whole second (epoch s), for the rate gauge. */
  private readonly perSecond = new Map<number, number>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) {
      // process_resident_memory_bytes, event loop lag, GC, heap: the usual Node process metrics.
      collectDefaultMetrics({ register: this.registry });
    }
    this.records = new Counter({
      name: "driftline_stream_records_total",
      help: "Records consumed, by outcome: counted, duplicate (not counted again), dead_lettered, skipped (test events, which the metrics leave out).",
      labelNames: ["topic", "outcome"],
      registers,
    });
    this.dimensionOverflow = new Counter({
      name: "driftline_stream_dimension_overflow_total",
      help: 'Events counted under "(other)" because their tenant already holds the most distinct values of the dimension (event_name or campaign) its windows may hold; the log names the tenant.',
      labelNames: ["dimension"],
      registers,
    });
    this.deadLetters = new Counter({
      name: "driftline_stream_dead_letters_total",
      help: "Records sent to the dead-letter topic.",
      labelNames: ["topic"],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: "driftline_stream_batch_duration_seconds",
      help: "From receiving a batch to its results and offset being committed.",
      labelNames: ["topic"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.batchRecords = new Histogram({
      name: "driftline_stream_batch_records",
      help: "Records per committed batch.",
      labelNames: ["topic"],
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000],
      registers,
    });
    this.dbSeconds = new Histogram({
      name: "driftline_stream_db_duration_seconds",
      help: "Postgres statement and transaction latency, by operation.",
      labelNames: ["operation"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.lagGauge = new Gauge({
      name: "driftline_stream_consumer_lag",
      help: "Records between the committed position and the end of the partition.",
      labelNames: ["topic", "partition"],
      registers,
    });
    this.retries = new Counter({
      name: "driftline_stream_retries_total",
      help: "Retries of a held batch because a dependency (database, Kafka) was unavailable.",
      labelNames: ["operation"],
      registers,
    });
    this.fencedBatches = new Counter({
      name: "driftline_stream_fenced_batches_total",
      help: "Batches not committed because another consumer had moved the stored offset.",
      labelNames: ["topic"],
      registers,
    });
    this.retentionSkipped = new Counter({
      name: "driftline_stream_retention_skipped_records_total",
      help: "Records deleted by Kafka retention before they could be processed.",
      labelNames: ["topic"],
      registers,
    });
    const perSecond = this.perSecond;
    new Gauge({
      name: "driftline_stream_events_per_second",
      help: `Records counted per second, averaged over the last ${RATE_WINDOW_S} s.`,
      registers,
      collect() {
        const now = Math.floor(Date.now() / 1000);
        let sum = 0;
        for (const [second, count] of perSecond) {
          if (second <= now - RATE_WINDOW_S) perSecond.delete(second);
          else if (second < now) sum += count;
        }
        this.set(sum / (RATE_WINDOW_S - 1));
      },
    });
  }

  batchCommitted(info: Parameters<BatchObserver["batchCommitted"]>[0]): void {
    this.records.inc({ topic: info.topic, outcome: "counted" }, info.counted);
    this.records.inc({ topic: info.topic, outcome: "duplicate" }, info.duplicates);
    this.records.inc({ topic: info.topic, outcome: "dead_lettered" }, info.deadLettered);
    if (info.deadLettered > 0) this.deadLetters.inc({ topic: info.topic }, info.deadLettered);
    if (info.skipped) this.records.inc({ topic: info.topic, outcome: "skipped" }, info.skipped);
    this.batchSeconds.observe({ topic: info.topic }, info.durationMs / 1000);
    this.batchRecords.observe({ topic: info.topic }, info.records);
    this.lag(
      info.topic,
      info.partition,
      Number(BigInt(info.highWatermark) - BigInt(info.nextOffset)),
    );
    const second = Math.floor(Date.now() / 1000);
    this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + info.counted);
    // Seconds past the rate window go here too, not only when /metrics is scraped: a processor
    // nobody scrapes would otherwise keep one entry for every second it committed something.
    if (this.perSecond.size > RATE_WINDOW_S + 1) {
      for (const s of this.perSecond.keys())
        if (s <= second - RATE_WINDOW_S) this.perSecond.delete(s);
    }
  }

  /** Seconds held for the events-per-second gauge (at most the rate window's, plus one). */
  get rateSeconds(): number {
    return this.perSecond.size;
  }

  retrying(info: { operation: string }): void {
    this.retries.inc({ operation: info.operation });
  }

  fenced(info: { topic: string }): void {
    this.fencedBatches.inc({ topic: info.topic });
  }

  lag(topic: string, partition: number, lag: number): void {
    this.lagGauge.set({ topic, partition: String(partition) }, Math.max(0, lag));
  }

  assignmentChanged(): void {
    // Series of partitions this member no longer owns would freeze at their last value.
    this.lagGauge.reset();
  }

  skippedByRetention(topic: string, _partition: number, count: number): void {
    this.retentionSkipped.inc({ topic }, count);
  }

  dimensionOverflowed(overflows: readonly { dimension: string; events: number }[]): void {
    for (const o of overflows) this.dimensionOverflow.inc({ dimension: o.dimension }, o.events);
  }

  /** For the database adapter's timing hook. */
  dbTimer = (operation: string, durationMs: number): void => {
    this.dbSeconds.observe({ operation }, durationMs / 1000);
  };
}
