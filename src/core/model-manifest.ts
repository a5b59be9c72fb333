/** The model manifest contract (zod): features, tensors, training facts, the frozen drift reference. */

import { z } from "zod";
import { type FieldIssue, ValidationError } from "./errors.ts";
import {
  findTextIssues,
  isStorableText,
  refineStorableJson,
  textIssueMessage,
} from "./text/index.ts";

// A manifest describes the model's single float input `[batch, features.length]` column by column,
// in input order. A "number" feature goes into its column as sent. A "categorical" feature is sent
// as a string and goes into its column as its index in `categories` (0, 1, …); a string that is not
// one of the categories becomes UNKNOWN_CATEGORY_INDEX (−1), which models trained here treat as
// "none of the known categories" (all-zero one-hot; trees send it down the lowest branch).
// A missing (absent or null) value takes the feature's `default`; without one it is an error.

/** Input value of a categorical feature whose string is not among its `categories`. */
export const UNKNOWN_CATEGORY_INDEX = -1;

/** Bounds that keep one manifest small enough to validate and store per request. */
export const MANIFEST_LIMITS = {
  features: 2048,
  categories: 1024,
  bins: 256,
  sampleValues: 20_000,
  nameChars: 128,
  /** Rows of `background`; explanations use at most their own cap of them (EXPLAIN_LIMITS). */
  backgroundRows: 1000,
} as const;

const name = z
  .string()
  .min(1, "must not be empty")
  .max(MANIFEST_LIMITS.nameChars, `must be at most ${MANIFEST_LIMITS.nameChars} characters`);

const numberFeatureSchema = z.looseObject({
  name,
  type: z.literal("number"),
  /** Used when the value is absent or null. */
  default: z.number().optional(),
  description: z.string().optional(),
});

const categoricalFeatureSchema = z
  .looseObject({
    name,
    type: z.literal("categorical"),
    /** The input value of category `categories[i]` is `i`. */
    categories: z
      .array(z.string().min(1).max(MANIFEST_LIMITS.nameChars))
      .min(1, "needs at least one category")
      .max(MANIFEST_LIMITS.categories),
    /** A category, used when the value is absent or null. */
    default: z.string().optional(),
    description: z.string().optional(),
  })
  .superRefine((f, ctx) => {
    const dup = firstDuplicate(f.categories);
    if (dup !== undefined) {
      ctx.addIssue({ code: "custom", path: ["categories"], message: `repeats ${quoted(dup)}` });
    }
    if (f.default !== undefined && !f.categories.includes(f.default)) {
      ctx.addIssue({
        code: "custom",
        path: ["default"],
        message: `${quoted(f.default)} is not one of the categories`,
      });
    }
  });

export const manifestFeatureSchema = z.discriminatedUnion(
  "type",
  [numberFeatureSchema, categoricalFeatureSchema],
  { error: 'type must be "number" or "categorical"' },
);

const probability = z.number().min(0).max(1);

/**
 * Reference distribution of a numeric feature (or the score): `edges` are the inner cut points of
 * bins with open outer ends, (−∞, e0], (e0, e1], …, (e_last, +∞); `proportions[i]` is the share
 * of reference values in bin i (so one more proportion than edges); `sample` is a sample of
 * reference values for two-sample tests (KS).
 */
export const numericReferenceSchema = z
  .looseObject({
    type: z.literal("number"),
    edges: z.array(z.number()).max(MANIFEST_LIMITS.bins),
    proportions: z
      .array(probability)
      .min(1)
      .max(MANIFEST_LIMITS.bins + 1),
    sample: z.array(z.number()).max(MANIFEST_LIMITS.sampleValues).optional(),
    count: z.int().nonnegative().optional(),
  })
  .superRefine((r, ctx) => {
    for (let i = 1; i < r.edges.length; i++) {
      if (!(r.edges[i]! > r.edges[i - 1]!)) {
        ctx.addIssue({ code: "custom", path: ["edges", i], message: "edges must increase" });
        break;
      }
    }
    if (r.proportions.length !== r.edges.length + 1) {
      ctx.addIssue({
        code: "custom",
        path: ["proportions"],
        message: `needs ${r.edges.length + 1} values (one per bin), got ${r.proportions.length}`,
      });
    }
    checkSumsToOne(r.proportions, ctx);
  });

/**
 * Reference distribution of a categorical feature: `proportions[i]` is the share of
 * `categories[i]`, and one final proportion is the share of everything else ("other").
 */
export const categoricalReferenceSchema = z
  .looseObject({
    type: z.literal("categorical"),
    categories: z.array(z.string()).min(1).max(MANIFEST_LIMITS.categories),
    proportions: z
      .array(probability)
      .min(1)
      .max(MANIFEST_LIMITS.categories + 1),
    count: z.int().nonnegative().optional(),
  })
  .superRefine((r, ctx) => {
    if (r.proportions.length !== r.categories.length + 1) {
      ctx.addIssue({
        code: "custom",
        path: ["proportions"],
        message: `needs ${r.categories.length + 1} values (one per category, then "other"), got ${r.proportions.length}`,
      });
    }
    checkSumsToOne(r.proportions, ctx);
  });

export const featureReferenceSchema = z.discriminatedUnion(
  "type",
  [numericReferenceSchema, categoricalReferenceSchema],
  { error: 'type must be "number" or "categorical"' },
);

export const manifestReferenceSchema = z.looseObject({
  /** Rows the reference was computed from. */
  rows: z.int().nonnegative().optional(),
  /** Per feature name. Features without an entry are not monitored for drift. */
  features: z.record(name, featureReferenceSchema),
  /** The model's score on the reference rows. */
  score: numericReferenceSchema.optional(),
});

const metric = z.number().optional();

export const modelManifestSchema = z
  .looseObject({
    name: name.optional(),
    version: name.optional(),
    description: z.string().optional(),
    /** Name of the model's one float input tensor, shape [batch, features.length]. */
    input: name.default("features"),
    output: z.looseObject({
      /** Name of the output tensor holding the probability. */
      name,
      /** Column of that tensor holding the score: 0 for [batch, 1], 1 for [batch, 2] classifiers. */
      index: z.int().nonnegative().default(0),
    }),
    /** The input columns, in input order. */
    features: z
      .array(manifestFeatureSchema)
      .min(1, "needs at least one feature")
      .max(MANIFEST_LIMITS.features),
    trainedAt: z.iso.datetime({ offset: true }).optional(),
    training: z
      .looseObject({
        algorithm: z.string().optional(),
        seed: z.int().optional(),
        rows: z.int().nonnegative().optional(),
        holdoutRows: z.int().nonnegative().optional(),
        metrics: z.looseObject({ auc: metric, logLoss: metric, brier: metric }).optional(),
        /**
         * The retraining request this version answers (trained outside Driftline from the
         * request's training set): uploading it resumes the request's rollout.
         */
        retrainingRequestId: z.string().min(1).max(128).optional(),
      })
      .optional(),
    reference: manifestReferenceSchema.optional(),
    /**
     * Rows in feature order (numbers for numeric features, category strings for categorical ones,
     * null for the default) that explanations measure contributions against. Default: rows drawn
     * from the reference's per-feature distributions.
     */
    background: z
      .array(z.array(z.union([z.number(), z.string(), z.null()])))
      .min(1, "needs at least one row")
      .max(MANIFEST_LIMITS.backgroundRows)
      .optional(),
  })
  .superRefine((m, ctx) => {
    // Every string, known field or not: the manifest is stored whole (Postgres jsonb).
    refineStorableJson(m, ctx);
    const names = m.features.map((f) => f.name);
    const dup = firstDuplicate(names);
    if (dup !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["features"],
        message: `feature ${quoted(dup)} repeats`,
      });
    }
    if (m.background) refineBackground(m.background, m.features, ctx);
    if (!m.reference) return;
    const byName = new Map(m.features.map((f) => [f.name, f]));
    for (const [featureName, ref] of Object.entries(m.reference.features)) {
      // A key that is not storable text is reported above, without naming it in a path.
      if (!isStorableText(featureName)) continue;
      const feature = byName.get(featureName);
      const path = ["reference", "features", featureName];
      if (!feature) {
        ctx.addIssue({ code: "custom", path, message: "is not one of the manifest's features" });
      } else if (feature.type !== ref.type) {
        ctx.addIssue({
          code: "custom",
          path: [...path, "type"],
          message: `must be "${feature.type}" like the feature`,
        });
      }
    }
  });

/** Issues listed for `background`; a generated one could otherwise repeat a mistake per row. */
const MAX_BACKGROUND_ISSUES = 10;

function refineBackground(
  rows: readonly (readonly (number | string | null)[])[],
  features: readonly ManifestFeature[],
  ctx: z.RefinementCtx,
): void {
  let issues = 0;
  const issue = (path: (string | number)[], message: string) => {
    if (issues++ < MAX_BACKGROUND_ISSUES) ctx.addIssue({ code: "custom", path, message });
  };
  rows.forEach((row, r) => {
    if (row.length !== features.length) {
      issue(
        ["background", r],
        `has ${row.length} values; rows need one per feature (${features.length}), in feature order`,
      );
      return;
    }
    row.forEach((value, c) => {
      const feature = features[c]!;
      if (value === null) {
        if (feature.default === undefined) {
          issue(["background", r, c], `is null but feature "${feature.name}" has no default`);
        }
      } else if (
        feature.type === "number" &&
        (typeof value !== "number" || !Number.isFinite(value))
      ) {
        issue(["background", r, c], `must be a number for feature "${feature.name}"`);
      } else if (feature.type === "categorical" && typeof value !== "string") {
        issue(["background", r, c], `must be a category (a string) for feature "${feature.name}"`);
      }
    });
  });
}

export type ModelManifest = z.infer<typeof modelManifestSchema>;
export type ModelManifestInput = z.input<typeof modelManifestSchema>;
export type ManifestFeature = z.infer<typeof manifestFeatureSchema>;
export type NumericReference = z.infer<typeof numericReferenceSchema>;
export type CategoricalReference = z.infer<typeof categoricalReferenceSchema>;
export type FeatureReference = z.infer<typeof featureReferenceSchema>;
export type ManifestReference = z.infer<typeof manifestReferenceSchema>;

export type ManifestValidation =
  | { ok: true; manifest: ModelManifest }
  | { ok: false; issues: FieldIssue[] };

/** Checks a manifest (already parsed from JSON); issues name the field and what to fix. */
export function validateModelManifest(input: unknown): ManifestValidation {
  // Text first: zod names record keys in its issue paths, and such a key may be the bad text.
  const textIssues = findTextIssues(input, MAX_TEXT_ISSUES);
  if (textIssues.length > 0) {
    return {
      ok: false,
      issues: textIssues.map((issue) => ({
        field: issue.path.length > 0 ? issue.path.map(String).join(".") : "(manifest)",
        message: textIssueMessage(issue),
      })),
    };
  }
  const result = modelManifestSchema.safeParse(input);
  if (result.success) return { ok: true, manifest: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({
      field: issue.path.length > 0 ? issue.path.map(String).join(".") : "(manifest)",
      message: issue.message,
    })),
  };
}

/** Like validateModelManifest, but throws a ValidationError listing every issue. */
export function parseModelManifest(input: unknown): ModelManifest {
  const result = validateModelManifest(input);
  if (result.ok) return result.manifest;
  const first = result.issues[0]!;
  const more = result.issues.length > 1 ? ` (and ${result.issues.length - 1} more)` : "";
  throw new ValidationError(
    `Invalid model manifest: ${first.field} ${first.message}${more}`,
    result.issues,
  );
}

export type EncodedRow = { ok: true; values: number[] } | { ok: false; issues: FieldIssue[] };

/**
 * One row's model input in manifest order from a `features` object keyed by name (see the
 * encoding rules at the top). Keys that are not features are ignored. `field` prefixes the
 * issue paths, e.g. `rows.3.features`.
 */
export function encodeFeatureRow(
  features: readonly ManifestFeature[],
  values: Readonly<Record<string, unknown>>,
  field = "features",
): EncodedRow {
  const out: number[] = new Array(features.length);
  const issues: FieldIssue[] = [];
  features.forEach((feature, i) => {
    const raw = Object.hasOwn(values, feature.name) ? values[feature.name] : undefined;
    const path = `${field}.${feature.name}`;
    const value = raw ?? feature.default;
    if (value === undefined) {
      issues.push({ field: path, message: "is missing and the model has no default for it" });
    } else if (feature.type === "number") {
      if (typeof value === "number" && Number.isFinite(value)) out[i] = value;
      else issues.push({ field: path, message: `must be a finite number, got ${describe(raw)}` });
    } else if (typeof value === "string") {
      const index = feature.categories.indexOf(value);
      out[i] = index === -1 ? UNKNOWN_CATEGORY_INDEX : index;
    } else {
      issues.push({
        field: path,
        message: `must be a string (one of ${feature.categories.join(", ")}), got ${describe(raw)}`,
      });
    }
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, values: out };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return String(value);
  return `a ${typeof value}`;
}

/** Text issues one answer lists at most. */
const MAX_TEXT_ISSUES = 20;

/** A value quoted for a message, unless it is text no message should carry. */
function quoted(value: string): string {
  return isStorableText(value) ? `"${value}"` : "a value that is not well-formed text";
}

function firstDuplicate(values: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) return v;
    seen.add(v);
  }
  return undefined;
}

/** Proportions are rounded when written; 1e-6 per value of slack absorbs that. */
function checkSumsToOne(proportions: readonly number[], ctx: z.RefinementCtx): void {
  const sum = proportions.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-6 * proportions.length + 1e-9) {
    ctx.addIssue({
      code: "custom",
      path: ["proportions"],
      message: `must sum to 1, got ${sum}`,
    });
  }
}

/**
 * The manifest as a JSON Schema (draft 2020-12), for tools that write manifests outside
 * Driftline. It states the shapes; the checks across fields (unique names, increasing edges,
 * proportions per bin) are the upload's.
 */
export function manifestJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://driftline.dev/schemas/model-manifest.json",
    title: "Driftline model manifest",
    description:
      "manifest.json of a model version: input and output tensors, features in input order, training facts and the frozen drift reference. Written by `npm run models:train`, `npm run models:reference` and the retraining worker; sent with PUT /v1/models/{name}/versions/{version}.",
    ...z.toJSONSchema(modelManifestSchema, { io: "input", unrepresentable: "any" }),
  };
}
