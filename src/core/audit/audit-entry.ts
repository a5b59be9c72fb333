/** The audit log's entry: the admin actions recorded, the entry a writer appends, and its one INSERT. */

/** Every admin action the log records, as `<resource>.<verb>`. */
export const AUDIT_ACTIONS = [
  "api-key.create",
  "api-key.revoke",
  "api-key.rotate",
  "api-key.update",
  "model.upload",
  "model.promote",
  "model.rollback",
  "webhook.create",
  "webhook.delete",
  "destination.create",
  "destination.delete",
  "monitoring-settings.update",
  "person.erase",
  "tenant.delete",
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who acted: a request's API key (by id, never the key) or an operator's command. */
export type AuditActor = { kind: "api-key"; keyId: string } | { kind: "operator"; name: string };

/** What a writer appends. `before`/`after` hold ids and fingerprints, never a secret. */
export interface AuditEntryInput {
  tenant: string;
  actor: AuditActor;
  requestId: string;
  action: AuditAction;
  /** `<kind>:<id>`, e.g. `webhook:3f1c…`, `model:conversion@3`, `api-key:key_…`. */
  target: string;
  before: unknown;
  after: unknown;
}

/** A stored entry, as the log answers it. */
export interface AuditEntry {
  id: string;
  tenant: string;
  recordedAtMs: number;
  actor: AuditActor;
  requestId: string;
  action: AuditAction;
  target: string;
  before: unknown;
  after: unknown;
}

/** Keys whose values must never reach the log, whatever a caller hands in. */
const SECRET_KEYS = /^(secret|secretSealed|token|accessToken|key|apiKey|keyHash|password)$/i;

/**
 * A state for `before_state`/`after_state`: plain JSON with any secret-named field dropped (a
 * second line of defence; writers already pass ids and fingerprints only).
 */
export function auditState(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.map(auditState);
  if (typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (!SECRET_KEYS.test(k) && v !== undefined) out[k] = auditState(v);
  }
  return out;
}

/** The INSERT appending one entry; `RETURNING` gives the id and the database's time (epoch ms). */
export function auditInsertStatement(entry: AuditEntryInput): { text: string; values: unknown[] } {
  const before = auditState(entry.before);
  const after = auditState(entry.after);
  return {
    text: `INSERT INTO audit_log (tenant_id, actor_kind, actor_id, request_id, action, target,
             before_state, after_state)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)
           RETURNING entry_id::text AS id, floor(extract(epoch FROM recorded_at) * 1000)::bigint::text AS at_ms`,
    values: [
      entry.tenant,
      entry.actor.kind,
      entry.actor.kind === "api-key" ? entry.actor.keyId : entry.actor.name,
      entry.requestId,
      entry.action,
      entry.target,
      before === null ? null : JSON.stringify(before),
      after === null ? null : JSON.stringify(after),
    ],
  };
}
