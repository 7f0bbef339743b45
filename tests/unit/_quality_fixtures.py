"""Small deterministic images for the quality tests: photos from scikit-image and a cel-shaded synthetic frame."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from skimage import data


def photo(name: str = "astronaut", size: tuple[int, int] = (240, 320)) -> np.ndarray:
    """An RGB photo as float32 0..1 [H, W, 3], resized with INTER_AREA."""
    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return img.astype(np.float32) / 255.0


def anime(size: tuple[int, int] = (240, 320), seed: int = 0) -> np.ndarray:
    """A cel-shaded frame: flat fills, a gradient sky, black line art, anti-aliased; float32 0..1 [H, W, 3]."""
    rng = np.random.default_rng(seed)
    h, w = size
    img = np.zeros((h, w, 3), np.uint8)
    sky = np.linspace(200, 120, h).astype(np.uint8)
    img[..., 2] = sky[:, None]
    img[..., 1] = (sky[:, None] * 0.8).astype(np.uint8)
    img[..., 0] = 90
    for _ in range(6):
        c = tuple(int(v) for v in rng.integers(30, 250, 3))
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(15, w // 3)), int(rng.integers(15, h // 3)))
        cv2.ellipse(img, center, axes, float(rng.uniform(0, 180)), 0, 360, c, -1, cv2.LINE_AA)
        cv2.ellipse(img, center, axes, float(rng.uniform(0, 180)) * 0, 0, 360, (10, 10, 10), 2, cv2.LINE_AA)
    return img.astype(np.float32) / 255.0


def batch(*imgs: np.ndarray) -> torch.Tensor:
    """Stack HWC float images into a ComfyUI IMAGE tensor [B, H, W, 3]."""
    return torch.from_numpy(np.stack(imgs)).contiguous()


def to_u8(x: torch.Tensor) -> np.ndarray:
    """ComfyUI SaveImage's conversion: clip(255 x) truncated to uint8."""
    return np.clip(255.0 * x.numpy(), 0, 255).astype(np.uint8)
