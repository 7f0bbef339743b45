"""Degradations move the right metric the right way: noise, blur, JPEG, colour casts, NaN, black and blank frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from tower_sentinel.quality import assess, image_metrics

from ._quality_fixtures import anime, batch, photo


def _metrics(*imgs: np.ndarray, mode: str = "float") -> dict[str, list[float]]:
    return image_metrics(batch(*imgs), mode=mode).to_lists()


@pytest.mark.parametrize("sigma", [5.0, 10.0, 20.0])
def test_noise_sigma_within_ten_percent_of_truth(sigma: float) -> None:
    """Gray Gaussian noise of sigma s (0..255) reads s within 10 %; iid RGB noise reads about 0.668 s (luma averaging).

    The RGB bound is 15 %: at s = 5 the photo's own texture adds about 0.4 to Immerkaer's estimate.
    """
    rng = np.random.default_rng(int(sigma))
    base = 0.25 + 0.5 * photo("astronaut", (512, 512))
    gray_noise = rng.normal(0, sigma / 255.0, (8, 512, 512, 1)).astype(np.float32)
    rgb_noise = rng.normal(0, sigma / 255.0, (8, 512, 512, 3)).astype(np.float32)
    m_gray = image_metrics(torch.from_numpy(base + gray_noise), mode="float").to_lists()["noise_sigma"]
    m_rgb = image_metrics(torch.from_numpy(base + rgb_noise), mode="float").to_lists()["noise_sigma"]
    assert np.mean(m_gray) == pytest.approx(sigma, rel=0.10)
    assert np.mean(m_rgb) == pytest.approx(0.668 * sigma, rel=0.15)


def test_blur_lowers_sharpness_and_score_and_flags_blurry() -> None:
    """Laplacian variance and Tenengrad fall strictly as Gaussian blur grows; the blurred frame is flagged, the clean one not."""
    clean = photo("astronaut", (512, 512))
    blurred = [cv2.GaussianBlur(clean, (0, 0), s) for s in (0.8, 1.6, 3.2)]
    m = _metrics(clean, *blurred)
    assert all(a > b for a, b in zip(m["laplacian_var"], m["laplacian_var"][1:], strict=False))
    assert all(a > b for a, b in zip(m["tenengrad"], m["tenengrad"][1:], strict=False))
    a = assess(batch(clean, blurred[-1]))
    assert "blurry" not in a.flags[0] and "blurry" in a.flags[1]
    assert a.scores[0] > a.scores[1]


def test_clean_anime_frame_is_not_blurry_and_scores_well() -> None:
    """A clean cel-shaded frame (flat fills, line art) passes the sharpness gate and the standard score, unlike NIQE."""
    a = assess(batch(anime((512, 512), seed=1), anime((512, 512), seed=2)))
    for flags, score in zip(a.flags, a.scores, strict=True):
        assert "blurry" not in flags
        assert score > 0.5


def test_jpeg_quality_raises_blockiness() -> None:
    """Blockiness rises monotonically as JPEG quality falls (q 90 -> 50 -> 10), from about 1 on the clean frame."""
    clean = photo("astronaut", (512, 512))
    u8 = (clean * 255).astype(np.uint8)
    out = [clean]
    for q in (90, 50, 10):
        ok, enc = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        out.append(cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0)
    b = _metrics(*out)["blockiness"]
    assert b[0] < 1.1
    assert b[0] < b[1] < b[2] < b[3]
    assert b[3] > 1.5
    shifted = _metrics(out[3][3:, 5:])["blockiness"][0]  # a crop moves the grid phase; the phase search follows it
    assert shifted > 1.5


def test_colour_cast_moves_opponent_means_and_cast() -> None:
    """A red cast raises mu_rg and colour_cast, a blue cast drives mu_yb negative; a gray image has colourfulness 0."""
    img = photo("astronaut", (256, 256))
    red = np.clip(img * np.array([1.0, 0.7, 0.7], np.float32) + np.array([0.2, 0, 0], np.float32), 0, 1)
    blue = np.clip(img * np.array([0.6, 0.6, 1.0], np.float32) + np.array([0, 0, 0.3], np.float32), 0, 1)
    gray = np.repeat(img.mean(-1, keepdims=True), 3, -1)
    m = _metrics(img, red, blue, gray)
    assert m["mu_rg"][1] > m["mu_rg"][0] + 20
    assert m["colour_cast"][1] > m["colour_cast"][0]
    assert m["mu_yb"][2] < m["mu_yb"][0] - 20
    assert m["colourfulness"][3] == pytest.approx(0.0, abs=1e-4)
    assert m["colourfulness"][0] > 10


def test_nan_inf_black_and_blank_are_flagged_and_force_zero() -> None:
    """NaN/inf pixels set finite=0 and their fraction; black and flat-gray frames are flagged; all three score 0."""
    clean = photo("astronaut", (128, 128))
    nan = clean.copy()
    nan[:16, :16, 0] = np.nan
    nan[20, 20, 1] = np.inf
    black = np.zeros_like(clean)
    flat = np.full_like(clean, 0.5)
    for mode in ("float", "exact"):
        a = assess(batch(clean, nan, black, flat), precision=mode)
        assert a.metrics[0]["finite"] == 1.0 and a.metrics[1]["finite"] == 0.0
        assert a.metrics[1]["nonfinite_fraction"] == pytest.approx(257 / (3 * 128 * 128))
        assert "non_finite" in a.flags[1] and "black" in a.flags[2] and "blank" in a.flags[3]
        assert a.metrics[2]["dark_fraction"] == 1.0 and a.metrics[2]["laplacian_var"] == 0.0
        assert a.metrics[3]["rms_contrast"] == 0.0
        assert a.scores[0] > 0.4 and a.scores[1:] == [0.0, 0.0, 0.0]
        assert not any(f in a.flags[0] for f in ("non_finite", "black", "blank"))


def test_exposure_measures_follow_brightness() -> None:
    """Darkening lowers mean luma and p95 and raises the dark fraction; an overexposed frame is flagged."""
    img = photo("chelsea", (200, 200))
    dark = img * 0.2
    bright = np.clip(img * 2.5, 0, 1)
    m = _metrics(img, dark, bright)
    assert m["mean_luma"][1] < m["mean_luma"][0] < m["mean_luma"][2]
    assert m["p95"][1] < m["p95"][0]
    assert m["bright_fraction"][2] > m["bright_fraction"][0]
    a = assess(batch(img, dark, bright))
    assert "underexposed" in a.flags[1] and "overexposed" in a.flags[2]
