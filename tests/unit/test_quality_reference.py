"""The metric set against its references: OpenCV, numpy and scipy, on uint8 (exact mode) and float64 (float mode)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import scipy.signal
import torch
from tower_sentinel.quality import image_metrics, stencils

from ._quality_fixtures import anime, batch, photo, to_u8

IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
RTOL = 1e-5


def _reference(gray: np.ndarray, rgb: np.ndarray) -> dict[str, float]:
    """The peers' formulas on one image: gray and rgb in 0..255 (uint8 or float64)."""
    g = gray.astype(np.float64) if gray.dtype == np.uint8 else gray
    ddepth = cv2.CV_64F
    gx = cv2.Sobel(gray, ddepth, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, ddepth, 0, 1, ksize=3)
    h, w = g.shape
    r, gg, b = (rgb[..., k].astype(np.float64) for k in range(3))
    rg, yb = r - gg, 0.5 * (r + gg) - b
    return {
        "laplacian_var": cv2.Laplacian(gray, ddepth, ksize=1).var(),
        "laplacian_var_k3": cv2.Laplacian(gray, ddepth, ksize=3).var(),
        "tenengrad": float((gx**2 + gy**2).mean()),
        "rms_contrast": float((g / 255.0).std()),
        "mean_luma": float(g.mean() / 255.0),
        "colourfulness": math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()),
        "noise_sigma": math.sqrt(math.pi / 2)
        * np.abs(scipy.signal.convolve2d(g, IMMERKAER, mode="valid")).sum()
        / (6 * (w - 2) * (h - 2)),
    }


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    noisy = np.clip(photo("coffee") + np.random.default_rng(3).normal(0, 0.03, (240, 320, 3)), 0, 1)
    return batch(photo("astronaut"), anime(), noisy.astype(np.float32), photo("chelsea"))


def test_exact_luma_is_bit_identical_to_cv2(images: torch.Tensor) -> None:
    """Exact mode's luma (truncating uint8 conversion + 15-bit fixed point) equals cv2.cvtColor(RGB2GRAY) pixel for pixel."""
    rng = np.random.default_rng(0)
    x = torch.cat([images, torch.from_numpy(rng.random((2, 240, 320, 3), dtype=np.float32))])
    u8 = to_u8(x)
    planes = torch.from_numpy(u8.astype(np.float32)).permute(3, 0, 1, 2)
    ours = stencils.luma(planes[0], planes[1], planes[2], exact=True).numpy()
    ref = np.stack([cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) for im in u8])
    assert np.array_equal(ours.astype(np.uint8), ref)
    assert np.array_equal(ours, ref.astype(np.float32))  # integral values, no fraction left over


def test_exact_mode_matches_opencv_numpy_scipy(images: torch.Tensor) -> None:
    """Exact mode agrees with OpenCV/numpy/scipy on the saved uint8 image within rtol 1e-5 (clip fractions equal)."""
    m = image_metrics(images, mode="exact", analysis_size=None).to_lists()
    u8 = to_u8(images)
    for i, im in enumerate(u8):
        gray = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
        ref = _reference(gray, im)
        for key in ("laplacian_var", "tenengrad", "rms_contrast", "mean_luma", "colourfulness", "noise_sigma"):
            assert m[key][i] == pytest.approx(ref[key], rel=RTOL), (i, key)
        assert m["dark_fraction"][i] == (gray <= 2).mean()
        assert m["bright_fraction"][i] == pytest.approx((gray >= 253).mean(), abs=1e-12)
        assert m["p5"][i] == np.percentile(gray, 5, method="inverted_cdf") / 255.0
        assert m["p95"][i] == np.percentile(gray, 95, method="inverted_cdf") / 255.0


def test_laplacian_ksize3_matches_cv2_in_both_conventions(images: torch.Tensor) -> None:
    """laplacian_variance(ksize=3) equals cv2.Laplacian(ksize=3).var() (about 9x the ksize=1 value), ksize 1 likewise."""
    u8 = to_u8(images)
    gray = np.stack([cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) for im in u8])
    g = torch.from_numpy(gray.astype(np.float32))
    k1 = stencils.laplacian_variance(g, ksize=1).numpy()
    k3 = stencils.laplacian_variance(g, ksize=3).numpy()
    for i in range(len(gray)):
        assert k1[i] == pytest.approx(cv2.Laplacian(gray[i], cv2.CV_64F, ksize=1).var(), rel=RTOL)
        assert k3[i] == pytest.approx(cv2.Laplacian(gray[i], cv2.CV_64F, ksize=3).var(), rel=RTOL)
    assert 5 < float(np.median(k3 / k1)) < 16
    with pytest.raises(ValueError, match="ksize"):
        stencils.laplacian_variance(g, ksize=5)


def test_float_mode_matches_float64_references(images: torch.Tensor) -> None:
    """Float mode (no quantisation) agrees with the same references fed float64 BT.601 luma, rtol 1e-5."""
    m = image_metrics(images, mode="float", analysis_size=None).to_lists()
    rgb = images.numpy().astype(np.float64) * 255.0
    for i in range(len(rgb)):
        gray = rgb[i] @ np.array([0.299, 0.587, 0.114])
        ref = _reference(gray, rgb[i])
        for key in ("laplacian_var", "tenengrad", "rms_contrast", "mean_luma", "colourfulness", "noise_sigma"):
            assert m[key][i] == pytest.approx(ref[key], rel=RTOL, abs=1e-6), (i, key)
        # fractions use truncated levels: luma < 3 is "dark", as it would be after saving
        assert m["dark_fraction"][i] == pytest.approx((gray < 3).mean(), abs=1e-6)


def test_float_mode_is_close_to_uint8_references_loosely(images: torch.Tensor) -> None:
    """Float mode stays near the uint8 pipeline (which adds a quantisation floor): Laplacian var within 3 + 2 %."""
    f = image_metrics(images, mode="float", analysis_size=None).to_lists()
    e = image_metrics(images, mode="exact", analysis_size=None).to_lists()
    for i in range(images.shape[0]):
        assert abs(f["laplacian_var"][i] - e["laplacian_var"][i]) < 3 + 0.02 * e["laplacian_var"][i]
        assert abs(f["dark_fraction"][i] - e["dark_fraction"][i]) < 0.05


def test_sharpness_runs_at_the_analysis_size() -> None:
    """At 1024 px, sharpness is measured on the area-downscaled 512 px luma (cv2.resize INTER_AREA), not natively."""
    img = cv2.resize(photo("astronaut", (512, 512)), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    x = batch(np.clip(img, 0, 1))
    m = image_metrics(x, mode="float", analysis_size=512).to_lists()
    gray = x[0].numpy().astype(np.float64) @ np.array([0.299, 0.587, 0.114]) * 255.0
    small = cv2.resize(gray, (512, 512), interpolation=cv2.INTER_AREA)
    assert m["laplacian_var"][0] == pytest.approx(cv2.Laplacian(small, cv2.CV_64F, ksize=1).var(), rel=RTOL)
    native = image_metrics(x, mode="float", analysis_size=None).to_lists()["laplacian_var"][0]
    assert native < 0.5 * m["laplacian_var"][0]  # the resolution dependence the fixed size removes
