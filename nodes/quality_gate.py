"""TowerQualityGate: stop, filter or warn on images below the studio's quality presets."""

from __future__ import annotations

import json
import logging
from typing import Any

import torch

from ..quality import GATE_PRESETS, assess, gate_failures, gate_spec
from ..reliability.errors import QualityValidationError
from ..telemetry import current_prompt
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

log = logging.getLogger("tower_sentinel.nodes.gate")
ON_FAIL = ["fail", "filter", "warn"]


def _describe(failure: dict[str, Any]) -> str:
    parts = [", ".join(failure["flags"])] if "flags" in failure else []
    for metric, v in failure.items():
        if metric != "flags":
            op = ">" if metric.startswith("max_") or metric in ("noise_sigma", "blank_ratio") else "<"
            parts.append(f"{metric} {v['value']:.4g} {op} limit {v['limit']:.4g}")
    return ", ".join(parts)


class TowerQualityGate:
    """Images below the gate fail the prompt (fail), are dropped from the batch (filter), or pass with a warning."""

    DESCRIPTION = (
        "Quality gate with the studio presets draft (0.3), standard (0.45), final (0.6) or custom limits. Retries "
        "step down final -> standard -> draft. NaN, black and blank images always fail."
    )
    CATEGORY = CATEGORY
    FUNCTION = "execute"
    OUTPUT_NODE = True
    RETURN_TYPES = ("IMAGE", "BOOLEAN", "STRING")
    RETURN_NAMES = ("images", "passed", "report")
    OUTPUT_TOOLTIPS = (
        "fail/warn: the input images; filter: only the images that passed.",
        "True when every image passed.",
        "JSON: preset, limits, and per image score, flags and the limits it broke.",
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The images to gate."}),
                "preset": (
                    [*GATE_PRESETS, "custom"],
                    {
                        "default": "standard",
                        "tooltip": "draft 0.3, standard 0.45, final 0.6 minimum score; custom uses the limits below.",
                    },
                ),
                "on_fail": (
                    ON_FAIL,
                    {
                        "default": "fail",
                        "tooltip": "fail: stop the prompt with a quality error. filter: drop failing images (all failing "
                        "is an error). warn: let everything through, report it.",
                    },
                ),
                "precision": (PRECISIONS, {"default": "float", "tooltip": PRECISION_TOOLTIP}),
            },
            "optional": {
                "min_score": (
                    "FLOAT",
                    {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip": "custom: minimum quality score."},
                ),
                "min_sharpness": (
                    "FLOAT",
                    {
                        "default": 0.0,
                        "min": 0.0,
                        "max": 100000.0,
                        "step": 1.0,
                        "tooltip": "custom: Laplacian variance at 512 px must exceed this (studio: 100); 0 = off.",
                    },
                ),
                "min_colourfulness": (
                    "FLOAT",
                    {
                        "default": 0.0,
                        "min": 0.0,
                        "max": 200.0,
                        "step": 0.5,
                        "tooltip": "custom: Hasler-Suesstrunk colourfulness must exceed this (studio: 10); 0 = off.",
                    },
                ),
                "max_noise": (
                    "FLOAT",
                    {
                        "default": 0.0,
                        "min": 0.0,
                        "max": 100.0,
                        "step": 0.1,
                        "tooltip": "custom: Immerkaer noise sigma (0..255) at most this; 0 = off.",
                    },
                ),
                "max_blank_ratio": (
                    "FLOAT",
                    {
                        "default": 0.9,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "custom: share of pixels within 2 gray levels of the commonest (studio: 0.9).",
                    },
                ),
            },
            "hidden": HIDDEN,
        }

    def execute(
        self,
        images: torch.Tensor,
        preset: str,
        on_fail: str,
        precision: str,
        min_score: float = 0.5,
        min_sharpness: float = 0.0,
        min_colourfulness: float = 0.0,
        max_noise: float = 0.0,
        max_blank_ratio: float = 0.9,
        unique_id: Any = None,
    ) -> dict[str, Any]:
        started = utcnow()
        with node_errors("TowerQualityGate", unique_id, started, "quality_assessment"):
            if on_fail not in ON_FAIL:
                raise ValueError(f"on_fail must be one of {ON_FAIL}, got {on_fail!r}")
            spec = gate_spec(
                preset,
                min_score=min_score,
                min_sharpness=min_sharpness,
                min_colourfulness=min_colourfulness,
                max_noise=max_noise,
                max_blank_ratio=max_blank_ratio,
            )
            a = assess(images, precision=precision, on_progress=progress(int(images.shape[0])))
        failures = gate_failures(a, spec)
        ok = [not f for f in failures]
        record_images(a, unique_id, ok)
        failing = {i: f for i, f in enumerate(failures) if f}
        report = a.report(
            gate={
                "preset": preset,
                "on_fail": on_fail,
                "min_score": spec.min_score,
                "failures": {str(i): f for i, f in failing.items()},
            },
            passed=not failing,
        )
        context = {
            "node": "TowerQualityGate",
            "preset": preset,
            "on_fail": on_fail,
            "images": len(ok),
            "failed": sorted(failing),
            "score": a.score,
            "min_score": spec.min_score,
        }
        if failing and (on_fail == "fail" or (on_fail == "filter" and len(failing) == len(ok))):
            ctx = current_prompt()
            what = "all images" if len(failing) == len(ok) else f"{len(failing)} of {len(ok)} images"
            err = QualityValidationError(
                f"Quality gate '{preset}' failed for {what}: "
                + "; ".join(f"image {i}: {_describe(f)}" for i, f in list(failing.items())[:5]),
                validation_type="quality_gate",
                quality_score=min(a.scores),
                context={
                    "preset": preset,
                    "on_fail": on_fail,
                    "node_id": unique_id,
                    "failures": {str(i): f for i, f in failing.items()},
                },
                correlation_id=ctx.correlation_id if ctx else None,
            )
            record_operation(
                "quality_assessment", "TowerQualityGate", unique_id, started, success=False, context=context, error=err
            )
            raise err
        record_operation("quality_assessment", "TowerQualityGate", unique_id, started, success=True, context=context)
        out = images
        if failing and on_fail == "filter":
            keep = torch.tensor([i for i, good in enumerate(ok) if good], device=images.device)
            out = images.index_select(0, keep)
        elif failing:
            log.warning("tower.quality.gate_warn", extra={"preset": preset, "failed": sorted(failing)})
        status = "passed" if not failing else f"{len(failing)}/{len(ok)} failed ({on_fail})"
        return {
            "ui": ui_text(f"gate {preset}: {status}", f"score {a.score:.3f}"),
            "result": (out, not failing, json.dumps(report)),
        }
