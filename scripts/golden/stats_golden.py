#!/usr/bin/env python3
"""Golden values for Driftline's statistics core (src/core/stats), from scipy and numpy.

Run with Debian's scipy (python3-scipy, python3-numpy), not a virtualenv python:

    apt-get install -y python3-scipy python3-numpy
    /usr/bin/python3 scripts/golden/stats_golden.py [out_dir]

It writes test/fixtures/stats/*.json. The fixtures are committed, so the TypeScript tests need no
Python; rerun this only to extend or refresh the cases. Everything is seeded, so a rerun with the
same scipy/numpy versions reproduces the files byte for byte.

Independent references used:
- two-sample KS: scipy.stats.ks_2samp (alternative="two-sided", method exact / asymp / auto),
  the exact p-value routine scipy uses internally, scipy.stats.kstwo.sf (the distribution the
  asymptotic method uses), scipy.special.smirnov and scipy.special.kolmogorov;
- Jensen-Shannon: scipy.spatial.distance.jensenshannon (base e and base 2);
- reference binning: numpy.quantile (method "linear", numpy's default) + numpy.unique for the
  edges, numpy.searchsorted(side="left") for the right-closed bins (e_{i-1}, e_i];
- PSI: the formula written out in numpy (see psi_numpy below).
"""

import json
import math
import os
import sys
import warnings

import numpy as np
import scipy
from scipy import special, stats
from scipy.spatial import distance

try:  # scipy's own exact two-sided routine (private; present in scipy 1.5 .. 1.15)
    from scipy.stats._stats_py import _attempt_exact_2kssamp
except ImportError:  # pragma: no cover
    _attempt_exact_2kssamp = None

OUT_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "stats")

META = {
    "generator": "scripts/golden/stats_golden.py",
    "scipy": scipy.__version__,
    "numpy": np.__version__,
    "python": sys.version.split()[0],
}


def fnum(x):
    """JSON has no inf/nan; keep finite floats exact (json writes repr, which round-trips)."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def write(name, payload):
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as fh:
        json.dump({"meta": META, **payload}, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def as_list(a, decimals=None):
    a = np.asarray(a, dtype=float)
    if decimals is not None:
        a = np.round(a, decimals)
    # integers print shorter in JSON and are exact
    return [int(v) if float(v).is_integer() and abs(v) < 2**53 else float(v) for v in a]


# ---------------------------------------------------------------------------------------------
# Two-sample Kolmogorov-Smirnov


def ks_case(case_id, a, b, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.ks_2samp(a, b, alternative="two-sided", method=method)
    return {
        "id": case_id,
        "method": method,
        "a": as_list(a),
        "b": as_list(b),
        "statistic": fnum(res.statistic),
        "pvalue": fnum(res.pvalue),
    }


def ks_cases():
    rng = np.random.default_rng(20240601)
    cases = []

    def sample(n, kind, shift=0.0, scale=1.0):
        if kind == "normal":
            return np.round(rng.normal(shift, scale, n), 4)
        if kind == "ties":  # heavy ties: small integer support
            return np.floor(rng.normal(2.0 + shift, 1.2 * scale, n)).clip(-1, 6)
        if kind == "coarse":  # some ties: one decimal
            return np.round(rng.normal(shift, scale, n), 1)
        raise ValueError(kind)

    # exact, every pair of sizes 1..30 (n1 <= n2), varied shapes and shifts
    kinds = ["normal", "ties", "coarse"]
    shifts = [0.0, 0.4, 1.0, 2.5]
    i = 0
    for n1 in range(1, 31):
        for n2 in range(n1, 31):
            kind = kinds[i % 3]
            shift = shifts[(i // 3) % 4]
            a = sample(n1, kind)
            b = sample(n2, kind, shift=shift)
            if i % 2:  # the reference is not always the first argument in use
                a, b = b, a
            cases.append(ks_case(f"exact-{n1}x{n2}-{kind}-s{shift}", a, b, "exact"))
            i += 1

    # exact, medium and large sizes (scipy's "inside" method for n1 != n2, square for n1 == n2)
    for (n1, n2, kind, shift) in [
        (50, 50, "normal", 0.3), (100, 37, "normal", 0.2), (200, 300, "coarse", 0.1),
        (333, 1000, "ties", 0.0), (1000, 1000, "normal", 0.05), (2000, 150, "normal", 0.3),
        (10000, 400, "coarse", 0.1), (10000, 10000, "normal", 0.02), (7, 10000, "normal", 1.0),
        (60, 90, "ties", 0.5),
    ]:
        a = sample(n1, kind)
        b = sample(n2, kind, shift=shift)
        cases.append(ks_case(f"exact-{n1}x{n2}-{kind}-s{shift}", a, b, "exact"))

    # asymptotic: small sizes hit kstwo's exact branches (Durbin matrix, Pomeranz, Smirnov),
    # large ones Pelz-Good, the Smirnov tail and the zero underflow
    for (n1, n2, kind, shift) in [
        (2, 3, "normal", 0.5), (5, 7, "normal", 1.0), (10, 10, "normal", 0.0),
        (10, 10, "normal", 3.0), (30, 40, "coarse", 0.3), (30, 40, "normal", 1.2),
        (100, 150, "normal", 0.1), (100, 150, "normal", 0.6), (280, 280, "ties", 0.0),
        (300, 500, "normal", 0.25), (1000, 1200, "normal", 0.0), (1000, 1200, "normal", 0.15),
        (1000, 1200, "normal", 0.6), (5000, 5000, "normal", 0.03), (5000, 5000, "ties", 0.05),
        (12000, 3000, "normal", 0.0), (12000, 3000, "normal", 0.08), (20000, 8000, "ties", 0.02),
        (20000, 8000, "normal", 1.0),
    ]:
        a = sample(n1, kind)
        b = sample(n2, kind, shift=shift)
        cases.append(ks_case(f"asymp-{n1}x{n2}-{kind}-s{shift}", a, b, "asymp"))

    # auto: scipy chooses exact iff max(n1, n2) <= 10000
    for (n1, n2, shift) in [(30, 40, 0.5), (10000, 200, 0.1), (10001, 100, 0.1), (200, 12000, 0.2)]:
        a = sample(n1, "normal")
        b = sample(n2, "normal", shift=shift)
        cases.append(ks_case(f"auto-{n1}x{n2}-s{shift}", a, b, "auto"))

    # equal samples (D = 0, p = 1), disjoint samples (D = 1), all-tied samples
    for method in ["exact", "asymp"]:
        x = sample(25, "normal")
        cases.append(ks_case(f"equal-25-{method}", x, x.copy(), method))
        cases.append(ks_case(f"disjoint-20x30-{method}", sample(20, "normal"),
                             sample(30, "normal") + 100, method))
        cases.append(ks_case(f"alltied-12x9-{method}", np.full(12, 3.0), np.full(9, 3.0), method))
        cases.append(ks_case(f"interleaved-ties-{method}", np.array([1, 1, 2, 2, 3, 3, 3, 4.0]),
                             np.array([2, 3, 3, 4, 4, 4, 5.0]), method))
    cases.append(ks_case("disjoint-600x700-asymp", sample(600, "normal"),
                         sample(700, "normal") + 50, "asymp"))
    return cases


def ks_distribution():
    kstwo = []
    ns = [1, 2, 3, 5, 8, 10, 20, 50, 100, 139, 140, 141, 200, 500, 1000, 2500, 5000, 9091,
          50000, 100000, 100001, 250000]
    for n in ns:
        ds = {0.25 / n, 0.6 / n, 0.9 / n, 1.0 / n, 1.5 / n, 2.5 / n, 0.3, 0.45, 0.5, 0.7,
              0.99, 1.0, max(0.0, 1 - 1.0 / n), max(0.0, 1 - 1.5 / n)}
        for c in [0.2, 0.5, 0.75, 0.76, 1.0, 1.5, 2.0, 2.19, 2.21, 3.0, 3.99, 4.01, 6.0, 10.0,
                  17.9, 18.1, 50.0, 200.0, 369.0, 371.0]:
            ds.add(math.sqrt(c / n))
        for c in [0.5, 0.9, 1.0, 1.1]:
            ds.add(c * (1.4 / n) ** (2.0 / 3.0))
        for d in sorted(ds):
            if 0.0 <= d <= 1.0:
                kstwo.append({"n": n, "d": fnum(d), "sf": fnum(stats.kstwo.sf(d, n))})

    smirnov = []
    for n in [1, 2, 5, 10, 50, 140, 1000, 1012, 1013, 5000, 20000]:
        for d in [0.0, 0.5 / n, 1.0 / n, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9,
                  1 - 1.0 / n, 1.0]:
            if 0.0 <= d <= 1.0:
                smirnov.append({"n": n, "d": fnum(d), "sf": fnum(special.smirnov(n, d))})

    kolmogorov = [{"x": fnum(x), "sf": fnum(special.kolmogorov(x))}
                  for x in [0.0, 0.03, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.82, 0.83, 1.0, 1.2,
                            1.358, 1.5, 2.0, 3.0, 5.0, 10.0, 27.0]]

    exact = []
    if _attempt_exact_2kssamp is not None:
        sizes = [(1, 1), (1, 2), (3, 3), (3, 7), (10, 10), (10, 15), (12, 18), (25, 30),
                 (30, 30), (50, 80), (100, 100), (100, 1000), (997, 1000), (1000, 10000),
                 (5000, 10000), (9999, 10000), (10000, 10000), (50, 10000)]
        for (n1, n2) in sizes:
            g = math.gcd(n1, n2)
            lcm = (n1 // g) * n2
            for frac in [0.0, 0.01, 0.03, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0]:
                h = int(round(frac * lcm))
                d = h / lcm
                ok, d_out, p = _attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
                exact.append({"n1": n1, "n2": n2, "d": fnum(d_out), "ok": bool(ok),
                              "p": fnum(np.clip(p, 0, 1)) if ok else None})
    return {"kstwoSf": kstwo, "smirnovSf": smirnov, "kolmogorovSf": kolmogorov, "exact": exact}


# ---------------------------------------------------------------------------------------------
# Reference binning and PSI


def quantile_edges(train, bins):
    qs = np.arange(1, bins) / bins
    return np.unique(np.quantile(np.asarray(train, dtype=float), qs, method="linear"))


def bin_counts(edges, values):
    # right-closed bins: bin i holds (e_{i-1}, e_i], bin 0 is (-inf, e_0], the last (e_k, +inf)
    idx = np.searchsorted(edges, np.asarray(values, dtype=float), side="left")
    return np.bincount(idx, minlength=len(edges) + 1)


def psi_numpy(ref_counts, cur_counts, eps):
    """PSI = sum (q - p) ln(q / p) on additively smoothed proportions.

    p_i = (r_i / R + eps) / (1 + k eps), q_i = (c_i / C + eps) / (1 + k eps), k = #bins.
    """
    r = np.asarray(ref_counts, dtype=float)
    c = np.asarray(cur_counts, dtype=float)
    k = r.size
    p = (r / r.sum() + eps) / (1 + k * eps)
    q = (c / c.sum() + eps) / (1 + k * eps)
    terms = (q - p) * np.log(q / p)
    return p, q, terms, float(terms.sum())


def binning_cases():
    rng = np.random.default_rng(7)
    datasets = {
        "normal": np.round(rng.normal(10, 3, 5000), 6),
        "lognormal": np.round(rng.lognormal(0, 1.5, 4000), 6),
        "uniform-small": np.round(rng.uniform(-1, 1, 37), 6),
        "discrete-0-3": rng.integers(0, 4, 3000).astype(float),
        "binary-70-30": (rng.uniform(0, 1, 2000) < 0.3).astype(float),
        "constant": np.full(500, 4.25),
        "heavy-ties": np.floor(rng.exponential(2.0, 3000)),
        "single": np.array([1.5]),
    }
    cases = []
    for name, train in datasets.items():
        for bins in [10, 4, 20]:
            edges = quantile_edges(train, bins)
            if name.startswith(("discrete", "binary", "constant", "heavy", "single")):
                # include values exactly on the edges: the convention decides their bin
                current = np.concatenate([train[: min(len(train), 800)], edges, edges + 1,
                                          [edges[0] - 10, edges[-1] + 10]])
            else:
                current = np.round(rng.normal(np.median(train), np.std(train) * 1.2, 700), 6)
            ref_counts = bin_counts(edges, train)
            cur_counts = bin_counts(edges, current)
            p, q, terms, psi = psi_numpy(ref_counts, cur_counts, 1e-4)
            cases.append({
                "id": f"{name}-b{bins}",
                "bins": bins,
                "train": as_list(train),
                "current": as_list(current),
                "edges": as_list(edges),
                "referenceCounts": [int(v) for v in ref_counts],
                "currentCounts": [int(v) for v in cur_counts],
                "psi": fnum(psi),
            })
    return cases


def psi_cases():
    rng = np.random.default_rng(99)
    cases = []
    for i in range(40):
        k = int(rng.integers(2, 21))
        ref = rng.integers(0, 500, k)
        if ref.sum() == 0:
            ref[0] = 1
        cur = ref + rng.integers(-40, 40, k) * (i % 4)
        cur = np.clip(cur, 0, None)
        if i % 5 == 0:  # empty bins on either side
            ref[rng.integers(0, k)] = 0
            cur[rng.integers(0, k)] = 0
        if ref.sum() == 0:
            ref[-1] = 3
        if cur.sum() == 0:
            cur[0] = 2
        if i % 7 == 3:  # a strong shift
            cur = np.roll(cur, 1)
        eps = [1e-4, 1e-6, 1e-2, 1e-4][i % 4]
        p, q, terms, psi = psi_numpy(ref, cur, eps)
        cases.append({
            "id": f"psi-{i}",
            "epsilon": eps,
            "referenceCounts": [int(v) for v in ref],
            "currentCounts": [int(v) for v in cur],
            "referenceProportions": as_list(p),
            "currentProportions": as_list(q),
            "terms": as_list(terms),
            "psi": fnum(psi),
        })
    # identical distributions: PSI 0; one-hot moved: large PSI
    for eps in [1e-4, 1e-3]:
        for ref, cur in [([10, 20, 30], [1, 2, 3]), ([100, 0, 0, 0], [0, 0, 0, 7])]:
            p, q, terms, psi = psi_numpy(ref, cur, eps)
            cases.append({
                "id": f"psi-special-{ref}-{cur}-{eps}",
                "epsilon": eps,
                "referenceCounts": ref,
                "currentCounts": cur,
                "referenceProportions": as_list(p),
                "currentProportions": as_list(q),
                "terms": as_list(terms),
                "psi": fnum(psi),
            })
    return cases


# ---------------------------------------------------------------------------------------------
# Jensen-Shannon


def js_cases():
    rng = np.random.default_rng(3)
    cases = []
    for i in range(30):
        k = int(rng.integers(2, 16))
        p = rng.integers(0, 50, k).astype(float)
        q = rng.integers(0, 50, k).astype(float)
        if i % 3 == 0:
            p[rng.integers(0, k)] = 0
        if i % 4 == 0:
            q[rng.integers(0, k)] = 0
        if p.sum() == 0:
            p[0] = 1
        if q.sum() == 0:
            q[-1] = 1
        if i % 2:  # proportions instead of counts
            p = p / p.sum()
            q = q / q.sum()
        cases.append({"id": f"js-{i}", "p": as_list(p), "q": as_list(q),
                      "distanceE": fnum(distance.jensenshannon(p, q)),
                      "distance2": fnum(distance.jensenshannon(p, q, base=2))})
    for p, q in [([1, 0, 0], [0, 1, 0]), ([1, 0], [0.5, 0.5]), ([1, 0, 0], [1, 0, 0]),
                 ([3, 3, 3], [1, 1, 1])]:
        cases.append({"id": f"js-special-{p}-{q}", "p": p, "q": q,
                      "distanceE": fnum(distance.jensenshannon(p, q)),
                      "distance2": fnum(distance.jensenshannon(p, q, base=2))})
    return cases


def main():
    write("ks-2samp.json", {"cases": ks_cases()})
    write("ks-distribution.json", ks_distribution())
    write("binning.json", {"cases": binning_cases()})
    write("psi.json", {"cases": psi_cases()})
    write("jensen-shannon.json", {"cases": js_cases()})


if __name__ == "__main__":
    main()
