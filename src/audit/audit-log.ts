/** The AuditLog port: appending admin actions and reading a tenant's entries, as the routes use it. */
import type { AuditAction, AuditEntry, AuditEntryInput } from "#core/audit";
import type { TimeKey } from "../read-api/read-store";

export interface AuditQuery {
  tenant: string;
  /** [fromMs, toMs) on the time the entry was recorded. */
  fromMs: number;
  toMs: number;
  action?: AuditAction;
  /** Newest first: the page starts below this key. */
  before?: TimeKey;
  /** A log returns up to limit + 1 entries so the caller can tell there is more. */
  limit: number;
}

export interface AuditPageEntry extends AuditEntry {
  key: TimeKey;
}

/** One request's view of the audit log; every read is scoped by tenant, and nothing edits an entry. */
export interface AuditLog {
  /** Appends one entry; throws (a 503) when it cannot, and the admin action must then not happen. */
  append(entry: AuditEntryInput): Promise<{ id: string; recordedAtMs: number }>;
  list(query: AuditQuery): Promise<AuditPageEntry[]>;
  close(): Promise<void>;
}

/** What the services bundle holds for the audit log: a log opened per request. */
export interface AuditServices {
  open(): AuditLog;
}
