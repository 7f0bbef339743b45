"""Shifted-slice stencils and reductions on gray planes [B, H, W] (0..255 scale).

Why slices: a single-channel ``F.conv2d`` on CPU is 10-20x slower than OpenCV, while a 3x3 stencil written as a few
adds of shifted views is one cheap pass each, and runs the same on CUDA. Every kernel here is separable or a sum
of shifts. Borders follow OpenCV's default BORDER_REFLECT_101, which is ``F.pad(mode="reflect")``.

Variances are two-pass (mean, then the sum of squared centred values), so they keep about 1e-7 relative accuracy
where a one-pass ``E[x^2] - E[x]^2`` loses digits on low-contrast images. Sums run in float32 (torch's cascade
summation is accurate to about 1e-7) and only the per-image results become float64: ``sum(dtype=float64)``
materialises a float64 copy of the whole tensor on CPU, float32 ``vector_norm`` drifts by 1e-5, and
``Tensor.var(dim=...)`` is several times slower.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._checks import check_luma
from ._scratch import Scratch

__all__ = [
    "LUMA_EXACT",
    "LUMA_FLOAT",
    "luma",
    "moments",
    "laplacian_variance",
    "tenengrad",
    "sharpness",
    "immerkaer_sum",
    "combine_moments",
    "immerkaer_sigma",
    "pool_int",
    "block_ratio",
]

# OpenCV's uint8 RGB2GRAY is 15-bit fixed point: (9798 R + 19235 G + 3735 B + 16384) >> 15, bit-exact.
LUMA_EXACT = (9798.0, 19235.0, 3735.0)
# BT.601, which cv2.cvtColor uses for float input.
LUMA_FLOAT = (0.299, 0.587, 0.114)


def _empty(scratch: Scratch | None, like: torch.Tensor, *shape: int) -> torch.Tensor:
    if scratch is not None:
        return scratch.take(*shape)
    return torch.empty(shape, dtype=torch.float32, device=like.device)


def luma(
    r: torch.Tensor,
    g: torch.Tensor,
    b: torch.Tensor,
    *,
    exact: bool,
    scale: float = 1.0,
    scratch: Scratch | None = None,
) -> torch.Tensor:
    """Gray plane from three planes. ``exact``: planes hold 0..255 integers, result equals cv2's uint8 gray.

    In float mode the result is ``scale * (0.299 r + 0.587 g + 0.114 b)``. In exact mode every partial sum stays
    below 2**24, so float32 holds it exactly and the shift is an exact multiply by 2**-15 then floor.
    """
    y = _empty(scratch, r, *r.shape)
    if exact:
        torch.mul(r, LUMA_EXACT[0], out=y)
        y.add_(g, alpha=LUMA_EXACT[1]).add_(b, alpha=LUMA_EXACT[2]).add_(16384.0)
        return y.mul_(1.0 / 32768.0).floor_()
    torch.mul(r, LUMA_FLOAT[0] * scale, out=y)
    return y.add_(g, alpha=LUMA_FLOAT[1] * scale).add_(b, alpha=LUMA_FLOAT[2] * scale)


def moments(
    t: torch.Tensor, *, inplace: bool = False, scratch: Scratch | None = None
) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(n, mean, M2) per leading index, float64 results: M2 is the sum of squared deviations.

    Sums are taken around a pilot mean from a sparse subsample, so one pass gives sum and sum of squares without the
    cancellation of a raw ``E[x^2] - E[x]^2``. ``inplace`` lets the function overwrite ``t`` (saves a copy).
    """
    b = t.shape[0]
    flat = t.reshape(b, -1)
    n = flat.shape[1]
    pilot = flat[:, :: max(1, n // 4096)].mean(1, keepdim=True)
    if inplace and flat.data_ptr() == t.data_ptr():
        c = flat.sub_(pilot)
    else:
        c = torch.sub(flat, pilot, out=_empty(scratch, flat, b, n))
    s1 = c.sum(1).to(torch.float64)
    s2 = c.square_().sum(1).to(torch.float64)
    return n, pilot.squeeze(1).to(torch.float64) + s1 / n, (s2 - s1.square() / n).clamp_min(0.0)


def combine_moments(
    a: tuple[int, torch.Tensor, torch.Tensor], b: tuple[int, torch.Tensor, torch.Tensor]
) -> tuple[int, torch.Tensor, torch.Tensor]:
    """Chan's parallel update: moments of the union of two disjoint pixel sets (used across row bands)."""
    na, ma, qa = a
    nb, mb, qb = b
    n = na + nb
    delta = mb - ma
    return n, ma + delta * (nb / n), qa + qb + delta.square() * (na * nb / n)


def _padded(t: torch.Tensor, scratch: Scratch | None = None) -> torch.Tensor:
    """Reflect-101 padding by one pixel (``F.pad(mode="reflect")``), written into a scratch buffer."""
    b, h, w = t.shape
    p = _empty(scratch, t, b, h + 2, w + 2)
    p[:, 1:-1, 1:-1] = t
    p[:, 0, 1:-1] = t[:, 1]
    p[:, -1, 1:-1] = t[:, -2]
    p[:, :, 0] = p[:, :, 2]
    p[:, :, -1] = p[:, :, -3]
    return p


def laplacian_variance(gray: torch.Tensor, ksize: int = 1) -> torch.Tensor:
    """Population variance of ``cv2.Laplacian(gray, CV_64F, ksize)`` per image, for ksize 1 or 3."""
    check_luma(gray)
    if ksize not in (1, 3):
        raise ValueError(f"ksize must be 1 or 3, got {ksize}")
    p = _padded(gray)
    up, mid, dn = p[:, :-2], p[:, 1:-1], p[:, 2:]
    vert = up + dn
    if ksize == 1:  # [[0,1,0],[1,-4,1],[0,1,0]]
        lap = vert[:, :, 1:-1] + mid[:, :, :-2]
        lap.add_(mid[:, :, 2:]).add_(mid[:, :, 1:-1], alpha=-4.0)
    else:  # [[2,0,2],[0,-8,0],[2,0,2]]
        lap = vert[:, :, :-2] + vert[:, :, 2:]
        lap.mul_(2.0).add_(mid[:, :, 1:-1], alpha=-8.0)
    n, _, m2 = moments(lap, inplace=True)
    return m2 / n


def sharpness(gray: torch.Tensor, scratch: Scratch | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(Laplacian variance ksize=1, Tenengrad) per image from one padded copy; float64 [B] each.

    Tenengrad is mean(Gx^2 + Gy^2) with ``cv2.Sobel(ksize=3)`` gradients (Pertuz 2013 "TENG").
    """
    b, h, w = gray.shape
    p = _padded(gray, scratch)
    up, mid, dn = p[:, :-2], p[:, 1:-1], p[:, 2:]
    vert = torch.add(up, dn, out=_empty(scratch, p, b, h, w + 2))
    lap = torch.add(vert[:, :, 1:-1], mid[:, :, :-2], out=_empty(scratch, p, b, h, w))
    lap.add_(mid[:, :, 2:]).add_(mid[:, :, 1:-1], alpha=-4.0)
    n, _, m2 = moments(lap, inplace=True)
    smooth = vert.add_(mid, alpha=2.0)  # [1,2,1] down the columns
    gx = torch.sub(smooth[:, :, 2:], smooth[:, :, :-2], out=lap)
    diff = torch.sub(dn, up, out=_empty(scratch, p, b, h, w + 2))  # [-1,0,1] down the columns
    gy = torch.add(diff[:, :, :-2], diff[:, :, 2:], out=_empty(scratch, p, b, h, w))
    gy.add_(diff[:, :, 1:-1], alpha=2.0)
    energy = gx.square_().addcmul_(gy, gy).sum((1, 2)).to(torch.float64)
    return m2 / n, energy / n


def tenengrad(gray: torch.Tensor) -> torch.Tensor:
    """mean(Gx^2 + Gy^2) of 3x3 Sobel gradients with reflect-101 borders, per image."""
    return sharpness(check_luma(gray))[1]


def immerkaer_sum(gray: torch.Tensor, rows: slice | None = None, scratch: Scratch | None = None) -> torch.Tensor:
    """Sum of |gray * N| over valid centres, N = [1,-2,1] x [1,-2,1].

    ``rows`` picks the centre rows (start >= 1, stop <= H - 1) when ``gray`` is a row band with halo rows.
    """
    c = gray if rows is None else gray[:, rows.start - 1 : rows.stop + 1]
    b, h, w = c.shape
    v = torch.add(c[:, :-2], c[:, 2:], out=_empty(scratch, c, b, h - 2, w))
    v.add_(c[:, 1:-1], alpha=-2.0)
    hz = torch.add(v[:, :, :-2], v[:, :, 2:], out=_empty(scratch, c, b, h - 2, w - 2))
    hz.add_(v[:, :, 1:-1], alpha=-2.0)
    return hz.abs_().sum((1, 2)).to(torch.float64)


def immerkaer_sigma(gray: torch.Tensor) -> torch.Tensor:
    """Immerkaer (1996) noise sigma: sqrt(pi/2) * sum|gray * N| / (6 (W-2)(H-2)), per image."""
    check_luma(gray)
    _, h, w = gray.shape
    return immerkaer_sum(gray) * (math.sqrt(math.pi / 2.0) / (6.0 * (w - 2) * (h - 2)))


def pool_int(
    gray: torch.Tensor, f: int, *, out: torch.Tensor | None = None, scratch: Scratch | None = None
) -> torch.Tensor:
    """Box-average by an integer factor (rows and columns beyond a multiple of ``f`` are dropped)."""
    if f == 1:
        return gray if out is None else out.copy_(gray)
    b, h, w = gray.shape
    hc, wc = (h // f) * f, (w // f) * f
    rows = torch.add(gray[:, 0:hc:f], gray[:, 1:hc:f], out=_empty(scratch, gray, b, h // f, w))
    for k in range(2, f):
        rows.add_(gray[:, k:hc:f])
    if out is None:
        out = torch.empty((b, h // f, w // f), dtype=torch.float32, device=gray.device)
    torch.add(rows[:, :, 0:wc:f], rows[:, :, 1:wc:f], out=out)
    for k in range(2, f):
        out.add_(rows[:, :, k:wc:f])
    return out.mul_(1.0 / (f * f))


def block_ratio(profile: torch.Tensor, *, grid: int = 8, eps: float = 0.25) -> torch.Tensor:
    """Max over grid phases of mean |step| on the grid over mean |step| off it; ``profile`` [B, L] of summed steps.

    ``profile[:, j]`` is the summed absolute step between pixel j and j+1 along one axis. A clean image gives about
    1; JPEG's 8x8 blocks raise it (q90 about 1.1, q10 about 3). Searching phases keeps it right after crops.
    """
    b, length = profile.shape
    pad = (-length) % grid
    on_sum = F.pad(profile, (0, pad)).view(b, -1, grid).sum(1)  # [B, grid]: steps at j % grid == phase
    on_cnt = torch.full((grid,), length // grid, dtype=profile.dtype, device=profile.device)
    on_cnt[: length % grid] += 1
    total = profile.sum(1, keepdim=True)
    on_mean = on_sum / on_cnt
    off_mean = (total - on_sum) / (length - on_cnt)
    return ((on_mean + eps) / (off_mean + eps)).amax(1)
