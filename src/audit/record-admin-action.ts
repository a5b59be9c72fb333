/** Appends the audit entry of the admin action a request is about to make; a failure stops the action. */
import type { Context } from "hono";
import type { AuditAction } from "#core/audit";
import { DependencyUnavailableError, DriftlineError } from "#core/errors";
import type { AppEnv } from "../app-env";

export interface AdminAction {
  action: AuditAction;
  target: string;
  /** The target's state before the change (ids and fingerprints, never a secret); null if new. */
  before: unknown;
  /** Its state after the change; null when removed. */
  after: unknown;
}

/**
 * Call once per admin action, after every check that can refuse the request and immediately
 * before the change is applied. If the entry cannot be written, this throws and the caller never
 * reaches the change, so no change is ever made without its entry.
 */
export async function recordAdminAction(c: Context<AppEnv>, action: AdminAction): Promise<void> {
  try {
    await c.var.audit.append({
      tenant: c.var.auth.tenant,
      actor: { kind: "api-key", keyId: c.var.auth.keyId },
      requestId: c.var.requestId,
      ...action,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DependencyUnavailableError(
      `Nothing was changed: the audit log could not record this ${action.action} (${reason}).`,
      { cause: error, retryable: error instanceof DriftlineError ? error.retryable : true },
    );
  }
}
