"""The image metric set: one batched pass per chunk on the IMAGE tensor's own device.

Input is a ComfyUI IMAGE, float [B, H, W, C] in 0..1 (C = 3, or 4 with alpha ignored). Two modes:

- ``exact`` emulates what peers measure: ComfyUI's ``clip(255 x).astype(uint8)`` (truncation), OpenCV's 15-bit
  fixed-point RGB2GRAY; results agree with OpenCV/numpy on the saved uint8 image to about 1e-7.
- ``float`` skips the quantisation (faster, no quantisation floor): BT.601 luma on a 0..255 scale.

Native-resolution statistics (exposure, histogram, noise, colour, blockiness) are sums, so a big batch or a huge
image is processed in chunks of at most ``chunk_pixels`` pixels: whole images when they fit, otherwise row bands
with one halo row each side. Sharpness is measured on a thumbnail whose long edge is ``analysis_size`` (box
pooling by an integer factor, band by band, then area resampling), because Laplacian variance depends on
resolution. Results stay on the device as float64 tensors [B]; ``ImageMetrics.to_lists`` syncs once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ._checks import check_images
from ._scratch import Scratch, scratch_for
from .stencils import block_ratio, combine_moments, immerkaer_sum, luma, moments, pool_int, sharpness

__all__ = ["MODES", "METRICS", "ImageMetrics", "image_metrics", "analysis_plan", "level_histogram"]

MODES = ("float", "exact")
METRICS = (
    "finite",
    "nonfinite_fraction",
    "mean_luma",
    "rms_contrast",
    "dark_fraction",
    "bright_fraction",
    "black_fraction",
    "p5",
    "p95",
    "spread",
    "blank_ratio",
    "laplacian_var",
    "tenengrad",
    "noise_sigma",
    "colourfulness",
    "mu_rg",
    "mu_yb",
    "colour_cast",
    "blockiness",
)
# CPU: a chunk's dozen float32 temporaries stay inside a 32 MB L3; CUDA: big chunks keep kernel launches few.
CPU_CHUNK_PIXELS = 1 << 18
CUDA_CHUNK_PIXELS = 1 << 25
DARK_LEVEL, BRIGHT_LEVEL, BLACK_LEVEL = 2, 253, 12  # luma <= 2, >= 253 (0..255); black: < 0.05 of full scale
BLOCK_MIN_SIDE = 32
_Moments = tuple[int, torch.Tensor, torch.Tensor]


@dataclass(frozen=True, slots=True)
class ImageMetrics:
    """Per-image metrics, each a float64 tensor [B] on the input's device (``finite`` is 1.0 or 0.0)."""

    values: dict[str, torch.Tensor]
    mode: str
    analysis_size: int | None
    thumbnails: torch.Tensor | None = None  # [B, h, w] luma 0..255 at analysis size, when asked for

    def __len__(self) -> int:
        return int(self.values["finite"].shape[0])

    def to_lists(self) -> dict[str, list[float]]:
        """All metrics as Python floats, with a single device-to-host transfer."""
        stacked = torch.stack([self.values[k].to(torch.float64) for k in METRICS]).cpu().tolist()
        return dict(zip(METRICS, stacked, strict=True))


def analysis_plan(h: int, w: int, analysis_size: int | None) -> tuple[int, tuple[int, int]]:
    """(integer pooling factor, final thumbnail size) for an image of h x w pixels."""
    if analysis_size is None:
        return 1, (h, w)
    if analysis_size < 8:
        raise ValueError(f"analysis_size must be at least 8, got {analysis_size}")
    long, short = max(h, w), min(h, w)
    if long <= analysis_size:
        return 1, (h, w)
    f = max(1, min(long // analysis_size, short // 3))
    s = analysis_size / long
    return f, (max(3, min(h // f, round(h * s))), max(3, min(w // f, round(w * s))))


def level_histogram(levels: torch.Tensor, *, sync_free: bool, scratch: Scratch | None = None) -> torch.Tensor:
    """256-bin counts of truncated levels per image, flattened [B * 256] float64; ``levels`` clamped to 0..255.

    ``sync_free`` (CUDA) uses ``index_add_``, because ``bincount`` reads the maximum back to size its output, a
    host sync per band; on CPU ``bincount`` is faster (and uint8 input for one image cheaper still).
    """
    b = levels.shape[0]
    if not sync_free and b == 1:
        u8 = (
            torch.empty(levels.shape, dtype=torch.uint8)
            if scratch is None
            else scratch.take(*levels.shape, dtype=torch.uint8)
        )
        return torch.bincount(u8.copy_(levels).view(-1), minlength=256).to(torch.float64)
    idx = levels.to(torch.int64)
    if b > 1:
        idx += (torch.arange(b, device=idx.device) * 256).view(b, 1, 1)
    if not sync_free:
        return torch.bincount(idx.view(-1), minlength=256 * b).to(torch.float64)
    hist = torch.zeros(256 * b, dtype=torch.float64, device=idx.device)
    ones = torch.ones(1, dtype=torch.float64, device=idx.device).expand(idx.numel())
    return hist.index_add_(0, idx.view(-1), ones)  # float64 counts stay exact for any band size


class _Accumulator:
    """Sums for one group of images, fed band by band."""

    def __init__(self, b: int, h: int, w: int, device: torch.device, f: int, exact: bool) -> None:
        z = torch.zeros(b, dtype=torch.float64, device=device)
        self.h, self.w, self.f, self.exact = h, w, f, exact
        self.nonfinite = z.clone()
        self.gray: _Moments | None = None
        self.rg: _Moments | None = None
        self.yb: _Moments | None = None
        self.hist = torch.zeros(b * 256, dtype=torch.float64, device=device)
        self.noise = z.clone()
        self.colprof = torch.zeros(b, w - 1, dtype=torch.float64, device=device)
        self.rowprof = torch.zeros(b, h - 1, dtype=torch.float64, device=device)
        self.thumb: torch.Tensor | None = None
        self.scratch: Scratch | None = None

    @staticmethod
    def _merge(old: _Moments | None, new: _Moments) -> _Moments:
        return new if old is None else combine_moments(old, new)

    def add_band(self, xs: torch.Tensor, r0: int, r1: int) -> None:
        b, h, w, exact = xs.shape[0], self.h, self.w, self.exact
        lo, hi = max(r0 - 1, 0), min(r1 + 1, h)
        core = slice(r0 - lo, r1 - lo)
        # One contiguous float32 plane per channel: three strided 1-D copies run several times faster on CPU than
        # one permute(3, 0, 1, 2).contiguous() of the interleaved tensor.
        sc = self.scratch = scratch_for(xs.device)  # recycles the previous band's temporaries
        planes = [sc.take(b, hi - lo, w) for _ in range(3)]
        for c in range(3):
            planes[c].copy_(xs[:, lo:hi, :, c])
        scale = 1.0 if exact else 255.0
        if exact:
            finite = bool(torch.isfinite(sum(p.sum() for p in planes)))  # before the clamp turns inf into 255
            for p in planes:  # SaveImage: np.clip(255 x, 0, 255).astype(uint8)
                p.mul_(255.0).clamp_(0.0, 255.0).floor_()
        gray = luma(planes[0], planes[1], planes[2], exact=exact, scale=scale, scratch=sc)
        if not exact:  # NaN/inf in any channel reaches the luma sum, which saves a pass over the planes
            finite = bool(torch.isfinite(gray.sum()))
        # One sync per band; finite data (the usual case) skips the count and the clean-up.
        if not finite:
            src = xs[:, r0:r1, :, :3]
            self.nonfinite += (~torch.isfinite(src)).sum((1, 2, 3)).to(torch.float64)
            for c, p in enumerate(planes):
                p.copy_(xs[:, lo:hi, :, c]).nan_to_num_(nan=0.0, posinf=1.0, neginf=0.0)
                if exact:
                    p.mul_(255.0).clamp_(0.0, 255.0).floor_()
            gray = luma(planes[0], planes[1], planes[2], exact=exact, scale=scale, scratch=sc)
        r, g, bl = planes[0], planes[1], planes[2]
        gc = gray[:, core]
        rows = r1 - r0
        self.gray = self._merge(self.gray, moments(gc, scratch=sc))
        # Opponent colour axes (Hasler & Suesstrunk): rg = R - G, yb = (R + G)/2 - B, rescaled at the end.
        rg = torch.sub(r[:, core], g[:, core], out=sc.take(b, rows, w))
        self.rg = self._merge(self.rg, moments(rg, inplace=True))
        yb2 = torch.add(r[:, core], g[:, core], out=sc.take(b, rows, w))
        yb2.add_(bl[:, core], alpha=-2.0)
        self.yb = self._merge(self.yb, moments(yb2, inplace=True))
        del planes, r, g, bl, rg, yb2
        lv = torch.clamp(gc, 0.0, 255.0, out=sc.take(b, rows, w))
        self.hist += level_histogram(lv, sync_free=gc.device.type != "cpu", scratch=sc)
        del lv
        c0, c1 = max(r0, 1), min(r1, h - 1)
        if c1 > c0:
            self.noise += immerkaer_sum(gray, rows=slice(c0 - lo, c1 - lo), scratch=sc)
        step = torch.sub(gc[:, :, 1:], gc[:, :, :-1], out=sc.take(b, rows, w - 1))
        self.colprof += step.abs_().sum(1).to(torch.float64)
        v1 = min(r1, h - 1)
        if v1 > r0:
            a = r0 - lo
            step = torch.sub(gray[:, a + 1 : a + 1 + v1 - r0], gray[:, a : a + v1 - r0], out=sc.take(b, v1 - r0, w))
            self.rowprof[:, r0:v1] += step.abs_().sum(2).to(torch.float64)
        f = self.f
        if f == 1 and r0 == 0 and r1 == h:  # one band: the luma itself (a view into the arena, used before reset)
            self.thumb = gc
        else:
            if self.thumb is None:
                self.thumb = torch.empty((b, h // f, w // f), dtype=torch.float32, device=gc.device)
            t0, t1 = r0 // f, min(r1 // f, h // f)
            if t1 > t0:
                pool_int(gc[:, : (t1 - t0) * f], f, out=self.thumb[:, t0:t1], scratch=sc)

    def finish(self, target: tuple[int, int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        h, w = self.h, self.w
        n = float(h * w)
        thumb = self.thumb
        assert thumb is not None
        if tuple(thumb.shape[1:]) != target:
            thumb = F.adaptive_avg_pool2d(thumb.unsqueeze(1), target).squeeze(1)
        lap, ten = sharpness(thumb, self.scratch)
        _, g_mean, g_m2 = self.gray
        _, rg_mean, rg_m2 = self.rg
        _, yb_mean, yb_m2 = self.yb
        hist = self.hist.view(-1, 256)
        cdf = hist.cumsum(1)
        q = torch.tensor([0.05 * n, 0.95 * n], dtype=torch.float64, device=cdf.device).expand(cdf.shape[0], 2)
        pct = torch.searchsorted(cdf, q.contiguous()).to(torch.float64) / 255.0  # numpy's "inverted_cdf"
        window = F.pad(hist, (2, 2)).unfold(1, 5, 1).sum(2)  # pixels within +-2 levels of each level
        cs = 1.0 if self.exact else 255.0  # colour planes hold 0..255 levels in exact mode, 0..1 otherwise
        mu_rg, mu_yb = rg_mean * cs, yb_mean * (cs / 2.0)
        var_rg, var_yb = rg_m2 / n * cs * cs, yb_m2 / n * (cs / 2.0) ** 2
        sigma = torch.sqrt(var_rg + var_yb)
        mu = torch.sqrt(mu_rg.square() + mu_yb.square())
        if min(h, w) >= BLOCK_MIN_SIDE:
            block = 0.5 * (block_ratio(self.colprof) + block_ratio(self.rowprof))
        else:
            block = torch.full_like(self.noise, float("nan"))
        values = {
            "finite": (self.nonfinite == 0).to(torch.float64),
            "nonfinite_fraction": self.nonfinite / (3.0 * n),
            "mean_luma": g_mean / 255.0,
            "rms_contrast": torch.sqrt(g_m2 / n) / 255.0,
            "dark_fraction": cdf[:, DARK_LEVEL] / n,
            "bright_fraction": 1.0 - cdf[:, BRIGHT_LEVEL - 1] / n,
            "black_fraction": cdf[:, BLACK_LEVEL] / n,
            "p5": pct[:, 0],
            "p95": pct[:, 1],
            "spread": pct[:, 1] - pct[:, 0],
            "blank_ratio": window.amax(1) / n,
            "laplacian_var": lap,
            "tenengrad": ten,
            "noise_sigma": self.noise * (math.sqrt(math.pi / 2.0) / (6.0 * (w - 2) * (h - 2))),
            "colourfulness": sigma + 0.3 * mu,
            "mu_rg": mu_rg,
            "mu_yb": mu_yb,
            "colour_cast": mu / (sigma + 1.0),
            "blockiness": block,
        }
        return values, thumb


def image_metrics(
    images: torch.Tensor,
    *,
    mode: str = "float",
    analysis_size: int | None = 512,
    chunk_pixels: int | None = None,
    keep_thumbnails: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImageMetrics:
    """Compute every image metric for a batch [B, H, W, C]; see ``METRICS`` and docs/quality.md.

    Raises:
        ValueError: not an IMAGE batch (rank, channels, size, dtype, empty) or an unknown ``mode``.
    """
    check_images(images)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if chunk_pixels is None:
        chunk_pixels = CPU_CHUNK_PIXELS if images.device.type == "cpu" else CUDA_CHUNK_PIXELS
    if chunk_pixels < 64:
        raise ValueError(f"chunk_pixels must be at least 64, got {chunk_pixels}")
    exact = mode == "exact"
    bsz, h, w, _ = images.shape
    f, target = analysis_plan(h, w, analysis_size)
    per_group = max(1, chunk_pixels // (h * w))
    band = h if h * w <= chunk_pixels else max(f, (chunk_pixels // w) // f * f)
    parts: list[dict[str, torch.Tensor]] = []
    thumbs: list[torch.Tensor] = []
    with torch.no_grad():
        for i0 in range(0, bsz, per_group):
            xs = images[i0 : i0 + per_group]
            acc = _Accumulator(xs.shape[0], h, w, images.device, f, exact)
            for r0 in range(0, h, band):
                acc.add_band(xs, r0, min(r0 + band, h))
            values, thumb = acc.finish(target)
            parts.append(values)
            if keep_thumbnails:
                thumbs.append(thumb.clone())  # may be a view into the scratch arena
            if on_progress is not None:
                on_progress(min(i0 + per_group, bsz), bsz)
    merged = {k: torch.cat([p[k] for p in parts]) for k in METRICS}
    return ImageMetrics(merged, mode, analysis_size, torch.cat(thumbs) if keep_thumbnails else None)
