import { describe, expect, it } from "vitest";
import { ValidationError } from "./errors.ts";
import {
  encodeFeatureRow,
  type ManifestFeature,
  parseModelManifest,
  UNKNOWN_CATEGORY_INDEX,
  validateModelManifest,
} from "./model-manifest.ts";

/** The minimal manifest of the public contract (DESIGN.md). */
const MINIMAL = {
  input: "features",
  output: { name: "probability", index: 0 },
  features: [
    { name: "mean_radius", type: "number", default: 0 },
    { name: "mean_texture", type: "number" },
  ],
};

const REFERENCE = {
  rows: 100,
  features: {
    mean_radius: { type: "number", edges: [1, 2], proportions: [0.2, 0.5, 0.3], sample: [1, 2] },
  },
  score: { type: "number", edges: [0.5], proportions: [0.5, 0.5] },
};

function issuesOf(input: unknown) {
  const result = validateModelManifest(input);
  if (result.ok) throw new Error("expected the manifest to be rejected");
  return result.issues;
}

describe("validateModelManifest", () => {
  it("accepts the minimal manifest of the public contract and keeps extra fields", () => {
    const manifest = parseModelManifest({ ...MINIMAL, owner: "growth-team" });
    expect(manifest.features).toHaveLength(2);
    expect(manifest.output).toEqual({ name: "probability", index: 0 });
    expect((manifest as Record<string, unknown>).owner).toBe("growth-team");
  });

  it("fills defaults: input `features`, output index 0", () => {
    const { input: _input, ...rest } = MINIMAL;
    const manifest = parseModelManifest({ ...rest, output: { name: "probability" } });
    expect(manifest.input).toBe("features");
    expect(manifest.output.index).toBe(0);
  });

  it("accepts categorical features, a reference and training facts", () => {
    const manifest = parseModelManifest({
      ...MINIMAL,
      features: [
        ...MINIMAL.features,
        {
          name: "device",
          type: "categorical",
          categories: ["desktop", "mobile"],
          default: "mobile",
        },
      ],
      trainedAt: "2026-11-22T00:00:00.000Z",
      training: { seed: 1, rows: 10, metrics: { auc: 0.8, logLoss: 0.3, brier: 0.1 } },
      reference: {
        ...REFERENCE,
        features: {
          ...REFERENCE.features,
          device: {
            type: "categorical",
            categories: ["desktop", "mobile"],
            proportions: [0.4, 0.6, 0],
          },
        },
      },
    });
    expect(manifest.reference?.features.device?.type).toBe("categorical");
  });

  it.each([
    [{ ...MINIMAL, output: undefined }, "output"],
    [{ ...MINIMAL, output: { name: "" } }, "output.name"],
    [{ ...MINIMAL, output: { name: "p", index: -1 } }, "output.index"],
    [{ ...MINIMAL, output: { name: "p", index: 0.5 } }, "output.index"],
    [{ ...MINIMAL, features: [] }, "features"],
    [{ ...MINIMAL, features: [{ name: "a", type: "text" }] }, "features.0.type"],
    [{ ...MINIMAL, features: [{ name: "a", type: "number", default: "x" }] }, "features.0.default"],
    [
      { ...MINIMAL, features: [...MINIMAL.features, { name: "mean_radius", type: "number" }] },
      "features",
    ],
    [
      { ...MINIMAL, features: [{ name: "c", type: "categorical", categories: [] }] },
      "features.0.categories",
    ],
    [
      { ...MINIMAL, features: [{ name: "c", type: "categorical", categories: ["a", "a"] }] },
      "features.0.categories",
    ],
    [
      {
        ...MINIMAL,
        features: [{ name: "c", type: "categorical", categories: ["a"], default: "b" }],
      },
      "features.0.default",
    ],
    [{ ...MINIMAL, trainedAt: "yesterday" }, "trainedAt"],
    [
      { ...MINIMAL, reference: { features: { nope: REFERENCE.features.mean_radius } } },
      "reference.features.nope",
    ],
    [
      {
        ...MINIMAL,
        reference: {
          features: {
            mean_radius: { type: "number", edges: [2, 1], proportions: [0.2, 0.5, 0.3] },
          },
        },
      },
      "reference.features.mean_radius.edges.1",
    ],
    [
      {
        ...MINIMAL,
        reference: { features: { mean_radius: { type: "number", edges: [1], proportions: [1] } } },
      },
      "reference.features.mean_radius.proportions",
    ],
    [
      {
        ...MINIMAL,
        reference: {
          features: { mean_radius: { type: "number", edges: [1], proportions: [0.2, 0.2] } },
        },
      },
      "reference.features.mean_radius.proportions",
    ],
    [
      {
        ...MINIMAL,
        reference: {
          features: {
            mean_radius: { type: "categorical", categories: ["a"], proportions: [1, 0] },
          },
        },
      },
      "reference.features.mean_radius.type",
    ],
  ])("rejects %j naming %s", (input, field) => {
    const issues = issuesOf(input);
    expect(issues.map((i) => i.field)).toContain(field);
    for (const issue of issues) expect(issue.message.length).toBeGreaterThan(3);
  });

  it("rejects what is not an object", () => {
    expect(issuesOf(null)[0]!.field).toBe("(manifest)");
    expect(issuesOf([])[0]!.field).toBe("(manifest)");
  });

  it("throws a ValidationError whose message names the first issue", () => {
    try {
      parseModelManifest({ ...MINIMAL, output: { name: "p", index: -1 } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).message).toMatch(/^Invalid model manifest: output\.index/);
      expect((error as ValidationError).issues[0]!.field).toBe("output.index");
    }
  });
});

describe("encodeFeatureRow", () => {
  const features: ManifestFeature[] = [
    { name: "visits", type: "number", default: 1 },
    { name: "value", type: "number" },
    { name: "device", type: "categorical", categories: ["desktop", "mobile"], default: "mobile" },
    { name: "source", type: "categorical", categories: ["ads", "email"] },
  ];

  it("encodes numbers as is and categories as their index, in manifest order", () => {
    expect(
      encodeFeatureRow(features, { source: "email", device: "desktop", value: 2.5, visits: 3 }),
    ).toEqual({ ok: true, values: [3, 2.5, 0, 1] });
  });

  it("fills missing and null values from defaults and ignores unknown keys", () => {
    expect(encodeFeatureRow(features, { value: 0, visits: null, source: "ads", extra: 1 })).toEqual(
      {
        ok: true,
        values: [1, 0, 1, 0],
      },
    );
  });

  it("maps an unknown category to −1", () => {
    const result = encodeFeatureRow(features, { value: 1, device: "tv", source: "ads" });
    expect(result).toEqual({ ok: true, values: [1, 1, UNKNOWN_CATEGORY_INDEX, 0] });
  });

  it("names every missing or mistyped feature", () => {
    const result = encodeFeatureRow(
      features,
      { visits: "3", device: 1, value: Number.NaN },
      "rows.2.features",
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      { field: "rows.2.features.visits", message: "must be a finite number, got a string" },
      { field: "rows.2.features.value", message: "must be a finite number, got NaN" },
      {
        field: "rows.2.features.device",
        message: "must be a string (one of desktop, mobile), got 1",
      },
      {
        field: "rows.2.features.source",
        message: "is missing and the model has no default for it",
      },
    ]);
  });

  it("does not read inherited properties as features", () => {
    const values = Object.create({ value: 5, source: "ads" }) as Record<string, unknown>;
    const result = encodeFeatureRow(features, values);
    expect(result.ok).toBe(false);
  });
});
