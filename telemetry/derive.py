"""What the writer derives from a prompt's graph, off ComfyUI's threads: the scalar workflow inputs (failure
drivers), the node count and a hash of the workflow's shape."""

from __future__ import annotations

import hashlib
import re
from typing import Any

__all__ = ["extract_inputs", "workflow_hash", "describe_prompt"]

_SECRET_NAME = re.compile(r"key|token|secret|passw|auth|credential", re.IGNORECASE)
_MAX_FEATURES = 200


def extract_inputs(prompt: Any) -> tuple[dict[str, Any], int]:
    """Scalar widget values as ``{"Class.input": value}`` (max over nodes of one class for numbers), and the node count."""
    if not isinstance(prompt, dict):
        return {}, 0
    feats: dict[str, Any] = {}
    for node in prompt.values():
        if not isinstance(node, dict):
            continue
        ct = node.get("class_type")
        inputs = node.get("inputs")
        if not isinstance(ct, str) or not isinstance(inputs, dict):
            continue
        for name, val in inputs.items():
            if not isinstance(name, str) or _SECRET_NAME.search(name):
                continue
            if isinstance(val, bool) or (isinstance(val, str) and len(val) <= 64):
                key = f"{ct[:80]}.{name[:60]}"
                feats.setdefault(key, val)
            elif isinstance(val, (int, float)) and val == val:
                key = f"{ct[:80]}.{name[:60]}"
                prev = feats.get(key)
                feats[key] = val if not isinstance(prev, (int, float)) or isinstance(prev, bool) else max(prev, val)
            else:
                continue
            if len(feats) >= _MAX_FEATURES:
                return feats, len(prompt)
    return feats, len(prompt)


def workflow_hash(prompt: Any) -> str | None:
    """16 hex chars of SHA-1 over the sorted node class names: the same workflow with other values hashes alike."""
    if not isinstance(prompt, dict):
        return None
    names = sorted(str(n.get("class_type")) for n in prompt.values() if isinstance(n, dict))
    return hashlib.sha1(",".join(names).encode()).hexdigest()[:16]


def describe_prompt(prompt: Any) -> tuple[dict[str, Any] | None, int | None, str | None]:
    """(inputs, node count, workflow hash); (None, None, None) if the graph cannot be read (it never raises: the
    writer calls it, and ComfyUI owns the dict)."""
    try:
        inputs, count = extract_inputs(prompt)
        return inputs, count, workflow_hash(prompt)
    except Exception:  # noqa: BLE001
        return None, None, None
