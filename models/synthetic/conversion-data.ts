/** A synthetic website-conversion dataset: seeded rows, a known logistic ground truth, injectable drift. */
import { ValidationError } from "#core/errors";
import type { ManifestFeature } from "#core/model-manifest";
import { createRandom, pickIndex, poissonFromUniform, type Random } from "#core/random";

// How a row is made (all draws from one seeded stream, a fixed number per row, so a row's
// values depend only on the seed and its position — never on the drift settings):
//   is_returning         Bernoulli(0.42)
//   device               desktop 0.38 · mobile 0.52 · tablet 0.10
//   traffic_source       organic 0.34 · paid_search 0.24 · social 0.16 · email 0.08 · direct 0.18
//   sessions_7d          1 + Poisson(2.2 returning | 0.4 new)                         (count)
//   pages_per_session    LogNormal(ln 3 + 0.15·desktop, 0.55), clipped to [1, 50], 2 decimals
//   time_on_site_s       pages · 40 s · LogNormal(0, 0.5), clipped to [5, 7200], whole seconds
//   cart_value           0 without a cart; a cart with p = 0.22 + 0.10·returning holds
//                        LogNormal(ln 55, 0.7) currency units, 2 decimals
//   days_since_last_visit  returning: Exponential(mean 7) capped at 90, 1 decimal; new: 90
//   has_discount_code    Bernoulli(0.12 + 0.10·email)
//   hour_of_day          integer 0–23 from a daily traffic profile (evening peak)
//   converted            Bernoulli(trueProbability(row))
//
// Ground truth: P(converted = 1 | x) = σ(β0 + Σ βk · termk(x)) with the terms and β of
// GROUND_TRUTH below. Every term is linear in a model input except three: ln(1 + cart_value),
// time on site in minutes (a rescaling) and the hour of day, which enters as
// cos(2π(hour − 20)/24) — an evening peak a linear model on the raw hour cannot represent, so
// the MLP and the trees have something to win.

export const DEVICES = ["desktop", "mobile", "tablet"] as const;
export const TRAFFIC_SOURCES = ["organic", "paid_search", "social", "email", "direct"] as const;

export type Device = (typeof DEVICES)[number];
export type TrafficSource = (typeof TRAFFIC_SOURCES)[number];

export interface ConversionFeatures {
  sessions_7d: number;
  pages_per_session: number;
  time_on_site_s: number;
  cart_value: number;
  days_since_last_visit: number;
  is_returning: number;
  has_discount_code: number;
  hour_of_day: number;
  device: Device;
  traffic_source: TrafficSource;
}

export type FeatureName = keyof ConversionFeatures;

export interface ConversionRow {
  features: ConversionFeatures;
  /** The ground-truth conversion probability the label was drawn from. */
  trueProbability: number;
  label: 0 | 1;
}

/**
 * The model input columns in order, as they appear in a manifest. Categoricals are sent as
 * strings and encoded as their index in `categories` (see src/core/model-manifest.ts).
 */
export const CONVERSION_FEATURES: readonly ManifestFeature[] = [
  { name: "sessions_7d", type: "number", default: 1 },
  { name: "pages_per_session", type: "number", default: 3 },
  { name: "time_on_site_s", type: "number", default: 120 },
  { name: "cart_value", type: "number", default: 0 },
  { name: "days_since_last_visit", type: "number", default: 90 },
  { name: "is_returning", type: "number", default: 0 },
  { name: "has_discount_code", type: "number", default: 0 },
  { name: "hour_of_day", type: "number", default: 12 },
  { name: "device", type: "categorical", categories: [...DEVICES], default: "desktop" },
  {
    name: "traffic_source",
    type: "categorical",
    categories: [...TRAFFIC_SOURCES],
    default: "organic",
  },
];

export const FEATURE_NAMES: readonly FeatureName[] = CONVERSION_FEATURES.map(
  (f) => f.name as FeatureName,
);

const DEVICE_WEIGHTS = [0.38, 0.52, 0.1];
const SOURCE_WEIGHTS = [0.34, 0.24, 0.16, 0.08, 0.18];
/** Relative traffic per hour 0..23: quiet night, a lunchtime bump and an evening peak. */
const HOUR_WEIGHTS = [
  2, 1.2, 0.8, 0.6, 0.6, 0.8, 1.5, 3, 4.5, 5, 5.2, 5.5, 6, 5.8, 5.4, 5.2, 5.3, 5.8, 6.5, 7.2, 7.8,
  7.4, 5.6, 3.5,
];

// ---------------------------------------------------------------------------------------------
// Ground truth

/** The named terms of the ground-truth logit, each a function of one row. */
export const GROUND_TRUTH_TERMS = [
  "sessions_7d",
  "pages_per_session",
  "time_on_site_min",
  "log1p_cart_value",
  "days_since_last_visit",
  "is_returning",
  "has_discount_code",
  "device_mobile",
  "device_tablet",
  "source_paid_search",
  "source_social",
  "source_email",
  "source_direct",
  "hour_evening_peak",
] as const;

export type GroundTruthTerm = (typeof GROUND_TRUTH_TERMS)[number];

export interface GroundTruth {
  intercept: number;
  coefficients: Readonly<Record<GroundTruthTerm, number>>;
}

/** β of the data-generating logistic model (base rate about 8.5 %, ground-truth AUC about 0.88). */
export const GROUND_TRUTH: GroundTruth = {
  intercept: -3.9,
  coefficients: {
    sessions_7d: 0.18,
    pages_per_session: 0.1,
    time_on_site_min: 0.12,
    log1p_cart_value: 0.45,
    days_since_last_visit: -0.025,
    is_returning: 0.35,
    has_discount_code: 0.6,
    device_mobile: -0.4,
    device_tablet: -0.15,
    source_paid_search: 0.25,
    source_social: -0.45,
    source_email: 0.55,
    source_direct: 0.3,
    hour_evening_peak: 0.35,
  },
};

/** The ground-truth terms of a row, in GROUND_TRUTH_TERMS order. */
export function groundTruthTerms(x: ConversionFeatures): number[] {
  return [
    x.sessions_7d,
    x.pages_per_session,
    x.time_on_site_s / 60,
    Math.log1p(x.cart_value),
    x.days_since_last_visit,
    x.is_returning,
    x.has_discount_code,
    x.device === "mobile" ? 1 : 0,
    x.device === "tablet" ? 1 : 0,
    x.traffic_source === "paid_search" ? 1 : 0,
    x.traffic_source === "social" ? 1 : 0,
    x.traffic_source === "email" ? 1 : 0,
    x.traffic_source === "direct" ? 1 : 0,
    Math.cos((2 * Math.PI * (x.hour_of_day - 20)) / 24),
  ];
}

export function trueLogit(x: ConversionFeatures, truth: GroundTruth = GROUND_TRUTH): number {
  const terms = groundTruthTerms(x);
  let z = truth.intercept;
  GROUND_TRUTH_TERMS.forEach((name, i) => {
    z += truth.coefficients[name] * terms[i]!;
  });
  return z;
}

export function trueProbability(x: ConversionFeatures, truth: GroundTruth = GROUND_TRUTH): number {
  return 1 / (1 + Math.exp(-trueLogit(x, truth)));
}

// ---------------------------------------------------------------------------------------------
// Drift

/**
 * How one feature's distribution moves. Numeric features: `scale` multiplies and `shift` adds
 * (in the feature's own units, applied as x·scale + shift), then the value is put back in the
 * feature's domain (non-negative, counts whole, hour modulo 24, the documented caps). Binary
 * features (is_returning, has_discount_code): `rate` is the new probability of 1. Categorical
 * features: `mix` gives new (relative) weights per category; categories left out get weight 0.
 */
export interface FeatureDrift {
  shift?: number;
  scale?: number;
  rate?: number;
  mix?: Readonly<Record<string, number>>;
}

export interface DriftSpec {
  features?: Readonly<Partial<Record<FeatureName, FeatureDrift>>>;
  /**
   * Concept drift: replaces parts of the ground truth (e.g. `{ coefficients: { log1p_cart_value:
   * -0.3 } }`), so labels follow a relationship the model was not trained on.
   */
  groundTruth?: {
    intercept?: number;
    coefficients?: Readonly<Partial<Record<GroundTruthTerm, number>>>;
  };
}

export interface GenerateOptions {
  seed: number;
  drift?: DriftSpec;
}

const BINARY_FEATURES = new Set<FeatureName>(["is_returning", "has_discount_code"]);
const CATEGORICAL_LEVELS: Partial<Record<FeatureName, readonly string[]>> = {
  device: DEVICES,
  traffic_source: TRAFFIC_SOURCES,
};

interface CheckedDrift {
  features: Partial<Record<FeatureName, FeatureDrift>>;
  truth: GroundTruth;
  deviceWeights: number[];
  sourceWeights: number[];
}

function checkDrift(drift: DriftSpec | undefined): CheckedDrift {
  const issues: { field: string; message: string }[] = [];
  const features = drift?.features ?? {};
  for (const [name, spec] of Object.entries(features) as [string, FeatureDrift][]) {
    const field = `drift.features.${name}`;
    if (!FEATURE_NAMES.includes(name as FeatureName)) {
      issues.push({ field, message: `unknown feature; use one of ${FEATURE_NAMES.join(", ")}` });
      continue;
    }
    const levels = CATEGORICAL_LEVELS[name as FeatureName];
    const isBinary = BINARY_FEATURES.has(name as FeatureName);
    const allowed = levels ? ["mix"] : isBinary ? ["rate"] : ["shift", "scale"];
    for (const key of Object.keys(spec)) {
      if (!allowed.includes(key)) {
        issues.push({ field: `${field}.${key}`, message: `not allowed here; use ${allowed}` });
      }
    }
    for (const key of ["shift", "scale", "rate"] as const) {
      const v = spec[key];
      if (v !== undefined && !Number.isFinite(v)) {
        issues.push({ field: `${field}.${key}`, message: "must be a finite number" });
      }
    }
    if (spec.rate !== undefined && !(spec.rate >= 0 && spec.rate <= 1)) {
      issues.push({ field: `${field}.rate`, message: "must be a probability in [0, 1]" });
    }
    if (spec.mix !== undefined && levels) {
      let total = 0;
      for (const [category, weight] of Object.entries(spec.mix)) {
        if (!levels.includes(category)) {
          issues.push({
            field: `${field}.mix.${category}`,
            message: `unknown category; use one of ${levels.join(", ")}`,
          });
        } else if (!(Number.isFinite(weight) && weight >= 0)) {
          issues.push({ field: `${field}.mix.${category}`, message: "must be a weight ≥ 0" });
        } else total += weight;
      }
      if (total <= 0) issues.push({ field: `${field}.mix`, message: "needs a positive weight" });
    }
  }
  const coefficients = { ...GROUND_TRUTH.coefficients };
  for (const [term, value] of Object.entries(drift?.groundTruth?.coefficients ?? {})) {
    if (!GROUND_TRUTH_TERMS.includes(term as GroundTruthTerm)) {
      issues.push({ field: `drift.groundTruth.coefficients.${term}`, message: "unknown term" });
    } else if (!Number.isFinite(value)) {
      issues.push({ field: `drift.groundTruth.coefficients.${term}`, message: "must be finite" });
    } else coefficients[term as GroundTruthTerm] = value as number;
  }
  const intercept = drift?.groundTruth?.intercept ?? GROUND_TRUTH.intercept;
  if (!Number.isFinite(intercept)) {
    issues.push({ field: "drift.groundTruth.intercept", message: "must be finite" });
  }
  if (issues.length > 0) throw new ValidationError("Invalid drift specification", issues);

  const mixWeights = (levels: readonly string[], base: number[], spec?: FeatureDrift) =>
    spec?.mix ? levels.map((l) => spec.mix?.[l] ?? 0) : base;
  return {
    features,
    truth: { intercept, coefficients },
    deviceWeights: mixWeights(DEVICES, DEVICE_WEIGHTS, features.device),
    sourceWeights: mixWeights(TRAFFIC_SOURCES, SOURCE_WEIGHTS, features.traffic_source),
  };
}

const round = (x: number, decimals: number) => {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
};
const clip = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Applies `x·scale + shift` and puts the value back into the feature's domain. */
function driftNumeric(name: FeatureName, x: number, spec: FeatureDrift | undefined): number {
  if (!spec || (spec.scale === undefined && spec.shift === undefined)) return x;
  const y = x * (spec.scale ?? 1) + (spec.shift ?? 0);
  switch (name) {
    case "sessions_7d":
      return Math.max(1, Math.round(y));
    case "pages_per_session":
      return round(clip(y, 1, 50), 2);
    case "time_on_site_s":
      return Math.round(clip(y, 5, 7200));
    case "cart_value":
      return round(Math.max(0, y), 2);
    case "days_since_last_visit":
      return round(clip(y, 0, 90), 1);
    case "hour_of_day":
      return ((Math.round(y) % 24) + 24) % 24;
    default:
      return y;
  }
}

function sampleRow(random: Random, d: CheckedDrift): ConversionRow {
  const f = d.features;
  // One uniform per discrete choice and two per normal, in a fixed order, whatever the drift.
  const uReturning = random.next();
  const uDevice = random.next();
  const uSource = random.next();
  const uSessions = random.next();
  const zPages = random.normal();
  const zTime = random.normal();
  const uCart = random.next();
  const zCart = random.normal();
  const uDays = random.next();
  const uDiscount = random.next();
  const uHour = random.next();
  const uLabel = random.next();

  // Base (undrifted) values first: correlated features are derived from the base values of the
  // features they depend on, so drifting one feature changes that feature only.
  const returning = uReturning < 0.42 ? 1 : 0;
  const device = DEVICES[pickIndex(d.deviceWeights, uDevice)]!;
  const baseDevice = DEVICES[pickIndex(DEVICE_WEIGHTS, uDevice)]!;
  const source = TRAFFIC_SOURCES[pickIndex(d.sourceWeights, uSource)]!;
  const baseSource = TRAFFIC_SOURCES[pickIndex(SOURCE_WEIGHTS, uSource)]!;
  const sessions = 1 + poissonFromUniform(returning ? 2.2 : 0.4, uSessions);
  const pagesRaw = clip(
    Math.exp(Math.log(3) + (baseDevice === "desktop" ? 0.15 : 0) + 0.55 * zPages),
    1,
    50,
  );
  const pages = round(pagesRaw, 2);
  const time = Math.round(clip(pagesRaw * 40 * Math.exp(0.5 * zTime), 5, 7200));
  const hasCart = uCart < 0.22 + 0.1 * returning;
  const cart = hasCart ? round(Math.exp(Math.log(55) + 0.7 * zCart), 2) : 0;
  // Inversion of the exponential CDF; 1 − u avoids ln 0.
  const days = returning ? round(Math.min(90, -7 * Math.log(1 - uDays)), 1) : 90;
  const discountRate = 0.12 + (baseSource === "email" ? 0.1 : 0);
  const hour = pickIndex(HOUR_WEIGHTS, uHour);

  const binary = (name: FeatureName, base: number, u: number) => {
    const rate = f[name]?.rate;
    return rate === undefined ? base : u < rate ? 1 : 0;
  };

  const features: ConversionFeatures = {
    sessions_7d: driftNumeric("sessions_7d", sessions, f.sessions_7d),
    pages_per_session: driftNumeric("pages_per_session", pages, f.pages_per_session),
    time_on_site_s: driftNumeric("time_on_site_s", time, f.time_on_site_s),
    cart_value: driftNumeric("cart_value", cart, f.cart_value),
    days_since_last_visit: driftNumeric("days_since_last_visit", days, f.days_since_last_visit),
    is_returning: binary("is_returning", returning, uReturning),
    has_discount_code: binary("has_discount_code", uDiscount < discountRate ? 1 : 0, uDiscount),
    hour_of_day: driftNumeric("hour_of_day", hour, f.hour_of_day),
    device,
    traffic_source: source,
  };
  const p = trueProbability(features, d.truth);
  return { features, trueProbability: p, label: uLabel < p ? 1 : 0 };
}

/**
 * An endless, seeded stream of rows. Row i is the same for a seed whatever else is asked; with
 * `drift`, only the named features (and through them the probability and label) differ from the
 * undrifted row i. Throws a ValidationError for an unknown feature, category or setting.
 */
export function* iterateRows(options: GenerateOptions): Generator<ConversionRow, never, void> {
  const drift = checkDrift(options.drift);
  const random = createRandom(options.seed);
  while (true) yield sampleRow(random, drift);
}

/** `n` rows of the stream for `seed` (see iterateRows). */
export function generateRows(options: GenerateOptions & { n: number }): ConversionRow[] {
  if (!(Number.isInteger(options.n) && options.n >= 0)) {
    throw new ValidationError("n must be a whole number ≥ 0", [
      { field: "n", message: `got ${options.n}` },
    ]);
  }
  const drift = checkDrift(options.drift);
  const random = createRandom(options.seed);
  const rows: ConversionRow[] = new Array(options.n);
  for (let i = 0; i < options.n; i++) rows[i] = sampleRow(random, drift);
  return rows;
}

/** A row's model input vector in manifest order: numbers as is, categoricals as their index. */
export function encodeFeatures(x: ConversionFeatures): number[] {
  return [
    x.sessions_7d,
    x.pages_per_session,
    x.time_on_site_s,
    x.cart_value,
    x.days_since_last_visit,
    x.is_returning,
    x.has_discount_code,
    x.hour_of_day,
    DEVICES.indexOf(x.device),
    TRAFFIC_SOURCES.indexOf(x.traffic_source),
  ];
}
