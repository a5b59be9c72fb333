/** The port the key admin routes use: a tenant's keys by id, their limits and their rotation. */
import type { ApiKeyRecord, KeyRateLimit, RotatedApiKey } from "#core/api-keys";

export interface KeyAdminStore {
  /**
   * Sets (or with null, removes) the key's own request limit. Undefined when the tenant has no
   * live key of that id.
   */
  setRateLimit(
    tenant: string,
    keyId: string,
    rateLimit: KeyRateLimit | null,
    /** Called with the record before and after, just before the change is written; a throw stops it. */
    beforeChange?: KeyChangeHook,
  ): Promise<ApiKeyRecord | undefined>;
  /**
   * Issues a new key in place of `keyId`, which keeps working for `graceSeconds`. Undefined when
   * the tenant has no key of that id; a ConflictError when it cannot be rotated (revoked, expired,
   * already rotated).
   */
  rotate(
    tenant: string,
    keyId: string,
    options: { graceSeconds: number; now: Date; beforeChange?: KeyChangeHook },
  ): Promise<RotatedApiKey | undefined>;
}

/** Sees a key's record before and after a change, before it is written (the audit entry). */
export type KeyChangeHook = (before: ApiKeyRecord, after: ApiKeyRecord) => Promise<void>;
