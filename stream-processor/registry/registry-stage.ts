/** The model registry as a stage of the `models` topic's batch transactions: applies each record, reports the refused ones, logs what committed. */
import type { Logger } from "pino";
import type { ModelRegistryRecord } from "#core/model-registry-message";
import type { TransactionStage, TransactionStageOutcome } from "../batch/commit-each-batch";
import type { RefusedRecord } from "../batch/handle-batch";
import type { OpenModelRegistry, RegistryApplyOutcome } from "./model-registry-store";

/** A decoded registry record and its offset. */
export interface RegistryInput {
  offset: string;
  record: ModelRegistryRecord;
}

/**
 * The writes are idempotent (a repeated record changes nothing), and each record runs in its own
 * savepoint (see the registry store), so a refused record is undone alone and the rest commits.
 */
export function registryStage(
  openRegistry: OpenModelRegistry,
  log: Logger,
): TransactionStage<RegistryInput> {
  return {
    async apply(tx, inputs): Promise<TransactionStageOutcome> {
      const registry = openRegistry(tx);
      const applied: { record: ModelRegistryRecord; outcome: RegistryApplyOutcome }[] = [];
      const refused: RefusedRecord[] = [];
      for (const { offset, record } of inputs) {
        const outcome = await registry.apply(record);
        if (outcome.kind === "refused") refused.push({ offset, reason: outcome.reason });
        else applied.push({ record, outcome });
      }
      const changed = applied.filter((a) => a.outcome.kind === "applied").length;
      return {
        counted: changed,
        duplicates: applied.length - changed,
        refused,
        committed: () => {
          for (const { record, outcome } of applied) logOutcome(log, record, outcome);
        },
      };
    },
  };
}

function logOutcome(log: Logger, record: ModelRegistryRecord, outcome: RegistryApplyOutcome): void {
  const where = { tenant: record.tenant, model: record.name, version: record.version };
  if (outcome.kind === "applied") {
    log.info(
      record.action === "uploaded"
        ? { ...where, trimmed: record.trimmed }
        : { ...where, active: record.active },
      record.action === "uploaded" ? "model version registered" : "model promotion registered",
    );
  } else if (outcome.kind === "stale" && record.action === "promoted") {
    log.info(
      { ...where, promotedAt: record.active.promotedAt, held: outcome.heldPromotedAt },
      "ignoring a promotion older than the registered one",
    );
  }
}
