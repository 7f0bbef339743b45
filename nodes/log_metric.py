"""TowerLogMetric: record a named number with tags against the running prompt, passing its input on."""

from __future__ import annotations

import json
import math
from typing import Any

from ..telemetry.events import utcnow
from ._shared import ANY, CATEGORY, HIDDEN, record_operation, ui_text


def parse_tags(text: str) -> dict[str, str]:
    """Tags as a JSON object or ``key=value`` pairs separated by commas or new lines."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"TowerLogMetric: tags look like JSON but do not parse: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("TowerLogMetric: JSON tags must be an object")
        return {str(k): str(v) for k, v in data.items()}
    tags: dict[str, str] = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"TowerLogMetric: tag {part.strip()!r} is not key=value")
        tags[key.strip()] = value.strip()
    return tags


class TowerLogMetric:
    """Records ``name = value`` (FLOAT, or INT when connected) as a custom_metric operation of this prompt."""

    DESCRIPTION = (
        "Records a named number with tags against the running prompt (custom_metric), passing its passthrough input on."
    )
    CATEGORY = CATEGORY
    FUNCTION = "execute"
    OUTPUT_NODE = True
    RETURN_TYPES = (ANY, "FLOAT")
    RETURN_NAMES = ("passthrough", "value")
    OUTPUT_TOOLTIPS = ("The passthrough input, unchanged.", "The recorded value.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "name": ("STRING", {"default": "metric", "tooltip": "Metric name, e.g. 'cfg_effective'."}),
                "value": (
                    "FLOAT",
                    {
                        "default": 0.0,
                        "min": -1e18,
                        "max": 1e18,
                        "step": 0.001,
                        "tooltip": "The number to record (convert to an input to connect a FLOAT).",
                    },
                ),
                "tags": (
                    "STRING",
                    {
                        "default": "",
                        "multiline": True,
                        "tooltip": "key=value pairs (comma or line separated) or a JSON object.",
                    },
                ),
            },
            "optional": {
                "int_value": ("INT", {"forceInput": True, "tooltip": "An INT to record instead of 'value'."}),
                "passthrough": (ANY, {"tooltip": "Anything to pass through, so the metric sits inline in the graph."}),
            },
            "hidden": HIDDEN,
        }

    def execute(
        self,
        name: str,
        value: float,
        tags: str,
        int_value: int | None = None,
        passthrough: Any = None,
        unique_id: Any = None,
    ) -> dict[str, Any]:
        started = utcnow()
        name = (name or "").strip()
        if not name:
            raise ValueError("TowerLogMetric: the metric needs a name")
        number: float | int = int_value if int_value is not None else float(value)
        if not math.isfinite(float(number)):
            raise ValueError(f"TowerLogMetric: {name} is not a finite number ({number})")
        parsed = parse_tags(tags)
        record_operation(
            "custom_metric",
            "TowerLogMetric",
            unique_id,
            started,
            success=True,
            context={"name": name, "value": number, "tags": parsed},
        )
        return {"ui": ui_text(f"{name} = {number:g}"), "result": (passthrough, float(number))}
