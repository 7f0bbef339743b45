"""What ``POST /tower/generate`` and ``/api/generate-enhanced`` share: the request, the graph, the loopback queue,
ComfyUI's rejection read back as "what is missing", and the real output file of a finished prompt.

The prompt is queued through this ComfyUI's own ``POST /prompt`` over loopback (with ``X-Correlation-ID``), so the
capture middleware records it exactly like any other client's prompt and ComfyUI validates it the usual way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..reliability.templates import QUALITY_LEVELS, TemplateError, fill_template, inline_graph, template_values
from ._http import BadRequest

__all__ = ["GenerateRequest", "parse_generate", "parse_enhanced_alias", "build_graph", "Rejection",
           "read_rejection", "queue_prompt", "output_file", "DEFAULT_TEMPLATE", "MAX_PROMPT"]

DEFAULT_TEMPLATE = "txt2img"
MAX_PROMPT = 10_000
_MODEL_EXT = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx")
_MODEL_INPUT = re.compile(r"^(ckpt|lora|vae|unet|clip|model|control_net|controlnet|upscale_model|style_model|gligen|"
                          r"hypernetwork|clip_vision|diffusion_model|text_encoder)\w*_name\d*$|^ckpt_name$")
_FOLDER = {"ckpt": "checkpoint", "lora": "lora", "vae": "vae", "unet": "diffusion model", "clip": "text encoder",
           "control": "controlnet", "upscale": "upscale model", "style": "style model", "hypernetwork": "hypernetwork"}


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    prompt: str
    character: str | None
    quality_level: str
    user_id: str | None
    workflow: str | dict[str, Any]
    seed: int | None
    negative_prompt: str | None
    extra: dict[str, Any]  # further template values (the seed alias's scene_type, duration, style)


def _opt_str(body: dict[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"{key} must be a string of at most {limit} characters", type_="invalid_request")
    return value.strip() or None


def parse_generate(body: Any, *, extra: dict[str, Any] | None = None) -> GenerateRequest:
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", type_="invalid_request")
    prompt = _opt_str(body, "prompt", MAX_PROMPT)
    if not prompt:
        raise BadRequest("prompt is required (a non-empty string)", type_="invalid_request")
    level = body.get("quality_level", "medium")
    if level not in QUALITY_LEVELS:
        raise BadRequest(f"quality_level must be one of {', '.join(QUALITY_LEVELS)}", type_="invalid_request")
    workflow = body.get("workflow", DEFAULT_TEMPLATE)
    if workflow is None:
        workflow = DEFAULT_TEMPLATE
    if not isinstance(workflow, (str, dict)):
        raise BadRequest("workflow must be a template name or an API-format graph", type_="invalid_workflow")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64):
        raise BadRequest("seed must be an integer from 0 to 2^64-1", type_="invalid_request")
    return GenerateRequest(prompt=prompt, character=_opt_str(body, "character", 200), quality_level=level,
                           user_id=_opt_str(body, "user_id", 200), workflow=workflow, seed=seed,
                           negative_prompt=_opt_str(body, "negative_prompt", MAX_PROMPT), extra=dict(extra or {}))


def parse_enhanced_alias(body: Any) -> GenerateRequest:
    """The seed's body: ``prompt``, ``character``, ``scene_type``, ``duration``, ``style``, ``quality_level``,
    ``user_id``; scene type and style join the prompt, all three are template values too."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", type_="invalid_request")
    scene = _opt_str(body, "scene_type", 200)
    style = _opt_str(body, "style", 200)
    duration = body.get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))
                                 or not 0 <= duration <= 3600):
        raise BadRequest("duration must be a number of seconds from 0 to 3600", type_="invalid_request")
    known = {"prompt", "character", "quality_level", "user_id", "workflow", "seed", "negative_prompt"}
    req = parse_generate({k: v for k, v in body.items() if k in known},
                         extra={"scene_type": scene or "", "style": style or "", "duration": duration or 0})
    prompt = ", ".join(p for p in (req.prompt, scene, style) if p)
    return GenerateRequest(prompt, req.character, req.quality_level, req.user_id, req.workflow, req.seed,
                           req.negative_prompt, req.extra)


def build_graph(template: dict[str, Any], req: GenerateRequest, *, prompt: str, negative_prompt: str,
                character_sheet: dict[str, Any] | None) -> dict[str, Any]:
    values = template_values(prompt=prompt, negative_prompt=negative_prompt, quality_level=req.quality_level,
                             seed=req.seed, extra={"character": req.character or "", "user_id": req.user_id or "",
                                                   "original_prompt": req.prompt, **req.extra})
    graph = fill_template(template, values)
    return inline_graph(graph)


def resolve_inline(workflow: dict[str, Any]) -> dict[str, Any]:
    try:
        return inline_graph(workflow)
    except TemplateError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise TemplateError("invalid_workflow", f"workflow is not an API-format graph: {exc}") from None


@dataclass(frozen=True, slots=True)
class Rejection:
    status: int
    type: str
    message: str
    missing: list[dict[str, Any]]
    node_errors: dict[str, Any]


def _folder(input_name: str) -> str:
    for prefix, label in _FOLDER.items():
        if input_name.startswith(prefix):
            return label
    return "model"


def read_rejection(body: Any) -> Rejection:
    """ComfyUI's 400 from ``POST /prompt`` → 422 ``missing_model`` (naming each missing file), ``missing_node``,
    or ``invalid_workflow`` with ComfyUI's own messages."""
    body = body if isinstance(body, dict) else {}
    err = body.get("error") if isinstance(body.get("error"), dict) else {}
    node_errors = body.get("node_errors") if isinstance(body.get("node_errors"), dict) else {}
    missing: list[dict[str, Any]] = []
    other: list[str] = []
    for nid, ne in node_errors.items():
        if not isinstance(ne, dict):
            continue
        cls = ne.get("class_type")
        for e in ne.get("errors") or []:
            info = e.get("extra_info") or {}
            name, value = str(info.get("input_name") or ""), info.get("received_value")
            if e.get("type") == "value_not_in_list" and (
                    _MODEL_INPUT.match(name) or (isinstance(value, str) and value.lower().endswith(_MODEL_EXT))):
                missing.append({"kind": _folder(name), "name": value, "node_id": str(nid), "class_type": cls,
                                "input": name})
            else:
                other.append(f"node {nid} ({cls}): {e.get('message')}: {e.get('details')}")
    if missing and not other:
        names = ", ".join(f"{m['kind']} {m['name']!r} (node {m['node_id']} {m['class_type']}.{m['input']})"
                          for m in missing)
        return Rejection(422, "missing_model", f"ComfyUI does not have the model(s) this workflow needs: {names}",
                         missing, node_errors)
    if err.get("type") == "invalid_prompt" and "does not exist" in str(err.get("message")):
        return Rejection(422, "missing_node", f"{err.get('message')} {err.get('details') or ''}".strip(),
                         [{"kind": "node", "name": str(err.get("message")), "details": err.get("details")}],
                         node_errors)
    message = str(err.get("message") or "ComfyUI rejected the workflow")
    detail = "; ".join((other + [f"missing {m['kind']} {m['name']!r}" for m in missing])[:10])
    return Rejection(422, "invalid_workflow", f"{message}: {detail}" if detail else message, missing, node_errors)


async def queue_prompt(session: aiohttp.ClientSession, base_url: str, graph: dict[str, Any], *, correlation_id: str,
                       extra_data: dict[str, Any], timeout_s: float = 60.0) -> tuple[int, Any]:
    """POST the graph to this ComfyUI's ``/prompt``; (HTTP status, JSON body or None)."""
    body = {"prompt": graph, "extra_data": {**extra_data, "correlation_id": correlation_id}}
    async with session.post(f"{base_url}/prompt", json=body, headers={"X-Correlation-ID": correlation_id},
                            timeout=aiohttp.ClientTimeout(total=timeout_s), ssl=False) as resp:
        try:
            data = await resp.json(content_type=None)
        except ValueError:
            data = None
        return resp.status, data


def output_file(outputs: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """(the first saved output's path relative to ComfyUI's output folder, every recorded file), from the
    recorded outputs; saved ("output") files win over previews ("temp")."""
    files: list[dict[str, Any]] = []
    if isinstance(outputs, dict):
        for nid, o in outputs.items():
            for im in (o or {}).get("images") or []:
                if isinstance(im, dict) and im.get("filename"):
                    files.append({"node_id": str(nid), **{k: im.get(k) for k in ("filename", "subfolder", "type")}})
    saved = [f for f in files if f.get("type") == "output"] or files
    if not saved:
        return None, files
    first = saved[0]
    path = f"{first['subfolder']}/{first['filename']}" if first.get("subfolder") else first["filename"]
    return path, files
