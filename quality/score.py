"""quality_score in 0..1 from one thresholds table, and the flags that explain it.

Each measure maps one metric through piecewise-linear anchors onto 0..1 (in the style of image-quality-ai: bad,
borderline, good), and the score is the weighted mean over the measures that apply to the image. Hard flags
(non-finite pixels, black, blank) force the score to 0. NIQE/BRISQUE/PIQE are deliberately absent: they rate clean
cel-shaded anime worse than blurred frames (research/quality-anchors.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Measure", "THRESHOLDS", "HARD_FLAGS", "BLANK_RATIO", "score_images", "flags_for", "interp"]


@dataclass(frozen=True, slots=True)
class Measure:
    """One row of the thresholds table: metric, anchors (xs ascending, ys in 0..1), weight, and its flag."""

    metric: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    weight: float
    flag: str
    flag_below: float | None = None  # raise ``flag`` when metric <= flag_below
    flag_above: float | None = None  # raise ``flag`` when metric > flag_above
    cap: float | None = None  # critical measure: the score is at most cap + (1 - cap) * this measure's score


# The one table. Scales: luma and fractions 0..1; Laplacian variance, noise and colourfulness on 0..255 luma.
THRESHOLDS: dict[str, Measure] = {
    # studio contract: sharp when Laplacian variance (ksize 1, long edge 512) > 100
    "sharpness": Measure(
        "laplacian_var", (2.0, 100.0, 600.0), (0.0, 0.5, 1.0), 0.30, "blurry", flag_below=100.0, cap=0.2
    ),
    "exposure": Measure(
        "mean_luma", (0.06, 0.30, 0.70, 0.94), (0.0, 1.0, 1.0, 0.0), 0.15, "underexposed", flag_below=0.15, cap=0.2
    ),
    # anime frames have black line art and white fields: clipping is cheap until a quarter of the frame
    "clipping": Measure("clipped_fraction", (0.02, 0.25, 0.6), (1.0, 0.6, 0.0), 0.05, "clipped", flag_above=0.25),
    "contrast": Measure("rms_contrast", (0.005, 0.05, 0.18), (0.0, 0.5, 1.0), 0.15, "low_contrast", flag_below=0.05),
    # Immerkaer sigma of luma: iid RGB noise of sigma s reads about 0.67 s; clean frames read 0.3..2
    "noise": Measure("noise_sigma", (3.0, 7.0, 14.0), (1.0, 0.5, 0.0), 0.10, "noisy", flag_above=7.0, cap=0.3),
    # studio contract: colourful when > 10 (Hasler & Suesstrunk: 15 slightly, 33 moderately colourful)
    "colour": Measure("colourfulness", (0.0, 10.0, 30.0), (0.0, 0.5, 1.0), 0.05, "dull", flag_below=10.0),
    "blockiness": Measure("blockiness", (1.1, 1.5, 2.5), (1.0, 0.5, 0.0), 0.10, "blocky", flag_above=1.5, cap=0.3),
    "cast": Measure("colour_cast", (1.0, 3.0), (1.0, 0.0), 0.10, "colour_cast", flag_above=2.0),
}
HARD_FLAGS = ("non_finite", "black", "blank")
BLANK_RATIO = 0.90  # studio contract: a frame is blank when more than 90 % of it sits within +-2 gray levels
BLACK_FRACTION = 0.95  # FL_BlackFrameReject's rule: 95 % of pixels below 0.05 luma
MONOCHROME = 1.0  # colourfulness below this: a gray image, colour measures do not apply


def interp(x: torch.Tensor, xs: tuple[float, ...], ys: tuple[float, ...]) -> torch.Tensor:
    """Piecewise-linear interpolation, clamped at the ends (``np.interp``), batched on x's device."""
    px = torch.tensor(xs, dtype=x.dtype, device=x.device)
    py = torch.tensor(ys, dtype=x.dtype, device=x.device)
    xc = x.clamp(xs[0], xs[-1])
    i = torch.searchsorted(px, xc.contiguous(), right=True).clamp(1, len(xs) - 1)
    x0, x1, y0, y1 = px[i - 1], px[i], py[i - 1], py[i]
    return y0 + (y1 - y0) * (xc - x0) / (x1 - x0)


def _derived(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = dict(values)
    out["clipped_fraction"] = values["dark_fraction"] + values["bright_fraction"]
    return out


def _hard(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {
        "non_finite": values["finite"] < 0.5,
        "black": values["black_fraction"] >= BLACK_FRACTION,
        "blank": values["blank_ratio"] > BLANK_RATIO,
    }


def _applies(name: str, values: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    ok = torch.isfinite(x)
    if name in ("colour", "cast"):
        ok &= values["colourfulness"] >= MONOCHROME
    return ok


def score_images(values: dict[str, torch.Tensor], table: dict[str, Measure] | None = None) -> torch.Tensor:
    """quality_score [B] in 0..1 (float64, on device) from ``image_metrics(...).values``."""
    table = THRESHOLDS if table is None else table
    v = _derived(values)
    num = torch.zeros_like(v["finite"])
    den = torch.zeros_like(num)
    ceiling = torch.ones_like(num)
    for name, m in table.items():
        x = v[m.metric]
        ok = _applies(name, v, x)
        s = interp(torch.nan_to_num(x), m.xs, m.ys)
        num += torch.where(ok, s * m.weight, torch.zeros_like(s))
        den += ok.to(num.dtype) * m.weight
        if m.cap is not None:
            ceiling = torch.where(ok, torch.minimum(ceiling, m.cap + (1.0 - m.cap) * s), ceiling)
    score = torch.minimum(num / den.clamp_min(1e-12), ceiling)
    hard = torch.zeros_like(score, dtype=torch.bool)
    for flag in _hard(v).values():
        hard |= flag
    return torch.where(hard, torch.zeros_like(score), score)


def flags_for(values: dict[str, torch.Tensor], table: dict[str, Measure] | None = None) -> list[list[str]]:
    """Names of the flags raised on each image (hard flags first); one host transfer."""
    table = THRESHOLDS if table is None else table
    v = _derived(values)
    names: list[str] = []
    masks: list[torch.Tensor] = []
    for name, mask in _hard(v).items():
        names.append(name)
        masks.append(mask)
    for key, m in table.items():
        x = v[m.metric]
        ok = _applies(key, v, x)
        if m.flag_below is not None:
            names.append(m.flag)
            masks.append(ok & (x <= m.flag_below))
        if m.flag_above is not None:
            names.append(m.flag)
            masks.append(ok & (x > m.flag_above))
        if key == "exposure":
            names.append("overexposed")
            masks.append(ok & (x > 0.85))
    rows = torch.stack(masks, 1).cpu().tolist()
    return [[n for n, on in zip(names, row, strict=True) if on] for row in rows]
