"""Input validation shared by the quality functions: clear ``ValueError``s instead of crashes deep in a stencil."""

from __future__ import annotations

import torch

__all__ = ["MIN_SIDE", "check_images", "check_luma"]

# Stencils need a 3x3 neighbourhood and the variance of a handful of pixels means nothing; 8 px is the floor.
MIN_SIDE = 8


def check_images(images: object) -> torch.Tensor:
    """Return ``images`` if it is a ComfyUI IMAGE batch [B, H, W, 3|4] of floats, else raise ``ValueError``."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"expected an IMAGE tensor [B, H, W, C], got {type(images).__name__}")
    if images.dim() != 4:
        hint = (
            " (a rank-3 tensor is a MASK [B, H, W]; convert it with a Mask To Image node)" if images.dim() == 3 else ""
        )
        raise ValueError(
            f"expected an IMAGE tensor of rank 4 [B, H, W, C], got rank {images.dim()} {tuple(images.shape)}{hint}"
        )
    b, h, w, c = images.shape
    if b == 0:
        raise ValueError("the IMAGE batch is empty (0 images): nothing to assess")
    if c not in (3, 4):
        raise ValueError(
            f"expected 3 (RGB) or 4 (RGBA) channels in the last dimension, got {c} {tuple(images.shape)}; "
            "a 1-channel tensor is a mask, and [B, C, H, W] layouts must be permuted to [B, H, W, C]"
        )
    if h < MIN_SIDE or w < MIN_SIDE:
        raise ValueError(f"images are {h}x{w} pixels; quality metrics need at least {MIN_SIDE}x{MIN_SIDE}")
    if not images.is_floating_point():
        raise ValueError(f"expected a floating-point IMAGE in 0..1, got dtype {images.dtype}")
    return images


def check_luma(luma: object) -> torch.Tensor:
    """Return ``luma`` if it is a float batch of gray planes [B, H, W] at least 3x3, else raise ``ValueError``."""
    if not isinstance(luma, torch.Tensor) or luma.dim() != 3:
        shape = tuple(luma.shape) if isinstance(luma, torch.Tensor) else type(luma).__name__
        raise ValueError(f"expected a luma batch [B, H, W], got {shape}")
    if luma.shape[0] == 0:
        raise ValueError("the luma batch is empty")
    if luma.shape[1] < 3 or luma.shape[2] < 3:
        raise ValueError(f"luma planes are {luma.shape[1]}x{luma.shape[2]}; stencils need at least 3x3")
    if not luma.is_floating_point():
        raise ValueError(f"expected floating-point luma, got dtype {luma.dtype}")
    return luma
