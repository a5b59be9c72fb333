/** The audit log's shared rules: actions, entries, secret-free states, the INSERT. */
export {
  AUDIT_ACTIONS,
  type AuditAction,
  type AuditActor,
  type AuditEntry,
  type AuditEntryInput,
  auditInsertStatement,
  auditState,
} from "./audit-entry.ts";
