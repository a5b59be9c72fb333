/** A small seeded pseudo-random generator (xoshiro128**) with the few samplers the data needs. */

// Written here rather than taken from npm: the well-known generators are ten lines, and the
// published packages either lack seeding by integer, pull in a whole framework, or are no longer
// maintained. xoshiro128** (Blackman & Vigna, 2018) passes BigCrush, has period 2^128 − 1, and
// is defined entirely with 32-bit integer arithmetic, so its output is identical on every
// JavaScript engine. The state is expanded from a 32-bit seed with splitmix32, as the authors
// recommend, so nearby seeds give unrelated streams.

export interface Random {
  /** Uniform float in [0, 1), 32 bits of randomness. */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** Standard normal N(0, 1) (Box–Muller; always consumes two uniforms). */
  normal(): number;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A generator for `seed` (any integer; taken modulo 2^32). Same seed → same stream. */
export function createRandom(seed: number): Random {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const init = splitmix32(Math.trunc(seed));
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  // An all-zero state is the one fixed point; splitmix32 never yields four zeros, but be sure.
  if ((a | b | c | d) === 0) a = 1;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    return result;
  };

  const next = (): number => nextUint32() / 4294967296;
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal: () => {
      // 1 − u keeps the logarithm's argument in (0, 1].
      const u1 = 1 - next();
      const u2 = next();
      return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    },
  };
}

/** Index drawn from (unnormalised, non-negative) `weights` by inversion of one uniform `u`. */
export function pickIndex(weights: readonly number[], u: number): number {
  let total = 0;
  for (const w of weights) total += w;
  let acc = 0;
  const target = u * total;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]!;
    if (target < acc) return i;
  }
  return weights.length - 1;
}

/** Poisson(lambda) by inversion of one uniform `u` (fine for the small rates used here). */
export function poissonFromUniform(lambda: number, u: number): number {
  let k = 0;
  let p = Math.exp(-lambda);
  let cdf = p;
  // Bounded loop: for lambda ≤ 50 the CDF reaches 1 − 1e-16 well before k = 200.
  while (u >= cdf && k < 200) {
    k += 1;
    p *= lambda / k;
    cdf += p;
  }
  return k;
}

/** Fisher–Yates shuffle of the indices 0..n−1. */
export function shuffledIndices(n: number, random: Random): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
