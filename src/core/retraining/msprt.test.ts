import { describe, expect, it } from "vitest";
import { createRandom } from "../random/index.ts";
import { msprt } from "./msprt.ts";
import { decideOnline } from "./online-decision.ts";

function normals(seed: number) {
  const random = createRandom(seed);
  return () => random.normal();
}

describe("msprt", () => {
  it("equals the paper's equal-arms form √(2σ²/(2σ²+nτ²))·exp(n²τ²Δ²/(4σ²(2σ²+nτ²)))", () => {
    // Johari et al., "Always Valid Inference", two-sample normal mSPRT with N(0, τ²) mixing.
    for (const [n, sigma2, tau, delta] of [
      [100, 1, 0.1, 0.05],
      [2_000, 0.3, 0.05, -0.02],
      [50, 2, 0.5, 0.4],
    ] as const) {
      const published =
        Math.sqrt((2 * sigma2) / (2 * sigma2 + n * tau * tau)) *
        Math.exp((n * n * tau * tau * delta * delta) / (4 * sigma2 * (2 * sigma2 + n * tau * tau)));
      const r = msprt(
        { n, mean: 1, variance: sigma2 },
        { n, mean: 1 + delta, variance: sigma2 },
        tau,
      );
      expect(r.likelihoodRatio).toBeCloseTo(published, 10);
      expect(r.pValue).toBeCloseTo(Math.min(1, 1 / published), 10);
    }
  });

  it("is 1 (no evidence) with fewer than two rows in an arm", () => {
    expect(
      msprt({ n: 1, mean: 0, variance: 0 }, { n: 100, mean: 5, variance: 1 }, 0.1).pValue,
    ).toBe(1);
  });

  it("keeps the false-positive rate below alpha when looking after every 50 rows (simulation)", () => {
    // Both arms from the same distribution: any rejection is a false positive. Looking 40 times
    // per sequence, a fixed-n test at 5 % would reject far more often than 5 %.
    const alpha = 0.05;
    const draw = normals(7);
    const sequences = 400;
    let falsePositives = 0;
    for (let s = 0; s < sequences; s++) {
      const a = { n: 0, sum: 0, sq: 0 };
      const b = { n: 0, sum: 0, sq: 0 };
      let p = 1;
      for (let look = 0; look < 40; look++) {
        for (let i = 0; i < 50; i++) {
          for (const arm of [a, b]) {
            const x = 0.3 + 0.5 * draw();
            arm.n += 1;
            arm.sum += x;
            arm.sq += x * x;
          }
        }
        const stats = (arm: typeof a) => ({
          n: arm.n,
          mean: arm.sum / arm.n,
          variance: arm.sq / arm.n - (arm.sum / arm.n) ** 2,
        });
        p = Math.min(p, msprt(stats(a), stats(b), 0.05).pValue);
      }
      if (p <= alpha) falsePositives += 1;
    }
    // Binomial(400, 0.05) exceeds 30 with probability < 0.5 %; the test is conservative anyway.
    expect(falsePositives).toBeLessThanOrEqual(30);
  });

  it("finds a real difference of a tenth of a standard deviation within a few thousand rows", () => {
    const draw = normals(11);
    const arm = (shift: number, n: number) => {
      let sum = 0;
      let sq = 0;
      for (let i = 0; i < n; i++) {
        const x = shift + draw();
        sum += x;
        sq += x * x;
      }
      return { n, mean: sum / n, variance: sq / n - (sum / n) ** 2 };
    };
    expect(msprt(arm(0, 5_000), arm(0.1, 5_000), 0.1).pValue).toBeLessThan(0.05);
  });
});

describe("decideOnline", () => {
  const settings = { alpha: 0.05, tau: 0.05, minSamplePerArm: 100, maxDurationMs: 60_000 };
  const arm = (n: number, mean: number) => ({ n, mean, variance: 0.04 });

  it.each([
    ["promote", arm(1000, 0.3), arm(1000, 0.2), 0],
    ["roll-back", arm(1000, 0.2), arm(1000, 0.3), 0],
    ["continue", arm(50, 0.3), arm(50, 0.2), 0],
    ["continue", arm(1000, 0.3), arm(1000, 0.3), 0],
    ["roll-back", arm(1000, 0.3), arm(1000, 0.3), 60_000],
    ["roll-back", arm(10, 0.3), arm(10, 0.1), 60_000],
  ] as const)("decides %s", (kind, champion, challenger, elapsedMs) => {
    expect(
      decideOnline({ champion, challenger, elapsedMs, previousPValue: 1, settings }).kind,
    ).toBe(kind);
  });

  it("keeps the running minimum p-value, so an earlier significant look is not forgotten", () => {
    const d = decideOnline({
      champion: arm(1000, 0.3),
      challenger: arm(1000, 0.3),
      elapsedMs: 0,
      previousPValue: 0.01,
      settings,
    });
    expect(d.evidence.test.alwaysValidPValue).toBe(0.01);
  });
});
