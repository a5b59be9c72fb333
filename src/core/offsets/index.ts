/** Consumer offsets kept in Postgres: the compare-and-set statement and where a partition resumes. */
export {
  ADVANCE_OFFSET_SQL,
  READ_OFFSET_SQL,
  type ResumeDecision,
  resumeDecision,
} from "./stored-offsets.ts";
