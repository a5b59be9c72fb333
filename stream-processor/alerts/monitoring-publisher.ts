/** Drains the monitoring outbox: alerts and retraining requests to Kafka, alerts to signed webhooks, with retries; never in a batch's path. */
import { type Kafka, Partitioners, type Producer } from "kafkajs";
import type { Logger } from "pino";
import { DependencyUnavailableError } from "#core/errors";
import { CLOUDEVENTS_JSON_CONTENT_TYPE, createWebhookSigner } from "#core/monitoring";
import { type BackoffSpec, backoffMs } from "../batch/backoff-ms";
import type { Clock } from "../clock/clock";
import type { MonitoringOutbox, OutboxItem } from "./alert-outbox";
import { postWebhook, redactUrl, type WebhookSigner } from "./post-webhook";

/** Sends messages to Kafka topics (kafkajs below; a fake in tests). */
export interface MessageProducer {
  send(
    topic: string,
    messages: { key: string; value: string; headers: Record<string, string> }[],
  ): Promise<void>;
  close(): Promise<void>;
}

/** MessageProducer on kafkajs: idempotent, acks from all in-sync replicas. */
export class KafkajsMessageProducer implements MessageProducer {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // kafkajs' default since 2.0 (murmur2, as the Java client); naming it silences its warning.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async send(
    topic: string,
    messages: { key: string; value: string; headers: Record<string, string> }[],
  ) {
    try {
      this.connected ??= this.producer.connect();
      await this.connected;
      await this.producer.send({ topic, acks: -1, messages });
    } catch (error) {
      this.connected = undefined;
      throw new DependencyUnavailableError(
        `Cannot publish ${messages.length} message(s) to Kafka topic ${topic}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async close(): Promise<void> {
    if (this.connected !== undefined) await this.producer.disconnect().catch(() => {});
  }
}

export interface PublisherObserver {
  delivered(channel: OutboxItem["channel"], count: number): void;
  failed(channel: OutboxItem["channel"], gaveUp: boolean): void;
  pending(count: number): void;
}

export interface MonitoringPublisherDeps {
  outbox: MonitoringOutbox;
  producer: MessageProducer;
  topics: { alerts: string; retrainRequests: string };
  webhooks: { secret: string | undefined; timeoutMs: number; maxAttempts: number };
  backoff: BackoffSpec;
  intervalMs: number;
  clock: Clock;
  log: Logger;
  observer?: PublisherObserver;
  fetch?: typeof fetch;
}

/** Deliveries claimed per round. */
const BATCH = 100;
/** How long a claimed delivery is hidden from other publishers, ms. */
const LEASE_MS = 60_000;

/**
 * Two loops: Kafka (alerts, retrain-requests) and webhooks, so a slow or failing webhook never
 * holds back Kafka, and neither is in the batch path. A Kafka delivery is retried until it
 * succeeds; a webhook up to its maximum attempts (with back-off), then given up and kept in the
 * outbox with its last error. Delivery is at least once: consumers deduplicate by the
 * CloudEvent id (webhooks: `webhook-id`, stable across retries).
 */
export class MonitoringPublisher {
  private readonly stopSignal = new AbortController();
  private loops: Promise<void>[] = [];
  private readonly signer: WebhookSigner | undefined;

  constructor(private readonly deps: MonitoringPublisherDeps) {
    this.signer =
      deps.webhooks.secret === undefined ? undefined : createWebhookSigner(deps.webhooks.secret);
  }

  start(): void {
    if (this.loops.length > 0) return;
    this.loops = [
      this.loop("kafka", () => this.publishKafka()),
      this.loop("webhooks", () => this.deliverWebhooks()),
    ];
  }

  /** Stops after the round in hand. */
  async stop(): Promise<void> {
    this.stopSignal.abort();
    await Promise.all(this.loops);
    await this.deps.producer.close();
  }

  private async loop(name: string, round: () => Promise<number>): Promise<void> {
    const signal = this.stopSignal.signal;
    let failures = 0;
    while (!signal.aborted) {
      let claimed = 0;
      try {
        claimed = await round();
        failures = 0;
      } catch (error) {
        failures += 1;
        this.deps.log.warn(
          { err: error, loop: name, failures },
          "monitoring outbox round failed; retrying",
        );
        await this.deps.clock.sleep(backoffMs(failures, this.deps.backoff), signal);
        continue;
      }
      if (claimed < BATCH) await this.deps.clock.sleep(this.deps.intervalMs, signal);
    }
  }

  /** One Kafka round; returns how many deliveries it claimed. */
  async publishKafka(): Promise<number> {
    const { outbox, producer, topics, clock } = this.deps;
    const items = await outbox.claimDue(["alerts", "retrain-requests"], BATCH, LEASE_MS);
    for (const channel of ["alerts", "retrain-requests"] as const) {
      const batch = items.filter((i) => i.channel === channel);
      if (batch.length === 0) continue;
      const topic = channel === "alerts" ? topics.alerts : topics.retrainRequests;
      try {
        await producer.send(
          topic,
          batch.map((i) => ({
            key: i.messageKey,
            value: JSON.stringify(i.payload),
            headers: {
              "content-type":
                channel === "alerts" ? CLOUDEVENTS_JSON_CONTENT_TYPE : "application/json",
            },
          })),
        );
        await outbox.markDelivered(batch);
        this.deps.observer?.delivered(channel, batch.length);
      } catch (error) {
        const message = (error as Error).message;
        for (const item of batch) {
          await outbox.markFailed(
            item,
            message,
            clock.nowMs() + backoffMs(item.attempts + 1, this.deps.backoff),
          );
          this.deps.observer?.failed(channel, false);
        }
        this.deps.log.warn(
          { err: error, topic, count: batch.length },
          "publishing monitoring messages failed; will retry",
        );
      }
    }
    this.deps.observer?.pending(await outbox.pendingCount());
    return items.length;
  }

  /** One webhook round (deliveries in parallel); returns how many it claimed. */
  async deliverWebhooks(): Promise<number> {
    const items = await this.deps.outbox.claimDue(["webhook"], BATCH, LEASE_MS);
    await Promise.all(items.map((item) => this.deliverWebhook(item)));
    return items.length;
  }

  private async deliverWebhook(item: OutboxItem): Promise<void> {
    const { outbox, clock, webhooks, log } = this.deps;
    const problem = await postWebhook(item, {
      signer: this.signer,
      nowMs: clock.nowMs(),
      timeoutMs: webhooks.timeoutMs,
      fetch: this.deps.fetch ?? fetch,
    });
    if (problem === undefined) {
      await outbox.markDelivered([item]);
      this.deps.observer?.delivered("webhook", 1);
      return;
    }
    const attempt = item.attempts + 1;
    const gaveUp = attempt >= webhooks.maxAttempts;
    await outbox.markFailed(
      item,
      problem,
      gaveUp ? undefined : clock.nowMs() + backoffMs(attempt, this.deps.backoff),
    );
    this.deps.observer?.failed("webhook", gaveUp);
    log[gaveUp ? "error" : "warn"](
      { target: redactUrl(item.target), alertId: item.refId, attempt, problem },
      gaveUp ? "webhook delivery given up" : "webhook delivery failed; will retry",
    );
  }
}
