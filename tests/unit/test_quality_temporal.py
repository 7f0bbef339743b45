"""Clip metrics: SSIM against scikit-image, motion ranking against OpenCV's Farneback flow, frozen/duplicate frames, flicker."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity
from tower_sentinel.quality import assess, clip_metrics, image_metrics, motion_pairs, ssim_pairs

from ._quality_fixtures import anime, batch, photo


def _gray(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) * 255.0


def _shifted(base: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(
        base, m, (base.shape[1], base.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def test_ssim_matches_skimage_within_1e3() -> None:
    """Consecutive-frame SSIM equals skimage.metrics.structural_similarity (defaults, data_range 255) within 1e-3."""
    rng = np.random.default_rng(0)
    a = _gray(photo("astronaut", (200, 240)))
    pairs = [
        (a, np.clip(a + rng.normal(0, 8, a.shape), 0, 255)),
        (a, _gray(np.clip(_shifted(photo("astronaut", (200, 240)), 2, 1), 0, 1))),
        (_gray(anime((200, 240), 1)), _gray(anime((200, 240), 2))),
        (a, a),
    ]
    x = torch.tensor(np.stack([p[0] for p in pairs]), dtype=torch.float32)
    y = torch.tensor(np.stack([p[1] for p in pairs]), dtype=torch.float32)
    ours = ssim_pairs(x, y).tolist()
    for (p, q), s in zip(pairs, ours, strict=True):
        assert s == pytest.approx(structural_similarity(p, q, data_range=255.0), abs=1e-3)
    assert ours[3] == pytest.approx(1.0, abs=1e-6)


def test_motion_ranking_agrees_with_farneback() -> None:
    """On synthetic shifts of 0..10 px, motion magnitude ranks pairs exactly as cv2.calcOpticalFlowFarneback does,
    and reads the true displacement within 15 %."""
    base = cv2.GaussianBlur(_gray(photo("astronaut", (384, 384))).astype(np.float32), (0, 0), 1.0)
    shifts = [(0.0, 0.0), (0.4, 0.2), (1.0, 0.5), (2.5, 0.0), (0.0, 4.0), (6.0, 3.0), (9.0, -4.0)]
    a = np.stack([base] * len(shifts))
    b = np.stack([_shifted(base, dx, dy) for dx, dy in shifts])
    ours = motion_pairs(torch.from_numpy(a[:, 32:-32, 32:-32].copy()), torch.from_numpy(b[:, 32:-32, 32:-32].copy()))
    farneback = []
    for p, q in zip(a, b, strict=True):
        flow = cv2.calcOpticalFlowFarneback(p.astype(np.uint8), q.astype(np.uint8), None, 0.5, 3, 15, 3, 5, 1.2, 0)
        farneback.append(float(np.hypot(flow[32:-32, 32:-32, 0], flow[32:-32, 32:-32, 1]).mean()))
    assert np.argsort(ours.numpy()).tolist() == np.argsort(farneback).tolist()
    truth = [np.hypot(dx, dy) for dx, dy in shifts]
    assert ours[0].item() == pytest.approx(0.0, abs=0.05)
    for o, t in zip(ours.tolist()[1:], truth[1:], strict=True):
        assert o == pytest.approx(t, rel=0.15)


def test_clip_metrics_find_frozen_duplicate_and_moving_frames() -> None:
    """A clip that pans then holds: moving pairs show motion > 0.5 px and SSIM < 1, held frames are duplicates/frozen."""
    base = photo("astronaut", (256, 256))
    frames = [_shifted(base, 3 * i, 0) for i in range(4)] + [_shifted(base, 9, 0)] * 3
    a = assess(batch(*frames), mode="clip")
    assert a.clip is not None
    assert a.clip["frames"] == 7
    assert a.clip["duplicate_frames"] == 3
    assert a.clip["frozen_fraction"] == pytest.approx(3 / 6)
    m = image_metrics(batch(*frames), keep_thumbnails=True)
    cm = clip_metrics(m.thumbnails, m.values["mean_luma"], native_long_edge=256)
    assert (cm.motion[:3] > 2.0).all() and (cm.motion[4:] < 0.1).all()
    assert (cm.ssim[:3] < 0.99).all() and (cm.ssim[4:] == 1.0).all()


def test_flicker_sees_brightness_pumping_not_fades() -> None:
    """Alternating brightness raises flicker; a steady linear fade of the same range does not."""
    base = photo("chelsea", (128, 128))
    pump = [np.clip(base * (1.0 if i % 2 else 0.8), 0, 1) for i in range(8)]
    fade = [np.clip(base * (0.8 + 0.2 * i / 7), 0, 1) for i in range(8)]
    f_pump = assess(batch(*pump), mode="clip").clip["flicker"]
    f_fade = assess(batch(*fade), mode="clip").clip["flicker"]
    assert f_pump > 5.0
    assert f_fade < 0.5


def test_single_frame_clip_has_neutral_temporal_summary() -> None:
    """A one-frame clip reports no motion and no change instead of failing on an empty pair list."""
    a = assess(batch(photo("chelsea", (64, 64))), mode="clip")
    assert a.clip == {
        "frames": 1,
        "mean_ssim": 1.0,
        "motion_px": 0.0,
        "mean_abs_diff": 0.0,
        "frozen_fraction": 0.0,
        "duplicate_frames": 0,
        "flicker": 0.0,
    }
