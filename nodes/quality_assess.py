"""TowerQualityAssess: score every image (or a clip's frames) of an IMAGE batch, on its own device."""

from __future__ import annotations

import json
from typing import Any

import torch

from ..quality import ASSESS_MODES, assess
from ..quality.score import HARD_FLAGS
from ..telemetry.events import utcnow
from ._shared import (
    CATEGORY,
    HIDDEN,
    PRECISION_TOOLTIP,
    PRECISIONS,
    node_errors,
    progress,
    record_images,
    record_operation,
    ui_text,
)


class TowerQualityAssess:
    """IMAGE in; the images unchanged, the batch score, whether it passed, and a JSON report of every metric."""

    DESCRIPTION = (
        "Scores every image (0..1) from sharpness, exposure, contrast, noise, colour, JPEG blockiness and flags "
        "NaN/black/blank outputs. In clip mode also measures frame-to-frame change, motion, frozen frames and flicker."
    )
    CATEGORY = CATEGORY
    FUNCTION = "execute"
    OUTPUT_NODE = True
    RETURN_TYPES = ("IMAGE", "FLOAT", "BOOLEAN", "STRING")
    RETURN_NAMES = ("images", "score", "passed", "report")
    OUTPUT_TOOLTIPS = (
        "The input images, unchanged.",
        "Mean quality score of the batch (clip), 0..1.",
        "True when every image scores at least min_score and none is NaN, black or blank.",
        "JSON: per image score, flags and metrics; clip metrics in clip mode.",
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The images (or a clip's frames) to score."}),
                "mode": (
                    list(ASSESS_MODES),
                    {"default": "images", "tooltip": "images: each on its own. clip: also temporal metrics."},
                ),
                "precision": (PRECISIONS, {"default": "float", "tooltip": PRECISION_TOOLTIP}),
                "min_score": (
                    "FLOAT",
                    {
                        "default": 0.5,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "Score an image needs for 'passed' (studio contract: 0.5).",
                    },
                ),
            },
            "hidden": HIDDEN,
        }

    def execute(
        self, images: torch.Tensor, mode: str, precision: str, min_score: float, unique_id: Any = None
    ) -> dict[str, Any]:
        started = utcnow()
        with node_errors("TowerQualityAssess", unique_id, started, "quality_assessment"):
            a = assess(images, mode=mode, precision=precision, on_progress=progress(int(images.shape[0])))
        ok = [s >= min_score and not any(f in HARD_FLAGS for f in fl) for s, fl in zip(a.scores, a.flags, strict=True)]
        passed = all(ok)
        record_images(a, unique_id, ok)
        summary = {
            "node": "TowerQualityAssess",
            "images": len(a.scores),
            "score": a.score,
            "passed": passed,
            "mode": mode,
            "precision": precision,
            "min_score": min_score,
            "clip": a.clip,
        }
        record_operation("quality_assessment", "TowerQualityAssess", unique_id, started, success=True, context=summary)
        flagged = sorted({f for fl in a.flags for f in fl})
        text = ui_text(
            f"score {a.score:.3f} ({len(a.scores)} {'frames' if mode == 'clip' else 'images'})",
            "passed" if passed else "FAILED",
            "flags: " + (", ".join(flagged) or "none"),
        )
        return {"ui": text, "result": (images, float(a.score), passed, json.dumps(a.report(passed=passed)))}
