/** The ModelRegistryTransaction port: registry changes applied inside a batch's transaction. */
import type { ModelRegistryRecord } from "#core/model-registry-message";
import type { BatchTransaction } from "../batch/batch-transaction";

export type RegistryApplyOutcome =
  /** Stored: a new version, or a promotion newer than the one held. */
  | { kind: "applied" }
  /** Already held exactly (a redelivered or repeated record). */
  | { kind: "unchanged" }
  /** A promotion older than the one held (the edge queue reordered them): ignored. */
  | { kind: "stale"; heldPromotedAt: string }
  /** The database refuses the data itself; nothing of it was written. */
  | { kind: "refused"; reason: string };

export interface ModelRegistryTransaction {
  /**
   * Applies one record, tenant-scoped: an upload upserts the version (manifest, reference) and
   * gives it the status the held pointer says; a promotion replaces the held pointer when it is
   * not older, then sets every version's status (champion, challenger with its share, candidate).
   * Throws when the database is unavailable (the batch is retried).
   */
  apply(record: ModelRegistryRecord): Promise<RegistryApplyOutcome>;
}

/** Opens the registry on a batch transaction: its writes commit with the batch's offsets. */
export type OpenModelRegistry = (tx: BatchTransaction) => ModelRegistryTransaction;
