/** Drains the monitoring outbox: alerts and retraining requests to Kafka, alerts to signed webhooks (tenant endpoints and operator sinks), with retries; never in a batch's path. */
import { type Kafka, Partitioners, type Producer } from "kafkajs";
import type { Logger } from "pino";
import { DependencyUnavailableError } from "#core/errors";
import { CLOUDEVENTS_JSON_CONTENT_TYPE, createWebhookSigner } from "#core/monitoring";
import { checkWebhookUrl, parseWebhookTarget } from "#core/webhooks";
import { type BackoffSpec, backoffMs } from "../batch/backoff-ms";
import type { Clock } from "../clock/clock";
import type { MonitoringOutbox, OutboxItem } from "./alert-outbox";
import { postWebhook, redactUrl, type WebhookAttempt, type WebhookSigner } from "./post-webhook";
import type { TenantEndpoints } from "./tenant-webhooks";

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
  webhooks: {
    /** The operator sinks' signing secret. */
    operatorSecret: string | undefined;
    timeoutMs: number;
    maxAttempts: number;
    /** Outside production: tenant endpoints on http and loopback are delivered to as well. */
    allowLocalUrls: boolean;
  };
  /** Tenant endpoints, looked up when their delivery is due, and their delivery log. */
  endpoints: TenantEndpoints;
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
  private readonly operatorSigner: WebhookSigner | undefined;

  constructor(private readonly deps: MonitoringPublisherDeps) {
    const secret = deps.webhooks.operatorSecret;
    this.operatorSigner = secret === undefined ? undefined : createWebhookSigner(secret);
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

  /** One delivery, by its target: an operator sink's URL or a tenant endpoint's id. */
  private async deliverWebhook(item: OutboxItem): Promise<void> {
    const target = parseWebhookTarget(item.target);
    if (target.kind === "operator") {
      const attempt =
        this.operatorSigner === undefined
          ? noAttempt("no MONITORING_OPERATOR_WEBHOOK_SECRET to sign with")
          : await this.post(item, target.url, this.operatorSigner);
      await this.settle(item, attempt, { target: redactUrl(target.url) });
      return;
    }
    const { endpoints, log } = this.deps;
    const logged = { tenant: item.tenant, endpointId: target.endpointId, alertId: item.refId };
    // Looked up now, not when queued: a deleted or disabled endpoint gets nothing more, and a
    // changed URL or secret applies to deliveries already queued.
    const endpoint = await endpoints.find(item.tenant, target.endpointId);
    if (endpoint === undefined) {
      await this.deps.outbox.markDelivered([item]);
      log.info(logged, "webhook endpoint deleted or disabled; its delivery is dropped");
      return;
    }
    const attemptedAtMs = this.deps.clock.nowMs();
    let attempt: WebhookAttempt;
    let final = false;
    if (!("secret" in endpoint)) {
      attempt = noAttempt(`the endpoint's secret cannot be opened: ${endpoint.reason}`);
      final = true;
    } else {
      // Checked again on delivery: the rules may be stricter here (production) than where the
      // URL was registered, and a stored row is not trusted to have passed them.
      const url = checkWebhookUrl(endpoint.url, { allowLocal: this.deps.webhooks.allowLocalUrls });
      const signer = url.ok ? signerFor(endpoint.secret) : undefined;
      if (!url.ok) {
        attempt = noAttempt(`the endpoint's URL is refused: ${url.message}`);
        final = true;
      } else if (signer === undefined) {
        attempt = noAttempt("the endpoint's secret is not a Standard Webhooks secret");
        final = true;
      } else {
        attempt = await this.post(item, url.url, signer);
      }
    }
    const nextAttemptAtMs = await this.settle(item, attempt, logged, final);
    await endpoints
      .record({
        tenant: item.tenant,
        endpointId: target.endpointId,
        eventId: item.refId,
        eventType: eventTypeOf(item.payload),
        attempt: item.attempts + 1,
        statusCode: attempt.statusCode,
        error: attempt.problem,
        durationMs: attempt.durationMs,
        attemptedAtMs,
        nextAttemptAtMs,
      })
      .catch((error: unknown) =>
        log.warn({ ...logged, err: error }, "recording a webhook delivery attempt failed"),
      );
  }

  private post(item: OutboxItem, url: string, signer: WebhookSigner): Promise<WebhookAttempt> {
    return postWebhook(item, {
      url,
      signer,
      nowMs: this.deps.clock.nowMs(),
      timeoutMs: this.deps.webhooks.timeoutMs,
      fetch: this.deps.fetch ?? fetch,
    });
  }

  /**
   * Marks the delivery done, due again after back-off, or given up (after the last attempt, or
   * at once when `final`: retrying cannot help); returns when the next attempt is due, if any.
   */
  private async settle(
    item: OutboxItem,
    attempt: WebhookAttempt,
    logged: Record<string, unknown>,
    final = false,
  ): Promise<number | undefined> {
    const { outbox, clock, webhooks, log } = this.deps;
    if (attempt.problem === undefined) {
      await outbox.markDelivered([item]);
      this.deps.observer?.delivered("webhook", 1);
      return undefined;
    }
    const n = item.attempts + 1;
    const gaveUp = final || n >= webhooks.maxAttempts;
    const nextAttemptAtMs = gaveUp ? undefined : clock.nowMs() + backoffMs(n, this.deps.backoff);
    await outbox.markFailed(item, attempt.problem, nextAttemptAtMs);
    this.deps.observer?.failed("webhook", gaveUp);
    log[gaveUp ? "error" : "warn"](
      { ...logged, alertId: item.refId, attempt: n, problem: attempt.problem },
      gaveUp ? "webhook delivery given up" : "webhook delivery failed; will retry",
    );
    return nextAttemptAtMs;
  }
}

/** A delivery that was not sent, with why. */
function noAttempt(problem: string): WebhookAttempt {
  return { statusCode: undefined, problem, durationMs: 0 };
}

/** A signer for a stored secret; undefined when it is malformed (its value is never reported). */
function signerFor(secret: string): WebhookSigner | undefined {
  try {
    return createWebhookSigner(secret);
  } catch {
    return undefined;
  }
}

/** The CloudEvent type of an alert payload, for the delivery log. */
function eventTypeOf(payload: unknown): string {
  const type = (payload as { type?: unknown } | null)?.type;
  return typeof type === "string" ? type : "unknown";
}
