import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import {
  addToKsSample,
  createKsSample,
  type KsSample,
  mergeAllKsSamples,
  mergeKsSamples,
  samplePriority,
  seededRandom,
} from "./ks-sample.ts";
import { ksTwoSample } from "./ks-two-sample.ts";

function stream(seed: number, n: number, shift = 0): { value: number; id: string }[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => ({ value: rnd() + shift, id: `p-${seed}-${i}` }));
}

function sampleOf(items: { value: number; id: string }[], capacity: number): KsSample {
  const s = createKsSample(capacity);
  for (const it of items) addToKsSample(s, it.value, samplePriority(it.id));
  return s;
}

const sortedValues = (s: KsSample) => [...s.values].sort((a, b) => a - b);

describe("bottom-k KS sample", () => {
  it("keeps at most capacity values and counts everything seen", () => {
    const s = sampleOf(stream(1, 1000), 100);
    expect(s.values).toHaveLength(100);
    expect(s.seen).toBe(1000);
    const small = sampleOf(stream(2, 10), 100);
    expect(sortedValues(small)).toEqual(
      stream(2, 10)
        .map((x) => x.value)
        .sort((a, b) => a - b),
    );
  });

  it("merging windows keeps exactly what one sample of the whole stream keeps", () => {
    const minutes = Array.from({ length: 12 }, (_, i) => stream(i + 10, 200));
    const whole = sampleOf(minutes.flat(), 300);
    const merged = mergeAllKsSamples(minutes.map((m) => sampleOf(m, 300)));
    expect(sortedValues(merged)).toEqual(sortedValues(whole));
    expect(merged.seen).toBe(whole.seen);
  });

  it("merge is associative and commutative, down to the stored JSON", () => {
    const [a, b, c] = [1, 2, 3].map((s) => sampleOf(stream(s, 500), 150)) as [
      KsSample,
      KsSample,
      KsSample,
    ];
    const left = mergeKsSamples(mergeKsSamples(a, b), c);
    const right = mergeKsSamples(a, mergeKsSamples(b, c));
    expect(JSON.stringify(left)).toBe(JSON.stringify(right));
    expect(JSON.stringify(mergeKsSamples(a, b))).toBe(JSON.stringify(mergeKsSamples(b, a)));
  });

  it("stays a valid heap after merging, so adding continues to work", () => {
    const merged = mergeKsSamples(sampleOf(stream(1, 300), 50), sampleOf(stream(2, 300), 50));
    const items = stream(3, 300);
    for (const it of items) addToKsSample(merged, it.value, samplePriority(it.id));
    const direct = sampleOf([...stream(1, 300), ...stream(2, 300), ...items], 50);
    expect(sortedValues(merged)).toEqual(sortedValues(direct));
  });

  it("is a representative sample: KS does not reject it against the full stream", () => {
    const all = stream(42, 20_000);
    const s = sampleOf(all, 2_000);
    const r = ksTwoSample(
      all.map((x) => x.value),
      s.values,
    );
    expect(r.pValue).toBeGreaterThan(0.01);
    // while a shifted stream is rejected: the check can fail
    const shifted = sampleOf(stream(43, 20_000, 0.1), 2_000);
    expect(
      ksTwoSample(
        all.map((x) => x.value),
        shifted.values,
      ).pValue,
    ).toBeLessThan(1e-6);
  });

  it("priorities are deterministic and in [0, 1)", () => {
    expect(samplePriority("abc")).toBe(samplePriority("abc"));
    expect(samplePriority("abc")).not.toBe(samplePriority("abd"));
    const rnd = seededRandom(7);
    for (let i = 0; i < 1000; i++) {
      const p = samplePriority(`id-${rnd()}`);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(1);
    }
  });

  it.each([
    ["capacity 0", () => createKsSample(0), /capacity is 0/],
    ["NaN value", () => addToKsSample(createKsSample(2), Number.NaN, 0.5), /NaN cannot be sampled/],
    ["priority 1", () => addToKsSample(createKsSample(2), 1, 1), /priority 1/],
    ["empty merge", () => mergeAllKsSamples([]), /no samples/],
  ] as const)("rejects %s", (_label, fn, message) => {
    expect(fn).toThrow(ValidationError);
    expect(fn).toThrow(message);
  });
});
