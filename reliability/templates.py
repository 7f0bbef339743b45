"""Workflow templates for ``POST /tower/generate``: API-format graphs with ``{{placeholders}}``.

A string value that is exactly ``"{{name}}"`` becomes the typed value (numbers stay numbers); a string that only
contains placeholders gets them substituted as text. Templates come from the extension's folder in ComfyUI's
user directory (``<user dir>/tower_sentinel/workflows/NAME.json``) and then from the shipped ``workflows/``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

__all__ = ["QUALITY_LEVELS", "TemplateError", "load_template", "fill_template", "template_values",
           "SHIPPED_DIR", "NAME_RE"]

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "workflows"
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PH = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

# The seed's quality levels (KSampler settings).
QUALITY_LEVELS: dict[str, dict[str, Any]] = {
    "low": {"steps": 15, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal"},
    "medium": {"steps": 20, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal"},
    "high": {"steps": 25, "cfg": 8.0, "sampler_name": "dpmpp_2m", "scheduler": "karras"},
    "ultra": {"steps": 30, "cfg": 8.5, "sampler_name": "dpmpp_2m", "scheduler": "karras"},
}


class TemplateError(Exception):
    """A template problem the caller can fix (4xx) or a broken shipped template (500)."""

    def __init__(self, type_: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message
        self.status = status


def load_template(name: str, *, user_dir: Path | None) -> dict[str, Any]:
    if not NAME_RE.match(name):
        raise TemplateError("invalid_workflow", "workflow must be a template name ([A-Za-z0-9_.-], ≤ 64) or a graph")
    for folder in ([user_dir] if user_dir else []) + [SHIPPED_DIR]:
        path = Path(folder) / f"{name}.json"
        if path.is_file():
            try:
                graph = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise TemplateError("invalid_template", f"workflow template {name!r} is not valid JSON: {exc}",
                                    status=500) from None
            return _check_graph(graph)
    raise TemplateError("template_not_found", f"workflow template {name!r} not found in the user or shipped "
                        "workflows folders", status=404)


def _check_graph(graph: Any) -> dict[str, Any]:
    if not isinstance(graph, dict) or not graph or not all(
            isinstance(n, dict) and isinstance(n.get("class_type"), str) for n in graph.values()):
        raise TemplateError("invalid_workflow", "workflow must be an API-format graph: {id: {class_type, inputs}}")
    if len(graph) > 5000:
        raise TemplateError("invalid_workflow", "workflow has more than 5000 nodes")
    return graph


def template_values(*, prompt: str, negative_prompt: str, quality_level: str, seed: int | None,
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "prompt": prompt, "negative_prompt": negative_prompt,
        "seed": seed if seed is not None else random.randrange(2**48),  # noqa: S311 - not security related
        "width": 1024, "height": 1024, "checkpoint": "epicrealism_v5.safetensors", "filename_prefix": "tower",
        **QUALITY_LEVELS[quality_level],
    }
    values.update(extra or {})
    return values


def fill_template(graph: Any, values: dict[str, Any]) -> Any:
    """A deep copy of ``graph`` with placeholders replaced; unknown placeholders are left as they are."""
    if isinstance(graph, dict):
        return {k: fill_template(v, values) for k, v in graph.items()}
    if isinstance(graph, list):
        return [fill_template(v, values) for v in graph]
    if isinstance(graph, str):
        m = _PH.fullmatch(graph.strip())
        if m and m.group(1) in values:
            return values[m.group(1)]
        return _PH.sub(lambda mm: str(values[mm.group(1)]) if mm.group(1) in values else mm.group(0), graph)
    return graph


def inline_graph(graph: Any) -> dict[str, Any]:
    return _check_graph(graph)
