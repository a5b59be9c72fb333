/** The MonitoringOutbox port: deliveries of alerts and retraining requests queued by batch transactions, drained by the publisher. */

/** One queued delivery. */
export interface OutboxItem {
  id: string;
  tenant: string;
  channel: "alerts" | "retrain-requests" | "webhook";
  refId: string;
  /** Webhook URL; '' for Kafka. */
  target: string;
  messageKey: string;
  payload: unknown;
  /** Attempts made before this one. */
  attempts: number;
}

/** The publisher's side of the outbox (outside batch transactions). */
export interface MonitoringOutbox {
  /** Claims up to `limit` due deliveries of the channels for `leaseMs` (others skip them meanwhile). */
  claimDue(
    channels: readonly OutboxItem["channel"][],
    limit: number,
    leaseMs: number,
  ): Promise<OutboxItem[]>;
  /** Marks deliveries done (and the alerts / requests published). */
  markDelivered(items: readonly OutboxItem[]): Promise<void>;
  /** Schedules another attempt, or gives up when `nextAttemptAtMs` is undefined. */
  markFailed(item: OutboxItem, error: string, nextAttemptAtMs: number | undefined): Promise<void>;
  /** Deliveries neither done nor given up (for metrics). */
  pendingCount(): Promise<number>;
  /** Deletes predictions, label keys and delivered outbox rows older than `beforeMs`. */
  purge(beforeMs: number): Promise<{ predictions: number; labelKeys: number; outbox: number }>;
}
