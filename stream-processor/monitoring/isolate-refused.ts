/** Finds which tenants and records of a batch monitoring cannot store, so that the rest is stored without them. */

export type AttemptResult = { applied: true } | { applied: false; error: unknown };

/**
 * Runs `items` (of `tenants`) in one savepoint: applied, or refused and rolled back. A transient
 * failure is thrown instead, and the whole batch is retried.
 */
export type Attempt<T> = (
  items: readonly T[],
  tenants: readonly string[],
) => Promise<AttemptResult>;

export interface IsolationOutcome<T> {
  /** Records the database refused on their own; the rest of their tenant was applied. */
  refused: { item: T; error: unknown }[];
  /** Tenants whose part failed without one of their records to blame (or too many to find). */
  failedTenants: { tenant: string; items: readonly T[]; error: unknown }[];
  /** Attempts made, the first (the whole batch) included. */
  attempts: number;
}

/** Attempts one tenant may take to find its refused records: ~2·k·log2(n) for k of n. */
export const MAX_ATTEMPTS_PER_TENANT = 64;

/**
 * Applies the batch whole; when that is refused, each tenant on its own, and within a refused
 * tenant, halves of its records until each refused record stands alone (bisection), so that one
 * bad value costs only its own record. A tenant whose part fails even without any of its records
 * (its due evaluations, its stored state) fails alone, with all its records. Tenants are tried in
 * sorted order, so a retry of the batch makes the same attempts.
 */
export async function applyIsolatingRefused<T>(
  items: readonly T[],
  tenants: Iterable<string>,
  tenantOf: (item: T) => string,
  attempt: Attempt<T>,
): Promise<IsolationOutcome<T>> {
  const outcome: IsolationOutcome<T> = { refused: [], failedTenants: [], attempts: 1 };
  const all = [...new Set(tenants)].sort();
  if ((await attempt(items, all)).applied) return outcome;

  const byTenant = new Map<string, T[]>(all.map((t) => [t, []]));
  for (const item of items) {
    const tenant = tenantOf(item);
    const list = byTenant.get(tenant);
    if (list === undefined) byTenant.set(tenant, [item]);
    else list.push(item);
  }
  for (const tenant of [...byTenant.keys()].sort()) {
    const own = byTenant.get(tenant) ?? [];
    let budget = MAX_ATTEMPTS_PER_TENANT;
    const tryApply = async (subset: readonly T[]) => {
      budget -= 1;
      outcome.attempts += 1;
      return attempt(subset, [tenant]);
    };
    const whole = await tryApply(own);
    if (whole.applied) continue;
    // Without its records: does the tenant fail anyway (then no record is to blame)?
    const bare = own.length === 0 ? whole : await tryApply([]);
    if (!bare.applied) {
      outcome.failedTenants.push({ tenant, items: own, error: bare.error });
      continue;
    }
    const unresolved: T[] = [];
    const bisect = async (subset: readonly T[], error: unknown): Promise<void> => {
      if (subset.length === 1) {
        outcome.refused.push({ item: subset[0] as T, error });
        return;
      }
      const mid = Math.ceil(subset.length / 2);
      for (const half of [subset.slice(0, mid), subset.slice(mid)]) {
        if (budget <= 0) {
          unresolved.push(...half);
          continue;
        }
        const result = await tryApply(half);
        if (!result.applied) await bisect(half, result.error);
      }
    };
    await bisect(own, whole.error);
    if (unresolved.length > 0) {
      outcome.failedTenants.push({ tenant, items: unresolved, error: whole.error });
    }
  }
  return outcome;
}
