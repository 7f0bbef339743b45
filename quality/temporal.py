"""Clip metrics on consecutive frames: SSIM, frame difference, frozen/duplicate frames, flicker and motion.

They run on the analysis thumbnails (luma 0..255, [T, h, w]) that ``image_metrics(keep_thumbnails=True)`` keeps.

- SSIM follows ``skimage.metrics.structural_similarity`` defaults: 7x7 uniform window, sample covariance,
  K1 = 0.01, K2 = 0.03, data range 255, mean over windows that fit inside the frame.
- Motion is block phase correlation: 64 px tiles (Hann-windowed), the integer peak of the normalised cross-power
  spectrum refined by one Lucas-Kanade step, averaged over textured tiles and scaled to native pixels. Its ranking
  of clips agrees with OpenCV's Farneback flow (tests check it) at a fraction of the cost, and it batches on GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ClipMetrics", "clip_metrics", "ssim_pairs", "motion_pairs"]

SSIM_WIN = 7
MOTION_TILE = 64
FROZEN_MAD = 0.5  # mean |frame difference| below half a gray level: the frame did not change
TEXTURE_STD = 2.0  # tiles flatter than this (0..255) carry no motion evidence


@dataclass(frozen=True, slots=True)
class ClipMetrics:
    """Per-pair tensors [T-1] (float64, on device) and clip summaries; pair i compares frames i and i+1."""

    ssim: torch.Tensor
    mad: torch.Tensor
    motion: torch.Tensor
    duplicate: torch.Tensor
    frozen: torch.Tensor
    flicker: torch.Tensor  # scalar tensor

    def summary(self) -> dict[str, float]:
        """Clip-level numbers, one host transfer."""
        if self.ssim.numel() == 0:
            return {
                "frames": 1,
                "mean_ssim": 1.0,
                "motion_px": 0.0,
                "mean_abs_diff": 0.0,
                "frozen_fraction": 0.0,
                "duplicate_frames": 0,
                "flicker": 0.0,
            }
        vals = (
            torch.stack(
                [
                    self.ssim.mean(),
                    self.motion.mean(),
                    self.mad.mean(),
                    self.frozen.mean(),
                    self.duplicate.sum(),
                    self.flicker.to(torch.float64),
                ]
            )
            .cpu()
            .tolist()
        )
        return {
            "frames": int(self.ssim.numel() + 1),
            "mean_ssim": vals[0],
            "motion_px": vals[1],
            "mean_abs_diff": vals[2],
            "frozen_fraction": vals[3],
            "duplicate_frames": int(vals[4]),
            "flicker": vals[5],
        }


def _box(t: torch.Tensor, k: int) -> torch.Tensor:
    """Sum over every k x k window that fits ("valid"), by shifted slices along each axis."""
    rows = t[:, : t.shape[1] - k + 1].clone()
    for i in range(1, k):
        rows.add_(t[:, i : t.shape[1] - k + 1 + i])
    out = rows[:, :, : rows.shape[2] - k + 1].clone()
    for i in range(1, k):
        out.add_(rows[:, :, i : rows.shape[2] - k + 1 + i])
    return out


def ssim_pairs(a: torch.Tensor, b: torch.Tensor, *, data_range: float = 255.0, win: int = SSIM_WIN) -> torch.Tensor:
    """Mean SSIM of each pair of gray planes a[i], b[i] ([P, h, w]), skimage's conventions; float64 [P]."""
    if a.shape != b.shape or a.dim() != 3:
        raise ValueError(f"ssim_pairs expects two equal [P, h, w] batches, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[1] < win or a.shape[2] < win:
        raise ValueError(f"frames of {a.shape[1]}x{a.shape[2]} are smaller than the {win}x{win} SSIM window")
    npx = float(win * win)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    # Second moments on values centred at mid-range: float32 keeps the small variances of flat regions.
    mid = data_range / 2.0
    ac, bc = a - mid, b - mid
    ux, uy = _box(ac, win).div_(npx), _box(bc, win).div_(npx)
    cov_norm = npx / (npx - 1.0)
    vx = _box(ac * ac, win).div_(npx).sub_(ux * ux).mul_(cov_norm)
    vy = _box(bc * bc, win).div_(npx).sub_(uy * uy).mul_(cov_norm)
    vxy = _box(ac.mul_(bc), win).div_(npx).sub_(ux * uy).mul_(cov_norm)
    ux.add_(mid)
    uy.add_(mid)
    num = (2.0 * ux * uy + c1) * (2.0 * vxy + c2)
    den = (ux * ux + uy * uy + c1) * (vx + vy + c2)
    return (num / den).mean((1, 2)).to(torch.float64)


def _hann(n: int, device: torch.device) -> torch.Tensor:
    w = torch.hann_window(n, periodic=False, dtype=torch.float32, device=device)
    return w[:, None] * w[None, :]


def _lucas_kanade(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One Hann-weighted Lucas-Kanade step per tile [..., t, t]: the (dy, dx) with b(x) = a(x - d), |d| < 1."""
    m = 0.5 * (a + b)
    ix = 0.5 * (m[..., 1:-1, 2:] - m[..., 1:-1, :-2])
    iy = 0.5 * (m[..., 2:, 1:-1] - m[..., :-2, 1:-1])
    it = (b - a)[..., 1:-1, 1:-1]
    w = _hann(a.shape[-1] - 2, a.device)
    sxx, syy, sxy = (w * ix * ix).sum((-2, -1)), (w * iy * iy).sum((-2, -1)), (w * ix * iy).sum((-2, -1))
    sxt, syt = (w * ix * it).sum((-2, -1)), (w * iy * it).sum((-2, -1))
    det = (sxx * syy - sxy * sxy).clamp_min(1e-6)
    dx = ((sxy * syt - syy * sxt) / det).clamp(-1.0, 1.0)
    dy = ((sxy * sxt - sxx * syt) / det).clamp(-1.0, 1.0)
    return dy, dx


def motion_pairs(a: torch.Tensor, b: torch.Tensor, *, tile: int = MOTION_TILE) -> torch.Tensor:
    """Mean displacement in pixels (of these planes) between a[i] and b[i] by tiled phase correlation; [P]."""
    p, h, w = a.shape
    t = min(tile, 1 << (min(h, w).bit_length() - 1))
    if t < 8:
        return torch.zeros(p, dtype=torch.float64, device=a.device)
    ny, nx = h // t, w // t
    y0, x0 = (h - ny * t) // 2, (w - nx * t) // 2

    def tiles(v: torch.Tensor) -> torch.Tensor:
        v = v[:, y0 : y0 + ny * t, x0 : x0 + nx * t].reshape(p, ny, t, nx, t).permute(0, 1, 3, 2, 4)
        return v - v.mean((3, 4), keepdim=True)

    ta, tb = tiles(a), tiles(b)
    textured = (ta.std((3, 4)) > TEXTURE_STD) & (tb.std((3, 4)) > TEXTURE_STD)
    win = _hann(t, a.device)
    cross = torch.fft.rfft2(ta * win) * torch.fft.rfft2(tb * win).conj()
    cross /= cross.abs().clamp_min(1e-6)
    peak = torch.fft.irfft2(cross, s=(t, t)).reshape(p, ny, nx, t * t).argmax(-1)
    # correlation peaks at s = -d for b(x) = a(x - d); wrap to -t/2..t/2
    sy, sx = peak // t, peak % t
    sy = torch.where(sy > t // 2, sy - t, sy)
    sx = torch.where(sx > t // 2, sx - t, sx)
    # Undo the integer shift (b(x + d) = a(x)), then Lucas-Kanade on the tile for the sub-pixel rest: phase
    # correlation's own sub-pixel fits under-read shifts below a pixel by half or more.
    ar = torch.arange(t, device=a.device)
    rows = (ar.view(1, 1, 1, t) - sy[..., None]) % t
    cols = (ar.view(1, 1, 1, t) - sx[..., None]) % t
    tb = tb.gather(3, rows[..., None].expand(-1, -1, -1, -1, t)).gather(4, cols[..., None, :].expand(-1, -1, -1, t, -1))
    ry, rx = _lucas_kanade(ta, tb)
    dy = ry - sy.to(ry.dtype)
    dx = rx - sx.to(rx.dtype)
    mag = torch.sqrt(dy * dy + dx * dx).to(torch.float64)
    weight = textured.to(torch.float64)
    return (mag * weight).sum((1, 2)) / weight.sum((1, 2)).clamp_min(1.0)


def clip_metrics(
    thumbnails: torch.Tensor, mean_luma: torch.Tensor, *, native_long_edge: int | None = None, pair_chunk: int = 16
) -> ClipMetrics:
    """Temporal metrics of a clip from its thumbnails [T, h, w] (0..255) and per-frame mean luma [T] (0..1).

    ``native_long_edge`` rescales motion to the clip's own pixels (thumbnail pixels otherwise).
    """
    if thumbnails.dim() != 3:
        raise ValueError(f"expected thumbnails [T, h, w], got {tuple(thumbnails.shape)}")
    frames = thumbnails.shape[0]
    dev = thumbnails.device
    if frames < 2:
        empty = torch.zeros(0, dtype=torch.float64, device=dev)
        return ClipMetrics(empty, empty, empty, empty, empty, torch.zeros((), dtype=torch.float64, device=dev))
    scale = 1.0 if native_long_edge is None else native_long_edge / max(thumbnails.shape[1:])
    ssim, mad, motion, dup = [], [], [], []
    for i in range(0, frames - 1, pair_chunk):
        j = min(i + pair_chunk, frames - 1)
        a, b = thumbnails[i:j], thumbnails[i + 1 : j + 1]
        diff = (b - a).abs_()
        mad.append(diff.mean((1, 2)).to(torch.float64))
        dup.append((diff.amax((1, 2)) == 0).to(torch.float64))
        ssim.append(ssim_pairs(a, b))
        motion.append(motion_pairs(a, b) * scale)
    mad_t = torch.cat(mad)
    mu = mean_luma.to(torch.float64) * 255.0
    if frames >= 3:  # second difference: a steady fade is not flicker
        flicker = (mu[1:-1] - 0.5 * (mu[:-2] + mu[2:])).abs().mean()
    else:
        flicker = torch.zeros((), dtype=torch.float64, device=dev)
    return ClipMetrics(
        torch.cat(ssim), mad_t, torch.cat(motion), torch.cat(dup), (mad_t < FROZEN_MAD).to(torch.float64), flicker
    )
