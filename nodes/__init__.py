"""ComfyUI nodes of Tower Sentinel (V1 classes, one per file); the package root merges these mappings."""

from __future__ import annotations

from .echo_prompt import TowerEchoBrainPrompt
from .log_metric import TowerLogMetric
from .quality_assess import TowerQualityAssess
from .quality_gate import TowerQualityGate
from .tensor_stats import TowerTensorStats
from .video_contract import TowerVideoContract

NODE_CLASS_MAPPINGS = {
    "TowerQualityAssess": TowerQualityAssess,
    "TowerQualityGate": TowerQualityGate,
    "TowerVideoContract": TowerVideoContract,
    "TowerLogMetric": TowerLogMetric,
    "TowerTensorStats": TowerTensorStats,
    "TowerEchoBrainPrompt": TowerEchoBrainPrompt,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "TowerQualityAssess": "Tower Quality Assess",
    "TowerQualityGate": "Tower Quality Gate",
    "TowerVideoContract": "Tower Video Contract",
    "TowerLogMetric": "Tower Log Metric",
    "TowerTensorStats": "Tower Tensor Stats",
    "TowerEchoBrainPrompt": "Tower Echo Brain Prompt",
}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
