"""TowerVideoContract: the studio's motion and visual gates on a clip's frames, with a pass/fail report."""

from __future__ import annotations

import json
from typing import Any

import torch

from ..quality import VideoContract, assess, contract_checks
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

_D = VideoContract()


class TowerVideoContract:
    """Frames in; the frames, whether the clip meets the contract, and each check's value, limit and verdict."""

    DESCRIPTION = (
        "Checks a clip against the studio's video contract: no blank frame (blank ratio <= 0.9), sharp (median "
        "Laplacian variance > 100), colourful (> 10), it changes (1 - mean SSIM > 0.01) and moves (> 0.5 px), and "
        "its quality score exceeds 0.5."
    )
    CATEGORY = CATEGORY
    FUNCTION = "execute"
    OUTPUT_NODE = True
    RETURN_TYPES = ("IMAGE", "BOOLEAN", "STRING")
    RETURN_NAMES = ("frames", "passed", "report")
    OUTPUT_TOOLTIPS = ("The frames, unchanged.", "True when every check passed.", "JSON: checks, clip metrics, frames.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        def f(default: float, hi: float, step: float, tip: str) -> tuple[str, dict[str, Any]]:
            return ("FLOAT", {"default": default, "min": 0.0, "max": hi, "step": step, "tooltip": tip})

        return {
            "required": {
                "frames": ("IMAGE", {"tooltip": "The clip's frames, in order."}),
                "on_fail": (
                    ["warn", "fail"],
                    {
                        "default": "warn",
                        "tooltip": "warn: report and continue. fail: stop the prompt with a quality error.",
                    },
                ),
                "precision": (PRECISIONS, {"default": "float", "tooltip": PRECISION_TOOLTIP}),
                "max_blank_ratio": f(_D.max_blank_ratio, 1.0, 0.01, "A frame is blank above this blank ratio."),
                "min_sharpness": f(_D.min_sharpness, 100000.0, 1.0, "Median Laplacian variance (512 px) above this."),
                "min_colourfulness": f(_D.min_colourfulness, 200.0, 0.5, "Median colourfulness above this."),
                "min_change": f(_D.min_change, 1.0, 0.001, "1 - mean SSIM of consecutive frames above this."),
                "min_motion_px": f(_D.min_motion_px, 1000.0, 0.1, "Mean motion between frames (pixels) above this."),
                "min_score": f(_D.min_score, 1.0, 0.01, "Clip quality score above this."),
            },
            "hidden": HIDDEN,
        }

    def execute(
        self,
        frames: torch.Tensor,
        on_fail: str,
        precision: str,
        max_blank_ratio: float,
        min_sharpness: float,
        min_colourfulness: float,
        min_change: float,
        min_motion_px: float,
        min_score: float,
        unique_id: Any = None,
    ) -> dict[str, Any]:
        started = utcnow()
        contract = VideoContract(
            max_blank_ratio, min_sharpness, min_colourfulness, min_change, min_motion_px, min_score
        )
        with node_errors("TowerVideoContract", unique_id, started, "quality_assessment"):
            a = assess(frames, mode="clip", precision=precision, on_progress=progress(int(frames.shape[0])))
        checks = contract_checks(a, contract)
        passed = all(c["passed"] for c in checks.values())
        failed = [k for k, c in checks.items() if not c["passed"]]
        record_images(a, unique_id, None)
        context = {
            "node": "TowerVideoContract",
            "frames": len(a.scores),
            "passed": passed,
            "failed": failed,
            "checks": checks,
            "clip": a.clip,
        }
        if not passed and on_fail == "fail":
            ctx = current_prompt()
            err = QualityValidationError(
                "Video contract failed: "
                + ", ".join(f"{k} ({checks[k]['value']:.4g} vs limit {checks[k]['limit']:.4g})" for k in failed),
                validation_type="video_contract",
                quality_score=a.score,
                context={"failed": failed, "checks": checks, "node_id": unique_id},
                correlation_id=ctx.correlation_id if ctx else None,
            )
            record_operation(
                "quality_assessment",
                "TowerVideoContract",
                unique_id,
                started,
                success=False,
                context=context,
                error=err,
            )
            raise err
        record_operation("quality_assessment", "TowerVideoContract", unique_id, started, success=True, context=context)
        report = a.report(contract=checks, passed=passed)
        lines = [
            f"contract: {'passed' if passed else 'FAILED ' + ', '.join(failed)}",
            f"score {a.score:.3f}, motion {a.clip['motion_px']:.2f} px, change {1 - a.clip['mean_ssim']:.4f}",
        ]
        return {"ui": ui_text(*lines), "result": (frames, passed, json.dumps(report))}
