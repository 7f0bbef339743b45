"""What to do about a failure pattern: one suggested action per error category, filled in from the pattern.

Out of memory names the size driver; a missing model names the path that was searched and the model folder it
belongs in (parsed from the message: ComfyUI's ``FileNotFoundError`` text or its "Value not in list" validation).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["suggest_action", "recommendation", "missing_model_path"]

_QUOTED_PATH = re.compile(r"""['"]((?:[A-Za-z]:)?[^'"]*[\\/][^'"]+)['"]""")
_BARE_PATH = re.compile(r"((?:[A-Za-z]:)?(?:[\\/][\w.\-+@ ]+){2,})")
_NOT_IN_LIST = re.compile(r"(\w+_name)\s*:\s*'([^']+)'\s*not in", re.IGNORECASE)
_FILE = re.compile(r"([\w.\-]+\.(?:safetensors|ckpt|pt|pth|bin|gguf|onnx|sft))", re.IGNORECASE)
_FOLDERS = ("checkpoints", "loras", "vae", "controlnet", "clip", "clip_vision", "unet", "diffusion_models",
            "upscale_models", "embeddings", "text_encoders", "style_models", "gligen", "hypernetworks",
            "photomaker", "vae_approx", "ipadapter")
_INPUT_FOLDER = {"ckpt_name": "checkpoints", "lora_name": "loras", "vae_name": "vae", "control_net_name": "controlnet",
                 "clip_name": "text_encoders", "unet_name": "diffusion_models", "model_name": "upscale_models",
                 "style_model_name": "style_models", "clip_vision_name": "clip_vision"}
_SIZE = re.compile(r"width|height|batch|size|resolution|frames|length", re.IGNORECASE)

_SUMMARY = {
    "out_of_memory": "Lower the resolution or batch size, or decode with tiles",
    "model_missing": "Put the missing model file where ComfyUI looks for it, or fix the file name in the workflow",
    "validation": "Fix the workflow inputs ComfyUI rejected before running",
    "timeout": "Raise the timeout or find what made the call slow",
    "network": "Check that the service is reachable from ComfyUI",
    "dependency": "A Tower dependency is unavailable: generation goes on without it; check the service",
    "authentication": "Check the credentials or token used for the call",
    "interrupted": "Prompts were interrupted (by a user or a client); act only if this is unexpected",
    "crashed": "ComfyUI stopped while prompts were queued or running: check its log for OOM kills or restarts",
    "quality": "Outputs failed a quality gate: review the gate's thresholds or the prompt",
    "resource": "The machine ran out of a resource (RAM, disk): free it or lower the workload",
    "generation": "A node raised an error: see the example and its traceback",
    "system": "An internal error: see the example and its traceback",
}


def missing_model_path(message: str | None) -> tuple[str | None, str | None]:
    """(searched path or file name, model folder) parsed from a missing-model message."""
    text = message or ""
    path = None
    m = _QUOTED_PATH.search(text) or _BARE_PATH.search(text)
    if m:
        path = m.group(1).strip()
    folder = None
    nil = _NOT_IN_LIST.search(text)
    if nil:
        path = path or nil.group(2)
        folder = _INPUT_FOLDER.get(nil.group(1).lower())
    if path is None:
        f = _FILE.search(text)
        path = f.group(1) if f else None
    if folder is None and path:
        parts = [p for p in re.split(r"[\\/]", path) if p]
        for part in reversed(parts[:-1]):
            if part.lower() in _FOLDERS:
                folder = part.lower()
                break
    return path, folder


def suggest_action(pattern: dict[str, Any]) -> dict[str, Any]:
    category = pattern.get("category") or "system"
    details: list[str] = []
    search_path = folder = None
    drivers = pattern.get("drivers") or []
    if category == "out_of_memory":
        size = [d for d in drivers if _SIZE.search(d["input"])]
        if size:
            details.append(f"Failures concentrate where {size[0]['condition']} "
                           f"({size[0]['matched']['rate']:.0%} fail vs {size[0]['unmatched']['rate']:.0%} below)")
        details += ["Use VAEDecodeTiled instead of VAEDecode for large images",
                    "Start ComfyUI with --lowvram, or generate small and upscale"]
    elif category == "model_missing":
        example = pattern.get("example") or {}
        search_path, folder = missing_model_path(example.get("message") or pattern.get("template"))
        if search_path:
            details.append(f"ComfyUI looked for {search_path}")
        if folder:
            details.append(f"Put the file into ComfyUI's models/{folder}/ (or a folder listed in extra_model_paths.yaml)")
        if pattern.get("node_class"):
            details.append(f"Or pick an installed file in {pattern['node_class']}")
    elif category in ("generation", "system", "validation") and pattern.get("node_class"):
        details.append(f"Failing node: {pattern['node_class']} ({pattern.get('exception_type') or 'error'})")
    if drivers and category != "out_of_memory":
        details.append(f"Most likely when {drivers[0]['condition']}")
    return {"category": category, "summary": _SUMMARY.get(category, _SUMMARY["system"]), "details": details,
            "search_path": search_path, "folder": folder}


def recommendation(pattern: dict[str, Any]) -> str:
    """One line for the seed's ``recommendations`` list."""
    action = pattern.get("suggested_action") or suggest_action(pattern)
    where = f" in {pattern['node_class']}" if pattern.get("node_class") else ""
    text = f"{pattern.get('category')}{where} ({pattern.get('count')}×, {pattern.get('trend')}): {action['summary']}"
    if action["details"]:
        text += f"; {action['details'][0]}"
    return text
