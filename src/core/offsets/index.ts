/**
 * Consumer offsets kept in Postgres: the compare-and-set statement, where a partition resumes, and
 * the transaction a batch and its offsets are written in.
 */
export {
  ADVANCE_OFFSET_SQL,
  READ_OFFSET_SQL,
  type ResumeDecision,
  resumeDecision,
} from "./stored-offsets.ts";
export {
  type TransactionClient,
  type TransactionPool,
  withTransaction,
} from "./with-transaction.ts";
