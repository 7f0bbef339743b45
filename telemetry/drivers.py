"""Failure drivers: the workflow inputs whose values make one failure pattern likely.

Each recorded prompt carries its scalar inputs as ``{"Class.input": value}`` and, if it failed, its pattern's
fingerprint. For one pattern, every candidate split of the prompts is a decision stump: a number ``≥``/``<`` a
threshold, a string or boolean ``==`` a value, or a node class being present. A split is scored by the χ² of its
2×2 table (pattern / not pattern × matched / unmatched) and kept when it raises the pattern's rate by at least
``MIN_RATE_GAIN`` with at least ``MIN_FAILURES`` failures on the matched side. Derived features capture what
single inputs miss: ``Class.width×height`` (pixels) and ``…×batch_size``.

``DriverIndex`` builds per-feature value histograms once (one pass over the prompts); each pattern's search then
costs O(distinct values) per feature. Numbers with many distinct values are binned into ``MAX_THRESHOLDS``
quantile thresholds. Inputs that are random by design (seeds) are skipped.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["PromptSample", "DriverIndex", "find_drivers"]

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


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class DriverIndex:
    """Per-feature value histograms over a sample of prompts; ``drivers(fingerprint)`` searches one pattern."""

    def __init__(self, samples: list[PromptSample]) -> None:
        self.n = len(samples)
        self.fp_total: Counter[str | None] = Counter(s.fingerprint for s in samples)
        pairs: Counter[tuple[str, str, Any, str | None]] = Counter()
        for s in samples:
            fp = s.fingerprint
            for (name, kind), val in _features(s.inputs).items():
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
            self.features.append(_Feature(name, kind, hist, sum(sum(c.values()) for c in hist.values())))

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
        if feat.kind == "presence":
            n_m = feat.total
            k_m = sum(c[fp] for c in feat.hist.values())
            return _split(feat, "present", True, n_m, k_m, self.n, self.fp_total[fp])
        n_all = feat.total
        k_all = sum(c[fp] for c in feat.hist.values())
        best = None
        if feat.kind == "categorical":
            for val, c in feat.hist.items():
                d = _split(feat, "==", val, sum(c.values()), c[fp], n_all, k_all)
                best = _better(best, d)
            return best
        values = sorted(feat.hist)
        n_ge = k_ge = 0
        for i in range(len(values) - 1, 0, -1):  # threshold values[i]: matched are ≥ it; the smallest is no split
            c = feat.hist[values[i]]
            n_ge += sum(c.values())
            k_ge += c[fp]
            best = _better(best, _split(feat, ">=", values[i], n_ge, k_ge, n_all, k_all))
            best = _better(best, _split(feat, "<", values[i], n_all - n_ge, k_all - k_ge, n_all, k_all))
        return best


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
