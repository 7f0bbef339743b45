"""What the quality nodes share: the running prompt's ids, recording, progress, and turning bad input into node errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from ..quality import Assessment
from ..telemetry import current_prompt, emit
from ..telemetry.events import OperationEvent, QualityEvent, new_id, utcnow

log = logging.getLogger("tower_sentinel.nodes")

CATEGORY = "Tower/Quality"
PRECISIONS = ["float", "exact"]
PRECISION_TOOLTIP = (
    "float: fastest, no quantisation. exact: emulates saving to 8-bit PNG (ComfyUI truncation, OpenCV gray), "
    "so numbers equal OpenCV's on the saved file."
)
HIDDEN = {"unique_id": "UNIQUE_ID"}


class AnyType(str):
    """A type name that matches every socket (the usual V1 idiom for pass-through inputs)."""

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = str.__hash__


ANY = AnyType("*")


def ids(node_id: Any) -> dict[str, Any]:
    """prompt_id, correlation_id and instance_id of the running prompt, plus this node's id."""
    ctx = current_prompt()
    return {
        "prompt_id": ctx.prompt_id if ctx else None,
        "correlation_id": ctx.correlation_id if ctx else None,
        "instance_id": ctx.instance_id if ctx else None,
        "node_id": None if node_id is None else str(node_id),
    }


def progress(total: int) -> Callable[[int, int], None] | None:
    """ComfyUI's own progress bar for batches worth it; None outside ComfyUI."""
    if total < 8:
        return None
    try:
        from comfy.utils import ProgressBar
    except ImportError:
        return None
    bar = ProgressBar(total)
    return lambda done, _total: bar.update_absolute(done, _total)


def record_operation(
    operation_type: str,
    node_class: str,
    node_id: Any,
    started: datetime,
    *,
    success: bool,
    context: dict[str, Any],
    error: BaseException | None = None,
) -> None:
    """One OperationEvent for this node run (a no-op when no recorder runs)."""
    i = ids(node_id)
    emit(
        OperationEvent(
            event_id=new_id(),
            operation_type=operation_type,
            start_time=started,
            end_time=utcnow(),
            success=success,
            error_details=None if error is None else {"type": type(error).__name__, "message": str(error)},
            context=context,
            correlation_id=i["correlation_id"],
            prompt_id=i["prompt_id"],
            instance_id=i["instance_id"],
            node_id=i["node_id"],
            node_class=node_class,
            status="success" if success else "error",
            category=None if success else getattr(getattr(error, "category", None), "value", "validation"),
        )
    )


def record_images(a: Assessment, node_id: Any, passed: list[bool] | None) -> None:
    """One QualityEvent per assessed image, keyed by prompt, node and image index."""
    i = ids(node_id)
    report = a.report()["images"]
    now = utcnow()
    for k, img in enumerate(report):
        emit(
            QualityEvent(
                event_id=new_id(),
                prompt_id=i["prompt_id"],
                node_id=i["node_id"],
                image_index=k,
                score=a.scores[k],
                passed=None if passed is None else passed[k],
                at=now,
                metrics=img["metrics"],
                flags=img["flags"],
                mode=f"{a.mode}/{a.precision}",
                correlation_id=i["correlation_id"],
                instance_id=i["instance_id"],
            )
        )


@contextmanager
def node_errors(node_class: str, node_id: Any, started: datetime, operation_type: str) -> Iterator[None]:
    """Record a failed run, and give ``ValueError``s from ``quality`` the node's name so the UI error says who."""
    try:
        yield
    except ValueError as exc:
        record_operation(operation_type, node_class, node_id, started, success=False, context={}, error=exc)
        raise ValueError(f"{node_class}: {exc}") from exc


def ui_text(*lines: str) -> dict[str, list[str]]:
    return {"text": ["\n".join(lines)]}
