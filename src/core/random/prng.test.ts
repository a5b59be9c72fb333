import { describe, expect, it } from "vitest";
import { createRandom, pickIndex, poissonFromUniform, shuffledIndices } from "./prng.ts";

// Golden outputs of xoshiro128** seeded by splitmix32, from an independent Python transcription of
// the authors' reference C code (explicit 32-bit masking), first five 32-bit outputs per seed.
const GOLDEN: [number, number[]][] = [
  [0, [3809008728, 1133695204, 53579671, 2891528803, 139681546]],
  [42, [2837322924, 544945897, 479756282, 3500138142, 339756180]],
  [2 ** 32 - 1, [835879718, 1921286648, 2356205009, 1885780724, 980451116]],
];

describe("createRandom", () => {
  it.each(GOLDEN)("seed %d matches the reference xoshiro128** stream", (seed, words) => {
    const random = createRandom(seed);
    expect(words.map(() => random.next() * 2 ** 32)).toEqual(words);
  });

  it("is uniform on [0, 1) and gives standard normals", () => {
    const random = createRandom(7);
    const n = 200_000;
    let sum = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = random.next();
      sum += u;
      min = Math.min(min, u);
      max = Math.max(max, u);
    }
    // Mean of U(0,1) has sd √(1/12n) ≈ 6.5e-4; 5 sd.
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(3.3e-3);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = random.normal();
      s1 += z;
      s2 += z * z;
    }
    expect(Math.abs(s1 / n)).toBeLessThan(0.012);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.016);
  });

  it("rejects a seed that is not a finite number", () => {
    expect(() => createRandom(Number.NaN)).toThrow(/seed/);
  });
});

describe("samplers", () => {
  it("pickIndex inverts the cumulative weights", () => {
    expect(pickIndex([1, 2, 1], 0)).toBe(0);
    expect(pickIndex([1, 2, 1], 0.2499)).toBe(0);
    expect(pickIndex([1, 2, 1], 0.25)).toBe(1);
    expect(pickIndex([1, 2, 1], 0.7499)).toBe(1);
    expect(pickIndex([1, 2, 1], 0.75)).toBe(2);
    expect(pickIndex([0, 1], 0)).toBe(1);
  });

  it("poissonFromUniform inverts the Poisson CDF", () => {
    // P(K = 0) = e^−2 ≈ 0.135335, P(K ≤ 1) = 3e^−2 ≈ 0.406006, P(K ≤ 2) = 5e^−2 ≈ 0.676676.
    expect(poissonFromUniform(2, 0.1353)).toBe(0);
    expect(poissonFromUniform(2, 0.1354)).toBe(1);
    expect(poissonFromUniform(2, 0.406)).toBe(1);
    expect(poissonFromUniform(2, 0.4061)).toBe(2);
    expect(poissonFromUniform(2, 0.6767)).toBe(3);
  });

  it("shuffledIndices is a seeded permutation", () => {
    const a = shuffledIndices(1000, createRandom(3));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(a).toEqual(shuffledIndices(1000, createRandom(3)));
    expect(a).not.toEqual(shuffledIndices(1000, createRandom(4)));
  });
});
