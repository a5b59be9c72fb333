/** L2-regularised logistic regression by Newton's method (IRLS), and the demo model built on it. */
import type { ManifestFeature } from "../model-manifest.ts";
import {
  expandedWidth,
  expandMatrix,
  expandRow,
  fitStandardizer,
  type InputColumn,
  inputColumns,
  type Matrix,
  sigmoid,
  standardize,
} from "./design-matrix.ts";

export interface LogisticFitOptions {
  /** Ridge penalty λ on the weights (not the intercept): loss = Σ logloss + λ/2 · ‖w‖². */
  l2?: number;
  maxIterations?: number;
  /** Stop when no Newton step component exceeds this. */
  tolerance?: number;
}

export interface LogisticFit {
  intercept: number;
  weights: Float64Array;
  /** √diag(H⁻¹) at the optimum, intercept first: the usual asymptotic standard errors. */
  standardErrors: Float64Array;
  iterations: number;
  converged: boolean;
}

/**
 * Fits P(y = 1 | x) = σ(b + w·x). Newton's method is used rather than gradient descent because
 * it converges in a handful of exact steps, so the result is deterministic and independent of a
 * learning-rate schedule; the systems are (features + 1)², tiny.
 */
export function fitLogisticRegression(
  x: Matrix,
  y: ArrayLike<number>,
  options: LogisticFitOptions = {},
): LogisticFit {
  const { l2 = 0, maxIterations = 50, tolerance = 1e-10 } = options;
  const d = x.cols + 1;
  const beta = new Float64Array(d);
  const row = new Float64Array(d);
  let iterations = 0;
  let converged = false;
  let hessian = new Float64Array(d * d);
  while (iterations < maxIterations) {
    iterations++;
    hessian = new Float64Array(d * d);
    const gradient = new Float64Array(d);
    for (let i = 0; i < x.rows; i++) {
      row[0] = 1;
      // A plain copy: a subarray view per row and iteration costs more than the arithmetic.
      const offset = i * x.cols;
      for (let j = 0; j < x.cols; j++) row[j + 1] = x.data[offset + j]!;
      let z = 0;
      for (let j = 0; j < d; j++) z += beta[j]! * row[j]!;
      const p = sigmoid(z);
      const w = p * (1 - p);
      const r = p - y[i]!;
      for (let j = 0; j < d; j++) {
        const rj = row[j]!;
        if (rj === 0) continue;
        gradient[j] = gradient[j]! + r * rj;
        const wrj = w * rj;
        // Lower triangle only; mirrored below.
        for (let k = 0; k <= j; k++) hessian[j * d + k] = hessian[j * d + k]! + wrj * row[k]!;
      }
    }
    for (let j = 0; j < d; j++) {
      for (let k = 0; k < j; k++) hessian[k * d + j] = hessian[j * d + k]!;
    }
    for (let j = 1; j < d; j++) {
      gradient[j] = gradient[j]! + l2 * beta[j]!;
      hessian[j * d + j] = hessian[j * d + j]! + l2;
    }
    const step = solveSymmetricPositiveDefinite(hessian, gradient, d);
    let largest = 0;
    for (let j = 0; j < d; j++) {
      beta[j] = beta[j]! - step[j]!;
      largest = Math.max(largest, Math.abs(step[j]!));
    }
    if (largest < tolerance) {
      converged = true;
      break;
    }
  }
  const standardErrors = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const unit = new Float64Array(d);
    unit[j] = 1;
    standardErrors[j] = Math.sqrt(solveSymmetricPositiveDefinite(hessian, unit, d)[j]!);
  }
  return { intercept: beta[0]!, weights: beta.slice(1), standardErrors, iterations, converged };
}

/**
 * Solves A·x = b for a symmetric positive-definite `a` (n×n, row-major) by Cholesky
 * decomposition. Hand-written: a few lines for the small dense systems here, where a linear
 * algebra package would be the largest dependency of the training code.
 */
export function solveSymmetricPositiveDefinite(
  a: Float64Array,
  b: ArrayLike<number>,
  n: number,
): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(sum > 0)) throw new RangeError("matrix is not positive definite; add an L2 penalty");
        l[i * n + i] = Math.sqrt(sum);
      } else l[i * n + j] = sum / l[j * n + j]!;
    }
  }
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * n + k]! * z[k]!;
    z[i] = sum / l[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = z[i]!;
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i]! * x[k]!;
    x[i] = sum / l[i * n + i]!;
  }
  return x;
}

/** A logistic model on a manifest's raw input columns (one-hot inside, standardisation folded). */
export interface LinearModel {
  kind: "logistic-regression";
  columns: InputColumn[];
  intercept: number;
  /** One weight per expanded column (numbers, then each categorical's one-hot block). */
  weights: Float64Array;
}

/**
 * Trains on raw input rows (manifest order, categoricals as indices): numeric columns are
 * standardised for the fit and the scaling is folded back, so the model reads raw values.
 */
export function trainLogisticModel(
  features: readonly ManifestFeature[],
  x: Matrix,
  y: ArrayLike<number>,
  options: LogisticFitOptions = {},
): LinearModel {
  const columns = inputColumns(features);
  const expanded = expandMatrix(columns, x);
  const scaler = fitStandardizer(columns, expanded);
  // The full one-hot blocks plus an intercept are collinear; a small ridge penalty resolves it.
  const fit = fitLogisticRegression(standardize(expanded, scaler), y, { l2: 1, ...options });
  if (!fit.converged) throw new Error(`logistic regression did not converge in ${fit.iterations}`);
  // σ(b + Σ w_j (x_j − μ_j)/s_j) = σ((b − Σ w_j μ_j/s_j) + Σ (w_j/s_j) x_j)
  const weights = new Float64Array(fit.weights.length);
  let intercept = fit.intercept;
  for (let j = 0; j < weights.length; j++) {
    weights[j] = fit.weights[j]! / scaler.scale[j]!;
    intercept -= (fit.weights[j]! * scaler.mean[j]!) / scaler.scale[j]!;
  }
  return { kind: "logistic-regression", columns, intercept, weights };
}

export function predictLinear(model: LinearModel, x: ArrayLike<number>): number {
  const row = expandRow(model.columns, x, new Float64Array(expandedWidth(model.columns)));
  let z = model.intercept;
  for (let j = 0; j < row.length; j++) z += model.weights[j]! * row[j]!;
  return sigmoid(z);
}
