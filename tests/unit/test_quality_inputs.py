"""Inputs that are not images get clear errors; big batches and huge images are processed in chunks with equal results."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tower_sentinel.quality import METRICS, analysis_plan, assess, image_metrics

from ._quality_fixtures import anime, batch, photo


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (torch.rand(64, 64, 3), "rank 4"),
        (torch.rand(2, 64, 64), "MASK"),
        (torch.rand(1, 1, 1, 3), "at least 8x8"),
        (torch.rand(2, 64, 64, 1), "1-channel"),
        (torch.rand(2, 3, 64, 64), "channels"),
        (torch.rand(0, 64, 64, 3), "empty"),
        ((torch.rand(1, 64, 64, 3) * 255).to(torch.uint8), "floating-point"),
        ("not a tensor", "IMAGE tensor"),
    ],
)
def test_bad_inputs_raise_clear_value_errors(tensor: object, message: str) -> None:
    """Wrong rank, 1x1, 1 channel, channels-first, empty batch, integer dtype and non-tensors raise ValueError saying why."""
    with pytest.raises(ValueError, match=message):
        image_metrics(tensor)  # type: ignore[arg-type]


def test_bad_modes_raise() -> None:
    """Unknown precision or assessment modes are rejected by name."""
    x = torch.rand(1, 16, 16, 3)
    with pytest.raises(ValueError, match="mode"):
        image_metrics(x, mode="fast")
    with pytest.raises(ValueError, match="mode"):
        assess(x, mode="video")


@pytest.mark.parametrize("mode", ["float", "exact"])
def test_row_bands_and_image_groups_give_the_same_numbers(mode: str) -> None:
    """Splitting into groups of images and into row bands with halos (tiny chunk_pixels) changes no metric beyond 1e-6."""
    rng = np.random.default_rng(5)
    imgs = [photo("astronaut", (97, 131)), anime((97, 131)), rng.random((97, 131, 3), dtype=np.float32)]
    imgs[1][40:50, 60:70, 0] = np.nan
    x = batch(*imgs)
    whole = image_metrics(x, mode=mode, analysis_size=40).to_lists()
    for chunk in (97 * 131, 131 * 9, 131 * 6 + 7, 300):
        part = image_metrics(x, mode=mode, analysis_size=40, chunk_pixels=chunk).to_lists()
        for k in METRICS:
            np.testing.assert_allclose(part[k], whole[k], rtol=1e-6, atol=1e-5, err_msg=f"{k} chunk={chunk}")


def test_huge_image_plan_keeps_chunks_bounded() -> None:
    """A 16k x 16k image is planned as 32x pooling to a 512 thumbnail, and processed band by band (progress per group)."""
    assert analysis_plan(16384, 16384, 512) == (32, (512, 512))
    assert analysis_plan(512, 768, 512) == (1, (341, 512))
    assert analysis_plan(8, 4096, 512) == (2, (3, 512))
    # a 2048 x 256 image with a 64k-pixel budget is processed in 32 bands; results equal the one-shot pass
    x = torch.from_numpy(np.tile(photo("astronaut", (256, 256)), (8, 1, 1))[None].copy())
    seen: list[tuple[int, int]] = []
    banded = image_metrics(x, chunk_pixels=1 << 16, on_progress=lambda d, t: seen.append((d, t))).to_lists()
    whole = image_metrics(x, chunk_pixels=1 << 22).to_lists()
    for k in METRICS:
        np.testing.assert_allclose(banded[k], whole[k], rtol=1e-6, atol=1e-5, err_msg=k)
    assert seen == [(1, 1)]


def test_rgba_and_half_precision_inputs_are_accepted() -> None:
    """An RGBA image scores like its RGB part; a float16 batch gives the float32 numbers within 1e-2 relative."""
    rgb = batch(photo("chelsea", (64, 64)))
    rgba = torch.cat([rgb, torch.ones_like(rgb[..., :1])], -1)
    a, b = image_metrics(rgb).to_lists(), image_metrics(rgba).to_lists()
    assert a == b
    h = image_metrics(rgb.half()).to_lists()
    assert h["laplacian_var"][0] == pytest.approx(a["laplacian_var"][0], rel=1e-2)


def test_non_contiguous_input_is_handled() -> None:
    """A strided view (e.g. every other image of a batch) gives the same metrics as its contiguous copy."""
    x = batch(photo("chelsea", (64, 64)), anime((64, 64)), photo("coffee", (64, 64)))
    view = x[::2, :, :, :]
    assert image_metrics(view).to_lists() == image_metrics(view.contiguous()).to_lists()


def test_histogram_paths_agree_with_numpy() -> None:
    """The CPU (bincount) and sync-free CUDA (index_add_) histogram paths both equal np.bincount, batched or not."""
    from tower_sentinel.quality.metrics import level_histogram

    rng = np.random.default_rng(9)
    levels = torch.from_numpy(rng.integers(0, 256, (3, 17, 23)).astype(np.float32) + 0.7)
    ref = np.concatenate([np.bincount(lv.astype(np.int64).ravel(), minlength=256) for lv in levels.numpy()])
    for sync_free in (False, True):
        assert level_histogram(levels, sync_free=sync_free).numpy().tolist() == ref.tolist()
        assert level_histogram(levels[:1], sync_free=sync_free).numpy().tolist() == ref[:256].tolist()
