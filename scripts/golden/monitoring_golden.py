#!/usr/bin/env python3
"""Golden values for Driftline's performance metrics (src/core/monitoring), from scikit-learn.

Run with Debian's packages (python3-sklearn brings numpy and scipy), not a virtualenv python:

    apt-get install -y python3-sklearn
    /usr/bin/python3 scripts/golden/monitoring_golden.py [out_dir]

It writes test/fixtures/monitoring/performance.json. The fixture is committed, so the TypeScript
tests need no Python; rerun this only to extend or refresh the cases. Everything is seeded.

Independent references used:
- ROC AUC: sklearn.metrics.roc_auc_score (trapezoidal area under the ROC curve, ties included);
- log loss: sklearn.metrics.log_loss with eps=1e-15 (scikit-learn's clipping up to 1.4);
- Brier score: sklearn.metrics.brier_score_loss;
- calibration: sklearn.calibration.calibration_curve(strategy="uniform") for the non-empty bins'
  observed rate and mean score, and numpy for the bin counts. Scores are drawn so that none lies
  exactly on an inner bin edge (where scikit-learn's bins are right-closed and Driftline's are
  left-closed).
"""

import json
import os
import sys

import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

OUT_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "monitoring")

META = {
    "generator": "scripts/golden/monitoring_golden.py",
    "sklearn": sklearn.__version__,
    "numpy": np.__version__,
    "python": sys.version.split()[0],
}

EPS = 1e-15


def off_edges(p, bins):
    """Moves scores lying exactly on an inner edge i/bins by a hair (see the module docstring)."""
    p = np.array(p, dtype=float)
    on_edge = np.isclose(p * bins, np.round(p * bins), rtol=0, atol=1e-9) & (p > 0) & (p < 1)
    p[on_edge] += 1e-7
    return p


def case(case_id, scores, labels, bins=10):
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=int)
    out = {
        "id": case_id,
        "scores": scores.tolist(),
        "labels": labels.tolist(),
        "bins": bins,
        "logLoss": float(log_loss(labels, scores, eps=EPS, labels=[0, 1])),
        "brier": float(brier_score_loss(labels, scores)),
    }
    if 0 < labels.sum() < len(labels):
        out["auc"] = float(roc_auc_score(labels, scores))
    else:
        out["auc"] = None
    prob_true, prob_pred = calibration_curve(labels, scores, n_bins=bins, strategy="uniform")
    idx = np.minimum(np.floor(scores * bins).astype(int), bins - 1)
    counts = np.bincount(idx, minlength=bins)
    out["calibration"] = [
        {"bin": int(b), "count": int(counts[b])} for b in range(bins) if counts[b] > 0
    ]
    assert len(out["calibration"]) == len(prob_true)
    for row, t, p in zip(out["calibration"], prob_true, prob_pred):
        row["observedRate"] = float(t)
        row["meanPredicted"] = float(p)
    return out


def main():
    rng = np.random.default_rng(20261122)
    cases = []

    # Realistic: logistic scores with a base rate near 8 %, labels drawn from the scores.
    z = rng.normal(-2.6, 1.2, size=2000)
    p = off_edges(1 / (1 + np.exp(-z)), 10)
    y = (rng.random(2000) < p).astype(int)
    cases.append(case("logistic-2000", p, y))

    # Heavy ties: scores rounded to 2 decimals (many equal scores across both classes).
    p2 = off_edges(np.round(rng.beta(2, 5, size=1500), 2), 10)
    y2 = (rng.random(1500) < p2).astype(int)
    cases.append(case("ties-rounded-1500", p2, y2))

    # Extreme ties: only three distinct scores.
    p3 = rng.choice([0.15, 0.35, 0.65], size=400)
    y3 = (rng.random(400) < p3).astype(int)
    cases.append(case("three-levels-400", p3, y3, bins=5))

    # Everything tied: AUC is exactly 0.5.
    p4 = np.full(50, 0.3)
    y4 = (rng.random(50) < 0.3).astype(int)
    y4[0], y4[1] = 1, 0
    cases.append(case("all-tied-50", p4, y4))

    # Perfect separation and perfectly wrong ranking.
    p5 = off_edges(np.concatenate([rng.uniform(0.01, 0.4, 30), rng.uniform(0.6, 0.99, 20)]), 10)
    y5 = np.concatenate([np.zeros(30, int), np.ones(20, int)])
    cases.append(case("separable-50", p5, y5))
    cases.append(case("inverted-50", p5, 1 - y5))

    # Scores at 0 and 1: log loss must clip (confident and wrong costs -ln(eps)).
    p6 = off_edges([0.0, 1.0, 0.0, 1.0, 0.5, 0.25, 0.75], 4)
    y6 = np.array([0, 1, 1, 0, 1, 0, 1])
    cases.append(case("clipped-7", p6, y6, bins=4))

    # Single class: AUC undefined, log loss and Brier still defined.
    p7 = off_edges(rng.uniform(0, 0.3, 40), 10)
    y7 = np.zeros(40, int)
    cases.append(case("single-class-40", p7, y7))

    # Small sample, many bins.
    p8 = off_edges(rng.uniform(0, 1, 13), 20)
    y8 = (rng.random(13) < p8).astype(int)
    y8[0], y8[1] = 1, 0
    cases.append(case("small-13", p8, y8, bins=20))

    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "performance.json")
    with open(path, "w") as f:
        json.dump({"meta": META, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
