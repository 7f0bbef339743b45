"""One call from an IMAGE batch to scores, flags and a JSON-ready report: what the nodes use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .metrics import image_metrics
from .score import flags_for, score_images
from .temporal import clip_metrics

__all__ = ["Assessment", "assess", "ASSESS_MODES"]

ASSESS_MODES = ("images", "clip")


def _clean(v: float) -> float | None:
    return v if v == v and v not in (float("inf"), float("-inf")) else None


@dataclass(frozen=True, slots=True)
class Assessment:
    """Host-side results: per image score, flags and metrics; ``clip`` holds temporal summaries in clip mode."""

    scores: list[float]
    flags: list[list[str]]
    metrics: list[dict[str, float]]
    mode: str
    precision: str
    clip: dict[str, float] | None = None

    @property
    def score(self) -> float:
        """Batch (or clip) score: the mean of the image scores."""
        return sum(self.scores) / len(self.scores)

    def report(self, **extra: Any) -> dict[str, Any]:
        """JSON-safe report (non-finite numbers become null)."""
        images = [
            {"index": i, "score": round(s, 4), "flags": f, "metrics": {k: _clean(v) for k, v in m.items()}}
            for i, (s, f, m) in enumerate(zip(self.scores, self.flags, self.metrics, strict=True))
        ]
        out: dict[str, Any] = {
            "mode": self.mode,
            "precision": self.precision,
            "score": round(self.score, 4),
            "images": images,
        }
        if self.clip is not None:
            out["clip"] = {k: _clean(v) if isinstance(v, float) else v for k, v in self.clip.items()}
        out.update(extra)
        return out


def assess(
    images: torch.Tensor,
    *,
    mode: str = "images",
    precision: str = "float",
    analysis_size: int | None = 512,
    chunk_pixels: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Assessment:
    """Score every image of the batch; in ``clip`` mode also the temporal metrics of consecutive frames."""
    if mode not in ASSESS_MODES:
        raise ValueError(f"mode must be one of {ASSESS_MODES}, got {mode!r}")
    m = image_metrics(
        images,
        mode=precision,
        analysis_size=analysis_size,
        keep_thumbnails=mode == "clip",
        on_progress=on_progress,
        chunk_pixels=chunk_pixels,
    )
    scores = score_images(m.values)
    flags = flags_for(m.values)
    values = m.to_lists()
    score_list = scores.cpu().tolist()
    per_image = [{k: values[k][i] for k in values} for i in range(len(score_list))]
    clip = None
    if mode == "clip":
        assert m.thumbnails is not None
        cm = clip_metrics(m.thumbnails, m.values["mean_luma"], native_long_edge=max(images.shape[1:3]))
        clip = cm.summary()
    return Assessment(score_list, flags, per_image, mode, precision, clip)
