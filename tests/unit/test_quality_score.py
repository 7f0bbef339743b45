"""The score table, its piecewise-linear anchors, caps and hard flags; gate presets and the video contract checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tower_sentinel.quality import (
    GATE_PRESETS,
    THRESHOLDS,
    Assessment,
    VideoContract,
    contract_checks,
    gate_failures,
    gate_spec,
    score_images,
)
from tower_sentinel.quality.metrics import METRICS
from tower_sentinel.quality.score import interp


def _values(**over: float) -> dict[str, torch.Tensor]:
    good = {
        "finite": 1.0,
        "nonfinite_fraction": 0.0,
        "mean_luma": 0.5,
        "rms_contrast": 0.25,
        "dark_fraction": 0.0,
        "bright_fraction": 0.0,
        "black_fraction": 0.0,
        "p5": 0.1,
        "p95": 0.9,
        "spread": 0.8,
        "blank_ratio": 0.1,
        "laplacian_var": 900.0,
        "tenengrad": 1e4,
        "noise_sigma": 1.0,
        "colourfulness": 40.0,
        "mu_rg": 1.0,
        "mu_yb": 1.0,
        "colour_cast": 0.1,
        "blockiness": 1.0,
    }
    good.update(over)
    assert set(good) == set(METRICS)
    return {k: torch.tensor([v], dtype=torch.float64) for k, v in good.items()}


@given(st.floats(-1e4, 1e4, allow_nan=False))
def test_interp_matches_numpy(x: float) -> None:
    """interp is np.interp (clamped ends) for every anchor row of the table."""
    for m in THRESHOLDS.values():
        got = interp(torch.tensor([x], dtype=torch.float64), m.xs, m.ys).item()
        assert got == pytest.approx(float(np.interp(x, m.xs, m.ys)), abs=1e-12)


def test_table_is_well_formed() -> None:
    """Weights sum to 1, anchors ascend, anchor scores lie in 0..1: the score stays a weighted mean in 0..1."""
    assert sum(m.weight for m in THRESHOLDS.values()) == pytest.approx(1.0)
    for m in THRESHOLDS.values():
        assert list(m.xs) == sorted(m.xs) and all(0 <= y <= 1 for y in m.ys) and len(m.xs) == len(m.ys)


def test_perfect_image_scores_one_and_hard_flags_force_zero() -> None:
    """All-good metrics give 1.0; non-finite, black or blank force 0 whatever the rest says."""
    assert score_images(_values()).item() == pytest.approx(1.0)
    for bad in ({"finite": 0.0}, {"black_fraction": 0.99}, {"blank_ratio": 0.95}):
        assert score_images(_values(**bad)).item() == 0.0


def test_critical_measures_cap_the_weighted_mean() -> None:
    """A blur-only defect (Laplacian var 0) caps the score at 0.2 although the weighted mean would be 0.7."""
    assert score_images(_values(laplacian_var=0.0)).item() == pytest.approx(0.2)
    assert score_images(_values(laplacian_var=100.0)).item() == pytest.approx(0.6)
    assert score_images(_values(colourfulness=0.0, colour_cast=50.0)).item() == pytest.approx(1.0)  # gray: n/a


def test_measures_that_do_not_apply_are_left_out() -> None:
    """A NaN blockiness (image too small) drops out of the weighted mean instead of pulling it down."""
    assert score_images(_values(blockiness=float("nan"))).item() == pytest.approx(1.0)


def test_gate_presets_and_custom_spec() -> None:
    """Presets are the studio's draft 0.3 / standard 0.45 / final 0.6; custom validates its score; unknown is refused."""
    assert GATE_PRESETS == {"draft": 0.3, "standard": 0.45, "final": 0.6}
    assert gate_spec("final").min_score == 0.6
    assert gate_spec("custom", min_score=0.2, min_sharpness=50).min_sharpness == 50
    with pytest.raises(ValueError, match="preset"):
        gate_spec("ultra")
    with pytest.raises(ValueError, match="0..1"):
        gate_spec("custom", min_score=2.0)


def _assessment(scores: list[float], clip: dict[str, float] | None = None, **metric: float) -> Assessment:
    m = {k: v[0] for k, v in ((k, t.tolist()) for k, t in _values(**metric).items())}
    return Assessment(scores, [[] for _ in scores], [dict(m) for _ in scores], "clip", "float", clip)


def test_gate_failures_name_each_broken_limit() -> None:
    """gate_failures lists the score and each custom limit an image breaks, and nothing for a passing image."""
    a = _assessment([0.9, 0.2], laplacian_var=50.0)
    spec = gate_spec("custom", min_score=0.5, min_sharpness=100.0)
    fails = gate_failures(a, spec)
    assert set(fails[0]) == {"laplacian_var"} and set(fails[1]) == {"quality_score", "laplacian_var"}
    assert gate_failures(_assessment([0.9]), gate_spec("final")) == [{}]


def test_video_contract_checks_each_studio_gate() -> None:
    """The contract passes a moving sharp colourful clip and fails exactly the check whose limit is crossed."""
    moving = {"mean_ssim": 0.9, "motion_px": 2.0}
    ok = contract_checks(_assessment([0.8, 0.8], moving), VideoContract())
    assert all(c["passed"] for c in ok.values())
    still = contract_checks(_assessment([0.8, 0.8], {"mean_ssim": 0.995, "motion_px": 0.1}), VideoContract())
    assert [k for k, c in still.items() if not c["passed"]] == ["changes", "moves"]
    dull = contract_checks(_assessment([0.4, 0.4], moving, colourfulness=5.0, laplacian_var=80.0), VideoContract())
    assert [k for k, c in dull.items() if not c["passed"]] == ["sharp", "colourful", "quality"]
