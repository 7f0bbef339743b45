"""Event factories shared by the integration tests and benchmarks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tower_sentinel.telemetry.events import ErrorEvent, OperationEvent, PromptEvent, new_id


def operation(i: int = 0, *, instance_id: str = "it:1", at: datetime | None = None) -> OperationEvent:
    at = at or datetime.now(timezone.utc)
    return OperationEvent(new_id(), operation_type="comfyui_execution", start_time=at,
                          end_time=at + timedelta(seconds=0.5 + (i % 7) / 10), success=i % 5 != 0,
                          context={"i": i}, prompt_id=f"p{i // 4}", instance_id=instance_id,
                          status="success" if i % 5 else "error", comfyui_version="0.3.75")


def prompt_story(pid: str, *, at: datetime | None = None, fail: bool = False) -> list:
    """queued → running → success/error for one prompt, plus the error row when it fails."""
    at = at or datetime.now(timezone.utc)
    evs: list = [PromptEvent(new_id(), prompt_id=pid, status="queued", at=at, queued_at=at, client_id="c1",
                             queue_position=1, inputs={"seed": 1}),
                 PromptEvent(new_id(), prompt_id=pid, status="running", at=at + timedelta(seconds=1),
                             started_at=at + timedelta(seconds=1))]
    if fail:
        err = ErrorEvent(new_id(), message="boom", category="node_execution", severity="high",
                         timestamp=at + timedelta(seconds=2), prompt_id=pid, exception_type="RuntimeError")
        evs += [err, PromptEvent(new_id(), prompt_id=pid, status="error", at=at + timedelta(seconds=2),
                                 finished_at=at + timedelta(seconds=2), error_id=err.event_id, category="node_execution",
                                 failing_node_id="3", failing_node_class="KSampler")]
    else:
        evs.append(PromptEvent(new_id(), prompt_id=pid, status="success", at=at + timedelta(seconds=2),
                               finished_at=at + timedelta(seconds=2), execution_seconds=1.0, outputs={"9": 1}))
    return evs
