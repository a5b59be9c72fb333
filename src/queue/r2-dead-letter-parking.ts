/** DeadLetterParking on R2: `parked/ingest/<day>/<message id>-<attempts>.json`, the bundle as queued. */
import type { DeadLetterParking, ParkedBundle } from "./queue-ports";

/** R2 custom metadata values are strings; a reason is a log line, not a document. */
const MAX_REASON_CHARS = 512;

export class R2DeadLetterParking implements DeadLetterParking {
  private readonly bucket: R2Bucket;
  private readonly now: () => Date;

  constructor(bucket: R2Bucket, now: () => Date = () => new Date()) {
    this.bucket = bucket;
    this.now = now;
  }

  /** The object key a bundle parked now gets (by day, so an operator can list one day's). */
  keyFor(bundle: Pick<ParkedBundle, "id" | "attempts">): string {
    const day = this.now().toISOString().slice(0, 10);
    return `parked/ingest/${day}/${encodeURIComponent(bundle.id)}-${bundle.attempts}.json`;
  }

  async park(bundle: ParkedBundle): Promise<void> {
    await this.bucket.put(this.keyFor(bundle), bundle.bundleText, {
      httpMetadata: { contentType: "application/json" },
      customMetadata: {
        messageId: bundle.id,
        attempts: String(bundle.attempts),
        reason: bundle.reason.slice(0, MAX_REASON_CHARS),
        parkedAt: this.now().toISOString(),
      },
    });
  }
}
