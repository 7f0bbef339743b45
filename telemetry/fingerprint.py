"""Error fingerprints: the message with its variable parts masked into a template, hashed with what failed.

Like Sentry's grouping and Drain's templates: numbers, shapes, paths, ids, hex and quoted values become
placeholders, so "CUDA out of memory. Tried to allocate 2.00 GiB" and "... 512.00 MiB" share one pattern.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["mask_message", "fingerprint"]

_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.\-+@ ]+){2,}[\\/]?"), "<path>"),
    (re.compile(r"\b[\w\-]+\.(?:safetensors|ckpt|pt|pth|bin|gguf|png|jpe?g|webp|json|yaml|onnx)\b", re.I), "<file>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"[\[(]\s*-?\d+(?:\s*[,x×]\s*-?\d+)+\s*[\])]"), "<shape>"),
    (re.compile(r"\b\d+(?:\s*[x×]\s*\d+)+\b"), "<shape>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s*(?:[KMGTP]i?B|bytes|B)\b"), "<size>"),
    (re.compile(r"'[^']{1,200}'|\"[^\"]{1,200}\""), "<str>"),
    (re.compile(r"[-+]?\b\d+(?:\.\d+)?(?:e[-+]?\d+)?\b", re.I), "<num>"),
    (re.compile(r"\s+"), " "),
]


def mask_message(message: str | None, *, max_len: int = 300) -> str:
    """The message's template: its first line(s) with variable tokens replaced by placeholders."""
    text = (message or "").strip()
    # ComfyUI appends tips after the message; the first paragraph carries the error
    text = text.split("\n\n", 1)[0][:2000]
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text.strip()[:max_len]


def fingerprint(category: str | None, exception_type: str | None, node_class: str | None,
                message: str | None) -> tuple[str, str]:
    """(fingerprint, template): 16 hex chars over category, exception type, failing node class and template."""
    template = mask_message(message)
    key = "\x1f".join([category or "", exception_type or "", node_class or "", template])
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16], template
