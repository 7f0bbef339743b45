"""A deterministic recorded history for analytics tests (and the parity test): prompts of every fate.

``history(now)`` returns the events of ~60 prompts over the two days before ``now``: successes at small sizes,
out-of-memory failures at ≥ 1536 px in TowerTestSampler, missing-model failures, a RuntimeError pattern that only
appeared after ComfyUI was updated from 0.3.74 to 0.3.75, a rejected prompt, node timings, quality and feedback.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from tower_sentinel.telemetry.events import (
    ErrorEvent,
    Event,
    FeedbackEvent,
    OperationEvent,
    PromptEvent,
    QualityEvent,
)
from tower_sentinel.telemetry.fingerprint import fingerprint

OLD, NEW = "0.3.74", "0.3.75"
EXT = "0.1.0"
OOM_MSG = "CUDA out of memory. Tried to allocate {gib:.2f} GiB. GPU 0 has a total capacity of 11.76 GiB of which 1.02 GiB is free."
MISSING_MSG = "[Errno 2] No such file or directory: '/models/checkpoints/missing_model.safetensors'"


def prompt_events(pid: str, at: datetime, *, inputs: dict[str, Any], outcome: str = "success",
                  error: tuple[str, str, str, str, str] | None = None, version: str = NEW, exec_s: float = 1.0,
                  wait_s: float = 0.5, nodes: list[tuple[str, float, bool]] = (), instance: str = "host:8188",
                  seq: int = 0) -> list[Event]:
    """The events capture records for one prompt: queued, (running), outcome, node runs, error."""
    eid = f"{pid}-"
    evs: list[Event] = []
    started = at + timedelta(seconds=wait_s)
    finished = started + timedelta(seconds=exec_s)
    evs.append(PromptEvent(eid + "q", prompt_id=pid, status="queued", at=at, queued_at=at, inputs=inputs,
                           instance_id=instance, comfyui_version=version, extension_version=EXT, node_count=len(inputs)))
    evs.append(OperationEvent(eid + "oq", operation_type="comfyui_queue", start_time=at, end_time=at,
                              success=outcome != "rejected", prompt_id=pid, instance_id=instance, status="queued",
                              duration_seconds=0.001 * (seq % 7 + 1), comfyui_version=version))
    error_id = cat = node_class = None
    if error is not None:
        cat, sev, exc, node_class, msg = error
        error_id = eid + "err"
        fp, tpl = fingerprint(cat, exc, node_class, msg)
        evs.append(ErrorEvent(error_id, message=msg, category=cat, severity=sev, timestamp=finished,
                              prompt_id=pid, instance_id=instance, exception_type=exc, node_id="2",
                              node_class=node_class, fingerprint=fp, template=tpl, comfyui_version=version,
                              extension_version=EXT, stack_trace="Traceback (most recent call last):\n  ...",
                              context={"stage": "execution"}))
    if outcome == "rejected":
        evs.append(PromptEvent(eid + "r", prompt_id=pid, status="rejected", at=at, finished_at=at, error_id=error_id,
                               category=cat, failing_node_class=node_class, instance_id=instance))
        return evs
    evs.append(PromptEvent(eid + "s", prompt_id=pid, status="running", at=started, started_at=started,
                           queue_wait_seconds=wait_s, instance_id=instance))
    evs.append(PromptEvent(eid + "f", prompt_id=pid, status=outcome, at=finished, finished_at=finished,
                           queue_wait_seconds=wait_s, execution_seconds=exec_s, error_id=error_id, category=cat,
                           failing_node_id="2" if error else None, failing_node_class=node_class,
                           instance_id=instance))
    evs.append(OperationEvent(eid + "oe", operation_type="comfyui_execution", start_time=started, end_time=finished,
                              duration_seconds=exec_s, success=outcome == "success", prompt_id=pid,
                              instance_id=instance, status=outcome, category=cat, node_class=node_class,
                              comfyui_version=version))
    for i, (cls, dur, cached) in enumerate(nodes):
        evs.append(OperationEvent(f"{eid}n{i}", operation_type="node_execution", start_time=started,
                                  end_time=started + timedelta(seconds=dur), duration_seconds=dur,
                                  success=True, prompt_id=pid, instance_id=instance, node_id=str(i + 1),
                                  node_class=cls, status="cached" if cached else "success", cached=cached,
                                  comfyui_version=version))
    return evs


def history(now: datetime, *, seed: int = 7) -> list[Event]:
    rng = random.Random(seed)
    evs: list[Event] = []
    update_at = now - timedelta(hours=30)
    k = 0

    def at(hours_ago: float) -> datetime:
        return now - timedelta(hours=hours_ago, microseconds=rng.randrange(1_000_000))

    def version(t: datetime) -> str:
        return NEW if t >= update_at else OLD

    # 36 successes at small sizes over 48 h, some with a cached loader
    for i in range(36):
        t = at(47.5 * i / 36 + 0.2)
        side = rng.choice([512, 640, 768, 1024, 1280])
        inputs = {"TowerTestSampler.width": side, "TowerTestSampler.height": side, "TowerTestSampler.steps": 20,
                  "TowerTestSampler.seed": rng.randrange(2**31), "TowerTestImage.kind": "gradient"}
        nodes = [("TowerTestImage", 0.01 + 0.001 * i, False), ("TowerTestSampler", 0.5 + 0.05 * i, False),
                 ("TowerTestLoadModel", 0.0, i % 3 == 0)]
        evs += prompt_events(f"ok{i:03d}", t, inputs=inputs, exec_s=0.6 + 0.1 * i, wait_s=0.05 * (i % 5),
                             nodes=nodes, version=version(t), seq=k)
        k += 1
    # out of memory at >= 1536 px: 3 in the previous 24 h, 9 in the last 24 h (rising)
    for i in range(12):
        t = at(26 + 3 * i) if i < 3 else at(23.0 * (i - 3) / 9 + 0.3)
        side = rng.choice([1536, 1792, 2048])
        msg = OOM_MSG.format(gib=side * side * 256 / 2**30)
        inputs = {"TowerTestSampler.width": side, "TowerTestSampler.height": side, "TowerTestSampler.steps": 20,
                  "TowerTestSampler.seed": rng.randrange(2**31), "TowerTestImage.kind": "gradient"}
        evs += prompt_events(f"oom{i:03d}", t, inputs=inputs, outcome="error", version=version(t), seq=k,
                             error=("out_of_memory", "high", "OutOfMemoryError", "TowerTestSampler", msg),
                             nodes=[("TowerTestImage", 0.02, False)], exec_s=2.0 + i)
        k += 1
    # missing model: 4 in the last 24 h
    for i in range(4):
        t = at(20 - 4 * i)
        inputs = {"TowerTestLoadModel.ckpt_name": "missing_model.safetensors"}
        evs += prompt_events(f"mm{i:03d}", t, inputs=inputs, outcome="error", version=version(t), seq=k,
                             error=("model_missing", "high", "FileNotFoundError", "TowerTestLoadModel", MISSING_MSG))
        k += 1
    # a RuntimeError that first appeared after the update
    for i in range(3):
        t = at(10 - 3 * i)
        inputs = {"TowerTestRaise.message": "boom", "TowerTestRaise.value": i}
        evs += prompt_events(f"rz{i:03d}", t, inputs=inputs, outcome="error", version=version(t), seq=k,
                             error=("generation", "high", "RuntimeError", "TowerTestRaise", f"boom {i + 100}"))
        k += 1
    # a rejected prompt (validation)
    t = at(5)
    evs += prompt_events("rej000", t, inputs={"TowerTestSampler.width": -1}, outcome="rejected", seq=k,
                         error=("validation", "medium", "prompt_outputs_failed_validation", "TowerTestSampler",
                                "Prompt outputs failed validation: Value -1 smaller than min of 8"))
    # quality and feedback in the last 24 h
    for i in range(6):
        evs.append(QualityEvent(f"q{i}", prompt_id=f"ok{35 - i:03d}", node_id="9", image_index=0,
                                score=0.5 + 0.08 * i, passed=i >= 2, at=at(12 - i),
                                flags=["blurry"] if i < 2 else [], mode="fast"))
    for i, (rating, issues) in enumerate([(5, []), (4, ["hands"]), (2, ["hands", "blurry"]), (5, None)]):
        evs.append(FeedbackEvent(f"fb{i}", prompt_id=f"ok{30 + i:03d}", rating=rating, at=at(6 - i), issues=issues))
    return evs
