"""Summary statistics of any tensor (IMAGE, LATENT samples, MASK) on its own device, with one host transfer."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["tensor_stats"]


def tensor_stats(t: torch.Tensor) -> dict[str, Any]:
    """mean, std (population), min, max over the finite values, and the count of NaN/inf values."""
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"expected a tensor, got {type(t).__name__}")
    info: dict[str, Any] = {
        "shape": list(t.shape),
        "dtype": str(t.dtype).replace("torch.", ""),
        "device": str(t.device),
    }
    if t.numel() == 0:
        return {**info, "numel": 0, "nonfinite": 0, "nan": 0, "mean": None, "std": None, "min": None, "max": None}
    x = t.detach()
    if x.dtype not in (torch.float32, torch.float64):
        x = x.to(torch.float32)
    finite = torch.isfinite(x)
    n_ok = finite.sum()
    clean = torch.where(finite, x, torch.zeros((), dtype=x.dtype, device=x.device))
    mean = clean.sum(dtype=torch.float64) / n_ok.clamp_min(1)
    var = torch.where(finite, x - mean.to(x.dtype), torch.zeros((), dtype=x.dtype, device=x.device)).square().sum(
        dtype=torch.float64
    ) / n_ok.clamp_min(1)
    big = torch.finfo(x.dtype).max
    lo = torch.where(finite, x, torch.full((), big, dtype=x.dtype, device=x.device)).amin()
    hi = torch.where(finite, x, torch.full((), -big, dtype=x.dtype, device=x.device)).amax()
    nan = torch.isnan(x).sum()
    vals = torch.stack(
        [mean, var.sqrt(), lo.to(torch.float64), hi.to(torch.float64), n_ok.to(torch.float64), nan.to(torch.float64)]
    )
    m, s, mn, mx, ok, nn = vals.cpu().tolist()
    numel = t.numel()
    empty = ok == 0
    return {
        **info,
        "numel": numel,
        "nonfinite": int(numel - ok),
        "nan": int(nn),
        "mean": None if empty else m,
        "std": None if empty else s,
        "min": None if empty else mn,
        "max": None if empty else mx,
    }
