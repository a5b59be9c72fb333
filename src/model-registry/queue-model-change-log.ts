/** ModelChangeLog on the ingest queue: registry notices as `models` messages, keyed `tenant:model`. */
import { type ModelRegistryNotice, modelRegistryKey } from "#core/model-registry-message";
import type { IngestMessage } from "../queue/ingest-message";
import type { ModelChangeLog } from "./model-registry-ports";

export class QueueModelChangeLog implements ModelChangeLog {
  constructor(private readonly queue: Queue<IngestMessage>) {}

  async record(notices: readonly ModelRegistryNotice[]): Promise<void> {
    if (notices.length === 0) return;
    // One sendBatch: a promotion's notices are queued together or not at all. Each body is a few
    // hundred bytes, far under the 128 KB a message may hold; the manifest is added on the way
    // to Kafka by the queue consumer.
    await this.queue.sendBatch(
      notices.map((notice) => ({
        body: {
          topic: "models",
          key: modelRegistryKey(notice.tenant, notice.name),
          value: notice,
        } satisfies IngestMessage,
        contentType: "json" as const,
      })),
    );
  }
}
