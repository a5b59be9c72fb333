/** Caps the distinct event names and campaigns of a tenant's windows: values past the cap count as `(other)`. */
import type { WindowObservation } from "#core/windows";

/** The value events past a tenant's cap are counted under, in both dimensions. */
export const OVERFLOW_VALUE = "(other)";

export type Dimension = "event_name" | "campaign";

export interface DimensionCaps {
  /** Most distinct event names per tenant. */
  eventNames: number;
  /** Most distinct campaigns per tenant ("" — no campaign — is not counted). */
  campaigns: number;
}

export interface DimensionValue {
  tenant: string;
  dimension: Dimension;
  value: string;
}

/** What the store answered for the values asked in one transaction. */
export interface AdmissionAnswer {
  asked: readonly DimensionValue[];
  /** Of `asked`, those admitted (now or before); the others are past the tenant's cap. */
  admitted: readonly DimensionValue[];
}

/** Events of one tenant counted under `(other)` in one transaction. */
export interface Overflow {
  tenant: string;
  dimension: Dimension;
  events: number;
}

/** Refused values remembered per tenant and dimension; past it the memory starts over. */
const MAX_REFUSED_REMEMBERED = 10_000;

interface TenantValues {
  admitted: Record<Dimension, Set<string>>;
  /** Values seen past the cap. A tenant's admitted values never leave, so a refusal lasts. */
  refused: Record<Dimension, Set<string>>;
}

const key = (v: DimensionValue) => `${v.tenant}\u0000${v.dimension}\u0000${v.value}`;

/**
 * The in-process memory of which values each tenant's windows may hold. The store's table is the
 * truth; this spares a query for every value already answered, so a batch of known values costs
 * two set lookups per event. It learns only from committed transactions (`remember`), so a
 * rolled-back batch leaves no admission behind in memory either.
 */
export class DimensionAdmission {
  private readonly tenants = new Map<string, TenantValues>();

  constructor(readonly caps: DimensionCaps) {}

  /**
   * Values of `observations` this process has no answer for yet, each once, and whether every
   * value is known to be admitted (then `cap` has nothing to do). One pass, two set lookups per
   * event and no allocation for known values: this runs for every counted record.
   */
  unknownValues(observations: readonly WindowObservation[]): {
    unknown: DimensionValue[];
    allAdmitted: boolean;
  } {
    const unknown: DimensionValue[] = [];
    let allAdmitted = true;
    let asked: Set<string> | undefined;
    const check = (values: TenantValues | undefined, o: WindowObservation, d: Dimension) => {
      const value = d === "event_name" ? o.eventName : o.campaign;
      if (isFree(value) || values?.admitted[d].has(value)) return;
      allAdmitted = false;
      if (values?.refused[d].has(value)) return;
      const candidate = { tenant: o.tenant, dimension: d, value };
      const k = key(candidate);
      asked ??= new Set();
      if (asked.has(k)) return;
      asked.add(k);
      unknown.push(candidate);
    };
    for (const o of observations) {
      if (o.kind !== "event") continue;
      const values = this.tenants.get(o.tenant);
      check(values, o, "event_name");
      check(values, o, "campaign");
    }
    return { unknown, allAdmitted };
  }

  /**
   * The observations with every value the tenant may not hold replaced by `(other)` (the others
   * are the same objects), and how many events overflowed per tenant and dimension.
   */
  cap(
    observations: readonly WindowObservation[],
    answer: AdmissionAnswer | undefined,
  ): { observations: WindowObservation[]; overflows: Overflow[] } {
    const admittedNow = answer === undefined ? undefined : new Set(answer.admitted.map(key));
    const overflows = new Map<string, Overflow>();
    const allowed = (tenant: string, dimension: Dimension, value: string): boolean => {
      if (isFree(value)) return true;
      if (this.tenants.get(tenant)?.admitted[dimension].has(value)) return true;
      if (admittedNow?.has(key({ tenant, dimension, value }))) return true;
      const k = `${tenant}\u0000${dimension}`;
      const overflow = overflows.get(k) ?? { tenant, dimension, events: 0 };
      overflow.events += 1;
      overflows.set(k, overflow);
      return false;
    };
    const capped = observations.map((o) => {
      if (o.kind !== "event") return o;
      const nameOk = allowed(o.tenant, "event_name", o.eventName);
      const campaignOk = allowed(o.tenant, "campaign", o.campaign);
      if (nameOk && campaignOk) return o;
      return {
        ...o,
        eventName: nameOk ? o.eventName : OVERFLOW_VALUE,
        campaign: campaignOk ? o.campaign : OVERFLOW_VALUE,
      };
    });
    return { observations: capped, overflows: [...overflows.values()] };
  }

  /**
   * Learns a committed transaction's answer; returns the (tenant, dimension) pairs that were
   * first seen past their cap by this process, for one log line each.
   */
  remember(answer: AdmissionAnswer): DimensionValue[] {
    const admitted = new Set(answer.admitted.map(key));
    const newlyFull: DimensionValue[] = [];
    for (const v of answer.asked) {
      const values = this.tenantValues(v.tenant);
      if (admitted.has(key(v))) {
        values.admitted[v.dimension].add(v.value);
        continue;
      }
      const refused = values.refused[v.dimension];
      if (refused.size === 0) newlyFull.push(v);
      if (refused.size >= MAX_REFUSED_REMEMBERED) refused.clear();
      refused.add(v.value);
    }
    return newlyFull;
  }

  private tenantValues(tenant: string): TenantValues {
    let values = this.tenants.get(tenant);
    if (values === undefined) {
      values = {
        admitted: { event_name: new Set(), campaign: new Set() },
        refused: { event_name: new Set(), campaign: new Set() },
      };
      this.tenants.set(tenant, values);
    }
    return values;
  }
}

/** Values that take no room: no campaign, and the overflow bucket itself. */
function isFree(value: string): boolean {
  return value === "" || value === OVERFLOW_VALUE;
}
