"""Failure drivers: the workflow inputs whose values make one failure pattern likely.

Each recorded prompt carries its scalar inputs as ``{"Class.input": value}`` and, if it failed, its pattern's
fingerprint. For one pattern, every candidate split of the prompts is a decision stump: a number ``≥``/``<`` a
threshold, a string or boolean ``==`` a value, or a node class being present. A split is scored by the χ² of its
2×2 table (pattern / not pattern × matched / unmatched) and kept when it raises the pattern's rate by at least
``MIN_RATE_GAIN`` with at least ``MIN_FAILURES`` failures on the matched side. Derived features capture what
single inputs miss: ``Class.width×height`` (pixels) and ``…×batch_size``.

``DriverIndex`` builds per-feature value histograms once (one pass over the prompts); each pattern's search then
costs O(distinct values) per feature. Numbers with many distinct values are binned into ``MAX_THRESHOLDS``
quantile thresholds. Inputs that are random by design (seeds) are skipped. A numeric feature's per-bin counts are
kept as numpy arrays (per fingerprint), so one pattern's threshold search is a few vector operations: they score
every threshold at once and only the near-best candidates are re-scored exactly by ``_split`` (in the original
order, so ties break as before and the answer does not depend on float rounding in the vector pass).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["PromptSample", "DriverIndex", "find_drivers", "sample_features"]

MIN_FAILURES = 2
MIN_RATE_GAIN = 0.2
MIN_CHI2 = 3.84  # p < 0.05, one degree of freedom
MAX_THRESHOLDS = 64
MAX_DRIVERS = 3
_SKIP = re.compile(r"(?:^|_)seed$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PromptSample:
    """One finished prompt: its recorded scalar inputs and its error's fingerprint (None on success)."""

    inputs: dict[str, Any]
    fingerprint: str | None


@dataclass(slots=True)
class _Feature:
    name: str
    kind: str  # numeric | derived | categorical | presence
    hist: dict[Any, Counter[str | None]]  # value (or threshold bin) → fingerprints of the prompts with it
    total: int = 0
    values: list[Any] | None = None  # numeric: the sorted bin values
    n_ge: Any = None  # numeric: prompts with a value ≥ values[i] (suffix sums, numpy int64)
    k_ge: dict[str | None, Any] | None = None  # numeric: per fingerprint, failures with a value ≥ values[i]
    k_all: dict[str | None, int] | None = None  # per fingerprint: prompts of it having this feature


@lru_cache(maxsize=4096)
def _key(key: str) -> tuple[str, bool]:
    """(node class, skip) of an input key ``Class.input``; skip for malformed keys and seeds."""
    cls, _, name = key.rpartition(".")
    return cls, not cls or bool(_SKIP.search(name))


def _features(inputs: dict[str, Any]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    classes: set[str] = set()
    for key, val in inputs.items():
        cls, skip = _key(key)
        if cls:
            classes.add(cls)
        if skip:
            continue
        t = type(val)
        if t is str or t is bool:
            out[(key, "categorical")] = val
        elif (t is int or t is float) and math.isfinite(val):
            out[(key, "numeric")] = val
    for cls in classes:
        out[(cls, "presence")] = True
        w, h = inputs.get(cls + ".width"), inputs.get(cls + ".height")
        if w is not None and h is not None and _num(w) and _num(h):
            out[(cls + ".width×height", "derived")] = w * h
            b = inputs.get(cls + ".batch_size")
            if b is not None and _num(b) and b > 1:
                out[(cls + ".width×height×batch_size", "derived")] = w * h * b
    return out


def sample_features(inputs: dict[str, Any]) -> tuple[tuple[tuple[str, str], Any], ...]:
    """One prompt's candidate features ((name, kind), value), as ``DriverIndex`` counts them."""
    return tuple(_features(inputs).items())


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class DriverIndex:
    """Per-feature value histograms over a sample of prompts; ``drivers(fingerprint)`` searches one pattern."""

    def __init__(self, samples: list[PromptSample], *,
                 features: list[tuple[tuple[tuple[tuple[str, str], Any], ...], str | None]] | None = None) -> None:
        """From prompt samples, or from ``features``: (``sample_features(inputs)``, fingerprint) per prompt, for
        callers that keep each prompt's features between analyses."""
        if features is None:
            features = [(sample_features(s.inputs), s.fingerprint) for s in samples]
        self.n = len(features)
        self.fp_total: Counter[str | None] = Counter(fp for _f, fp in features)
        pairs: Counter[tuple[str, str, Any, str | None]] = Counter()
        for feats, fp in features:
            for (name, kind), val in feats:
                pairs[(name, kind, val, fp)] += 1
        grouped: dict[tuple[str, str], dict[Any, Counter[str | None]]] = {}
        for (name, kind, val, fp), count in pairs.items():
            hist = grouped.setdefault((name, kind), {})
            c = hist.get(val)
            if c is None:
                c = hist[val] = Counter()
            c[fp] += count
        self.features: list[_Feature] = []
        for (name, kind), hist in grouped.items():
            if kind in ("numeric", "derived") and len(hist) > MAX_THRESHOLDS:
                distinct = sorted(hist)
                step = len(distinct) / MAX_THRESHOLDS
                cuts = sorted({distinct[int(i * step)] for i in range(MAX_THRESHOLDS)})
                binned: dict[Any, Counter[str | None]] = {}
                for v, c in hist.items():
                    b = cuts[max(bisect_right(cuts, v) - 1, 0)]
                    binned.setdefault(b, Counter()).update(c)
                hist = binned
            feat = _Feature(name, kind, hist, sum(sum(c.values()) for c in hist.values()))
            k_all: Counter[str | None] = Counter()
            for c in hist.values():
                k_all.update(c)
            feat.k_all = dict(k_all)
            if kind in ("numeric", "derived"):
                values = sorted(hist)
                feat.values = values
                feat.n_ge = np.cumsum(np.array([sum(hist[v].values()) for v in values], dtype=np.int64)[::-1])[::-1]
                feat.k_ge = {}  # filled per fingerprint on first use
            self.features.append(feat)

    def drivers(self, fingerprint: str, *, limit: int = MAX_DRIVERS) -> list[dict[str, Any]]:
        if not self.fp_total.get(fingerprint):
            return []
        found = []
        for feat in self.features:
            best = self._best(feat, fingerprint)
            if best is not None:
                found.append(best)
        found.sort(key=lambda d: (-d["score"], -(d["matched"]["rate"] - d["unmatched"]["rate"]), d["condition"]))
        return found[:limit]

    def _best(self, feat: _Feature, fp: str) -> dict[str, Any] | None:
        k_all = feat.k_all.get(fp, 0) if feat.k_all is not None else sum(c[fp] for c in feat.hist.values())
        if feat.kind == "presence":
            return _split(feat, "present", True, feat.total, k_all, self.n, self.fp_total[fp])
        n_all = feat.total
        # a condition is false for prompts without the input at all: they count on the unmatched side, so
        # "width ≥ 1536" competes fairly with "the node is in the workflow"
        big_n, big_k = self.n, self.fp_total[fp]
        best = None
        if feat.kind == "categorical":
            if k_all < MIN_FAILURES:
                return None
            for val, c in feat.hist.items():
                d = _split(feat, "==", val, sum(c.values()), c[fp], big_n, big_k)
                best = _better(best, d)
            return best
        if k_all < MIN_FAILURES or k_all >= n_all or feat.values is None or len(feat.values) < 2:
            return None
        k_ge_all = feat.k_ge.get(fp)
        if k_ge_all is None:
            per_bin = np.array([feat.hist[v].get(fp, 0) for v in feat.values], dtype=np.int64)
            k_ge_all = feat.k_ge[fp] = np.cumsum(per_bin[::-1])[::-1]
        for i, op in _candidates(feat.n_ge[1:], k_ge_all[1:], n_all, k_all, big_n, big_k):
            i += 1
            n_ge, k_ge = int(feat.n_ge[i]), int(k_ge_all[i])
            if op == ">=":
                d = _split(feat, ">=", feat.values[i], n_ge, k_ge, big_n, big_k)
            else:
                d = _split(feat, "<", feat.values[i], n_all - n_ge, k_all - k_ge, big_n, big_k)
            best = _better(best, d)
        return best


def _candidates(n_ge: Any, k_ge: Any, n_feat: int, k_feat: int, n: int, k: int) -> list[tuple[int, str]]:
    """The thresholds (index into the arrays, op) whose split may be the best, in the order the search used to
    visit them (highest threshold first, ``≥`` before ``<``). A vector pass scores all of them; the few within a
    hair of the best score (float rounding) are returned for exact scoring."""
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for op in (">=", "<"):
        n_m = n_ge if op == ">=" else n_feat - n_ge
        k_m = k_ge if op == ">=" else k_feat - k_ge
        n_u, k_u = n - n_m, k - k_m
        ok = (n_m > 0) & (k_m >= MIN_FAILURES) & (n_u > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate_m = np.where(ok, k_m / np.where(n_m > 0, n_m, 1), 0.0)
            rate_u = np.where(ok, k_u / np.where(n_u > 0, n_u, 1), 0.0)
            ok &= (rate_m - rate_u) >= MIN_RATE_GAIN
            num = (k_m * (n_u - k_u) - (n_m - k_m) * k_u).astype(np.float64)
            den = (n_m * n_u).astype(np.float64) * float(k * (n - k))
            chi2 = np.where(ok, n * num * num / np.where(ok, den, 1.0), -1.0)
        ok &= chi2 >= MIN_CHI2 * (1 - 1e-9)
        out.append((ok, chi2))
    (ok_ge, chi_ge), (ok_lt, chi_lt) = out
    if not (ok_ge.any() or ok_lt.any()):
        return []
    top = max(chi_ge[ok_ge].max(initial=-1.0), chi_lt[ok_lt].max(initial=-1.0))
    near = top - max(1.01e-6, 1e-9 * top)  # scores are compared rounded to 6 decimals: keep every possible tie
    keep_ge = ok_ge & (chi_ge >= near)
    keep_lt = ok_lt & (chi_lt >= near)
    found = [(int(i), ">=") for i in np.nonzero(keep_ge)[0]] + [(int(i), "<") for i in np.nonzero(keep_lt)[0]]
    found.sort(key=lambda t: (-t[0], t[1] != ">="))
    return found


def _better(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    if b is None:
        return a
    if a is None:
        return b
    ka = (a["score"], a["matched"]["rate"] - a["unmatched"]["rate"])
    kb = (b["score"], b["matched"]["rate"] - b["unmatched"]["rate"])
    return b if kb > ka else a


def _split(feat: _Feature, op: str, threshold: Any, n_m: int, k_m: int, n: int, k: int) -> dict[str, Any] | None:
    """The driver dict for one split, or None when it does not raise the rate enough to matter."""
    n_u, k_u = n - n_m, k - k_m
    if n_m <= 0 or k_m < MIN_FAILURES or k <= 0 or k >= n:
        return None
    rate_m = k_m / n_m
    rate_u = k_u / n_u if n_u else 0.0
    if rate_m - rate_u < MIN_RATE_GAIN:
        return None
    if n_u == 0:
        # a presence split covering every prompt explains nothing
        return None
    chi2 = n * (k_m * (n_u - k_u) - (n_m - k_m) * k_u) ** 2 / (n_m * n_u * k * (n - k))
    if chi2 < MIN_CHI2:
        return None
    return {
        "input": feat.name, "kind": feat.kind, "op": op, "threshold": threshold,
        "condition": _condition(feat, op, threshold),
        "matched": {"prompts": n_m, "failures": k_m, "rate": round(rate_m, 6)},
        "unmatched": {"prompts": n_u, "failures": k_u, "rate": round(rate_u, 6)},
        "lift": round(rate_m / rate_u, 6) if rate_u else None,
        "score": round(chi2, 6),
    }


def _condition(feat: _Feature, op: str, threshold: Any) -> str:
    if feat.kind == "presence":
        return f"{feat.name} in the workflow"
    if op == "==":
        return f"{feat.name} = {threshold!r}"
    sym = "≥" if op == ">=" else "<"
    name = feat.name.replace("×", " × ") if feat.kind == "derived" else feat.name
    text = f"{name} {sym} {_fmt(threshold)}"
    if feat.kind == "derived" and isinstance(threshold, int) and threshold > 0:
        root = math.isqrt(threshold)
        if root * root == threshold:
            text += f" ({root}²)"
    return text


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def find_drivers(samples: list[PromptSample] | DriverIndex, fingerprint: str, *,
                 limit: int = MAX_DRIVERS) -> list[dict[str, Any]]:
    """The inputs that most raise the rate of ``fingerprint`` among the sampled prompts (best first)."""
    index = samples if isinstance(samples, DriverIndex) else DriverIndex(samples)
    return index.drivers(fingerprint, limit=limit)
