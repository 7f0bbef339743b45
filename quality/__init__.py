"""Quality metrics in pure torch: batched on the IMAGE tensor's device, checked against OpenCV/numpy/scikit-image.

Tensors are ComfyUI IMAGE batches [B, H, W, C] in 0..1. Nothing here imports ComfyUI or does I/O; bad input raises
``ValueError`` with a message meant for the user.
"""

from __future__ import annotations

from .assess import ASSESS_MODES, Assessment, assess
from .contract import GATE_PRESETS, GateSpec, VideoContract, contract_checks, gate_failures, gate_spec
from .metrics import METRICS, MODES, ImageMetrics, analysis_plan, image_metrics
from .score import THRESHOLDS, Measure, flags_for, score_images
from .temporal import ClipMetrics, clip_metrics, motion_pairs, ssim_pairs
from .tensor_stats import tensor_stats

__all__ = [
    "ASSESS_MODES",
    "Assessment",
    "assess",
    "GATE_PRESETS",
    "GateSpec",
    "VideoContract",
    "contract_checks",
    "gate_failures",
    "gate_spec",
    "METRICS",
    "MODES",
    "ImageMetrics",
    "analysis_plan",
    "image_metrics",
    "THRESHOLDS",
    "Measure",
    "flags_for",
    "score_images",
    "ClipMetrics",
    "clip_metrics",
    "motion_pairs",
    "ssim_pairs",
    "tensor_stats",
]
