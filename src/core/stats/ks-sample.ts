/** Bounded, mergeable uniform sample of a window's values for KS: a bottom-k sketch. */

import { ValidationError } from "../errors.ts";
import { assertNumberOption } from "./validate.ts";

// Hand-written (simple-statistics' `sample` draws from an array in memory; it cannot bound
// memory on a stream nor merge windows). Bottom-k: every observation carries a priority in
// [0, 1); the sample keeps the k observations with the smallest (priority, value). Merging keeps
// the k smallest of the union, which is exactly the bottom-k of all observations of both windows,
// so merging is associative and commutative, and the result is a uniform sample without
// replacement of the merged window when priorities are uniform and independent of the values.
// Deriving the priority from a prediction id makes a replayed observation land identically.

/** Default number of values kept per window for KS. */
export const DEFAULT_KS_SAMPLE_CAPACITY = 5_000;

/** A bottom-k sample. Plain JSON: store it per window next to the histogram. */
export interface KsSample {
  /** Most values kept (k). */
  capacity: number;
  /** Non-missing observations offered so far (kept or not). */
  seen: number;
  /** Kept values; parallel to `priorities`. Stored as a max-heap on (priority, value). */
  values: number[];
  priorities: number[];
}

/** Creates an empty sample keeping at most `capacity` values (1 … 1 000 000, default 5 000). */
export function createKsSample(capacity: number = DEFAULT_KS_SAMPLE_CAPACITY): KsSample {
  assertNumberOption(capacity, "capacity", { min: 1, max: 1_000_000, integer: true });
  return { capacity, seen: 0, values: [], priorities: [] };
}

/** (p1, v1) > (p2, v2) in the order that decides which values are kept. */
function greater(p1: number, v1: number, p2: number, v2: number): boolean {
  return p1 > p2 || (p1 === p2 && v1 > v2);
}

function siftDown(values: number[], priorities: number[], start: number): void {
  const n = values.length;
  let i = start;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let top = i;
    if (
      l < n &&
      greater(
        priorities[l] as number,
        values[l] as number,
        priorities[top] as number,
        values[top] as number,
      )
    ) {
      top = l;
    }
    if (
      r < n &&
      greater(
        priorities[r] as number,
        values[r] as number,
        priorities[top] as number,
        values[top] as number,
      )
    ) {
      top = r;
    }
    if (top === i) return;
    const tv = values[i] as number;
    values[i] = values[top] as number;
    values[top] = tv;
    const tp = priorities[i] as number;
    priorities[i] = priorities[top] as number;
    priorities[top] = tp;
    i = top;
  }
}

function siftUp(values: number[], priorities: number[], start: number): void {
  let i = start;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (
      !greater(
        priorities[i] as number,
        values[i] as number,
        priorities[parent] as number,
        values[parent] as number,
      )
    ) {
      return;
    }
    const tv = values[i] as number;
    values[i] = values[parent] as number;
    values[parent] = tv;
    const tp = priorities[i] as number;
    priorities[i] = priorities[parent] as number;
    priorities[parent] = tp;
    i = parent;
  }
}

/**
 * Offers one observation to the sample, in place. `priority` must be uniform in [0, 1) and
 * independent of the value: use {@link samplePriority} of a unique id (idempotent under replays)
 * or a random number.
 * @throws ValidationError for a non-finite value or a priority outside [0, 1)
 */
export function addToKsSample(sample: KsSample, value: number, priority: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ValidationError(
      `value ${String(value)} cannot be sampled: it must be a finite number`,
      [{ field: "value", message: "must be a finite number" }],
    );
  }
  if (typeof priority !== "number" || !(priority >= 0 && priority < 1)) {
    throw new ValidationError(`priority ${String(priority)} must be a number in [0, 1)`, [
      { field: "priority", message: "must be in [0, 1)" },
    ]);
  }
  sample.seen++;
  const { values, priorities } = sample;
  const v = value + 0; // −0 → 0
  if (values.length < sample.capacity) {
    values.push(v);
    priorities.push(priority);
    siftUp(values, priorities, values.length - 1);
    return;
  }
  if (greater(priorities[0] as number, values[0] as number, priority, v)) {
    values[0] = v;
    priorities[0] = priority;
    siftDown(values, priorities, 0);
  }
}

/**
 * Merges two samples into a new one holding the bottom-k of both (k = the smaller capacity).
 * The result is stored in descending (priority, value) order — a valid heap and a canonical
 * form — so equal inputs in any grouping give identical JSON.
 */
export function mergeKsSamples(a: KsSample, b: KsSample): KsSample {
  const capacity = Math.min(a.capacity, b.capacity);
  const n = a.values.length + b.values.length;
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const pr = (i: number) =>
    i < a.values.length
      ? (a.priorities[i] as number)
      : (b.priorities[i - a.values.length] as number);
  const val = (i: number) =>
    i < a.values.length ? (a.values[i] as number) : (b.values[i - a.values.length] as number);
  order.sort((x, y) => pr(x) - pr(y) || val(x) - val(y));
  const keep = order.slice(0, capacity).reverse();
  return {
    capacity,
    seen: a.seen + b.seen,
    values: keep.map(val),
    priorities: keep.map(pr),
  };
}

/**
 * Merges any number of samples (at least one).
 * @throws ValidationError on an empty list
 */
export function mergeAllKsSamples(samples: readonly KsSample[]): KsSample {
  const [first, ...rest] = samples;
  if (first === undefined) {
    throw new ValidationError("no samples to merge: pass at least one window", [
      { field: "samples", message: "must not be empty" },
    ]);
  }
  return rest.reduce(mergeKsSamples, first);
}

/**
 * A deterministic priority in [0, 1) from a string key (e.g. a prediction id): 53 bits of the
 * cyrb53 hash. Hand-written because the core may not use node:crypto and the sampling only needs
 * a well-mixed, not a cryptographic, hash.
 */
export function samplePriority(key: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const bits53 = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return bits53 / 2 ** 53;
}

/**
 * A seeded pseudo-random generator of numbers in [0, 1) (splitmix32), for reproducible
 * reference samples and tests. Not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
}
