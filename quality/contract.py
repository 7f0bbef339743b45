"""The studio's gates: quality gate presets and the video contract, as pure functions over assessments."""

from __future__ import annotations

from dataclasses import dataclass, field

from .assess import Assessment

__all__ = ["GATE_PRESETS", "GateSpec", "gate_spec", "gate_failures", "VideoContract", "contract_checks"]

# Retries step the gate down: final 0.6 -> standard 0.45 -> draft 0.3.
GATE_PRESETS: dict[str, float] = {"draft": 0.3, "standard": 0.45, "final": 0.6}


@dataclass(frozen=True, slots=True)
class GateSpec:
    """What an image must reach to pass; 0 (or None for blank) switches a per-metric limit off."""

    min_score: float
    min_sharpness: float = 0.0
    min_colourfulness: float = 0.0
    max_noise: float = 0.0
    max_blank_ratio: float | None = None


def gate_spec(
    preset: str,
    *,
    min_score: float = 0.5,
    min_sharpness: float = 0.0,
    min_colourfulness: float = 0.0,
    max_noise: float = 0.0,
    max_blank_ratio: float | None = None,
) -> GateSpec:
    """A preset's spec, or the custom one built from the keyword limits."""
    if preset == "custom":
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in 0..1, got {min_score}")
        return GateSpec(min_score, min_sharpness, min_colourfulness, max_noise, max_blank_ratio)
    if preset not in GATE_PRESETS:
        raise ValueError(f"unknown gate preset {preset!r}; choose one of {[*GATE_PRESETS, 'custom']}")
    return GateSpec(GATE_PRESETS[preset])


def gate_failures(a: Assessment, spec: GateSpec) -> list[dict[str, object]]:
    """Per image: {} when it passes, else {metric: {"value", "limit"}} for each limit it breaks."""
    out: list[dict[str, object]] = []
    for i in range(len(a.scores)):
        m = a.metrics[i]
        bad: dict[str, object] = {}
        hard = [f for f in a.flags[i] if f in ("non_finite", "black", "blank")]
        if hard:
            bad["flags"] = hard
        if not a.scores[i] >= spec.min_score:
            bad["quality_score"] = {"value": a.scores[i], "limit": spec.min_score}
        if spec.min_sharpness > 0 and not m["laplacian_var"] > spec.min_sharpness:
            bad["laplacian_var"] = {"value": m["laplacian_var"], "limit": spec.min_sharpness}
        if spec.min_colourfulness > 0 and not m["colourfulness"] > spec.min_colourfulness:
            bad["colourfulness"] = {"value": m["colourfulness"], "limit": spec.min_colourfulness}
        if spec.max_noise > 0 and not m["noise_sigma"] <= spec.max_noise:
            bad["noise_sigma"] = {"value": m["noise_sigma"], "limit": spec.max_noise}
        if spec.max_blank_ratio is not None and not m["blank_ratio"] <= spec.max_blank_ratio:
            bad["blank_ratio"] = {"value": m["blank_ratio"], "limit": spec.max_blank_ratio}
        out.append(bad)
    return out


@dataclass(frozen=True, slots=True)
class VideoContract:
    """The studio's video contract (defaults from its pipeline)."""

    max_blank_ratio: float = 0.90
    min_sharpness: float = 100.0
    min_colourfulness: float = 10.0
    min_change: float = 0.01  # 1 - mean SSIM between consecutive frames
    min_motion_px: float = 0.5
    min_score: float = 0.5
    extra: dict[str, float] = field(default_factory=dict)


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def contract_checks(a: Assessment, c: VideoContract) -> dict[str, dict[str, object]]:
    """Each check's value, limit and verdict. Frames: the worst blank ratio, the median sharpness/colourfulness."""
    clip = a.clip or {"mean_ssim": 1.0, "motion_px": 0.0}
    worst_blank = max(m["blank_ratio"] for m in a.metrics)
    sharp = _median([m["laplacian_var"] for m in a.metrics])
    colour = _median([m["colourfulness"] for m in a.metrics])
    finite = all(m["finite"] >= 0.5 for m in a.metrics)
    change = 1.0 - clip["mean_ssim"]
    checks = {
        "finite": (1.0 if finite else 0.0, 1.0, finite),
        "not_blank": (worst_blank, c.max_blank_ratio, worst_blank <= c.max_blank_ratio),
        "sharp": (sharp, c.min_sharpness, sharp > c.min_sharpness),
        "colourful": (colour, c.min_colourfulness, colour > c.min_colourfulness),
        "changes": (change, c.min_change, change > c.min_change),
        "moves": (clip["motion_px"], c.min_motion_px, clip["motion_px"] > c.min_motion_px),
        "quality": (a.score, c.min_score, a.score > c.min_score),
    }
    return {k: {"value": v, "limit": lim, "passed": bool(ok)} for k, (v, lim, ok) in checks.items()}
