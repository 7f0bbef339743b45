"""TowerTensorStats: the NaN probe. Mean, std, min, max and non-finite count of an IMAGE, LATENT or MASK."""

from __future__ import annotations

import json
from typing import Any

from ..quality import tensor_stats
from ..telemetry.events import utcnow
from ._shared import CATEGORY, HIDDEN, record_operation, ui_text


class TowerTensorStats:
    """Computes statistics on the tensor's own device (one host transfer), records them, and passes inputs on."""

    DESCRIPTION = (
        "Finds NaN latents and black images where they start: records mean, std, min, max and the NaN/inf count of "
        "whatever is connected, and passes it on unchanged."
    )
    CATEGORY = CATEGORY
    FUNCTION = "execute"
    OUTPUT_NODE = True
    RETURN_TYPES = ("IMAGE", "LATENT", "MASK", "STRING")
    RETURN_NAMES = ("image", "latent", "mask", "stats")
    OUTPUT_TOOLTIPS = ("The image, unchanged.", "The latent, unchanged.", "The mask, unchanged.", "JSON statistics.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "label": ("STRING", {"default": "probe", "tooltip": "Name of this probe in the records."}),
            },
            "optional": {
                "image": ("IMAGE", {"tooltip": "An IMAGE batch to inspect."}),
                "latent": ("LATENT", {"tooltip": "A LATENT to inspect (its samples)."}),
                "mask": ("MASK", {"tooltip": "A MASK to inspect."}),
            },
            "hidden": HIDDEN,
        }

    def execute(
        self, label: str, image: Any = None, latent: Any = None, mask: Any = None, unique_id: Any = None
    ) -> dict[str, Any]:
        started = utcnow()
        targets = {"image": image, "latent": latent["samples"] if isinstance(latent, dict) else latent, "mask": mask}
        stats = {k: tensor_stats(t) for k, t in targets.items() if t is not None}
        if not stats:
            raise ValueError("TowerTensorStats: connect an image, a latent or a mask")
        bad = {k: s["nonfinite"] for k, s in stats.items() if s["nonfinite"]}
        record_operation(
            "tensor_stats",
            "TowerTensorStats",
            unique_id,
            started,
            success=True,
            context={"label": label, "stats": stats, "nonfinite": bad},
        )
        lines = [
            f"{k}: mean {s['mean']:.4g} std {s['std']:.4g} [{s['min']:.4g}, {s['max']:.4g}]"
            if s["mean"] is not None
            else f"{k}: no finite values"
            for k, s in stats.items()
        ]
        lines += [f"{k}: {n} NaN/inf values!" for k, n in bad.items()]
        return {"ui": ui_text(*lines), "result": (image, latent, mask, json.dumps({"label": label, **stats}))}
