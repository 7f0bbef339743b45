"""The quality nodes as ComfyUI calls them: V1 schema, outputs, UI text, gate modes, errors and what they record."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from tower_sentinel.nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from tower_sentinel.reliability.errors import ErrorCategory, QualityValidationError
from tower_sentinel.telemetry import context as tctx
from tower_sentinel.telemetry.events import OperationEvent, QualityEvent

from ._quality_fixtures import anime, batch, photo
from ._recorders import FakeRecorder


@pytest.fixture
def recorder() -> Iterator[FakeRecorder]:
    rec = FakeRecorder()
    tctx.set_recorder(rec)
    tctx.set_current_prompt(tctx.PromptContext(prompt_id="p-1", correlation_id="c-1", instance_id="i-1"))
    yield rec
    tctx.set_recorder(None)
    tctx.set_current_prompt(None)


@pytest.fixture(scope="module")
def mixed() -> torch.Tensor:
    """A NaN image, a black image, a blurred image and a clean one (the issue's acceptance graph)."""
    import cv2

    clean = anime((256, 256), seed=3)
    nan = clean.copy()
    nan[10:20, 10:20] = np.nan
    blurred = cv2.GaussianBlur(clean, (0, 0), 4.0)
    return batch(nan, np.zeros_like(clean), blurred, clean)


def test_mappings_name_five_v1_nodes_with_tooltips() -> None:
    """Every node id is mapped and displayed, has the V1 attributes, category Tower/Quality, and tooltips on inputs."""
    ours = {"TowerQualityAssess", "TowerQualityGate", "TowerVideoContract", "TowerLogMetric", "TowerTensorStats"}
    assert ours <= set(NODE_CLASS_MAPPINGS) and ours <= set(NODE_DISPLAY_NAME_MAPPINGS)
    for cls in (NODE_CLASS_MAPPINGS[k] for k in sorted(ours)):
        spec = cls.INPUT_TYPES()
        assert cls.CATEGORY == "Tower/Quality" and callable(getattr(cls(), cls.FUNCTION))
        assert len(cls.RETURN_TYPES) == len(cls.RETURN_NAMES) == len(cls.OUTPUT_TOOLTIPS)
        assert spec["hidden"] == {"unique_id": "UNIQUE_ID"}
        for group in ("required", "optional"):
            for name, (_type, *opts) in spec.get(group, {}).items():
                assert opts and opts[0].get("tooltip"), f"{cls.__name__}.{name} has no tooltip"


def test_assess_flags_nan_black_blurred_and_records_each_image(recorder: FakeRecorder, mixed: torch.Tensor) -> None:
    """Assess gives NaN/black/blurry flags to the right images, shows the score, and records 4 QualityEvents + 1 op."""
    out = NODE_CLASS_MAPPINGS["TowerQualityAssess"]().execute(mixed, "images", "float", 0.5, unique_id="7")
    images, score, passed, report = out["result"]
    assert images is mixed and passed is False
    rep = json.loads(report)
    flags = [img["flags"] for img in rep["images"]]
    assert "non_finite" in flags[0] and "black" in flags[1] and "blurry" in flags[2]
    assert not {"non_finite", "black", "blank", "blurry"} & set(flags[3])
    assert rep["images"][0]["score"] == 0 and rep["images"][3]["score"] > 0.5
    assert score == pytest.approx(np.mean([i["score"] for i in rep["images"]]), abs=1e-3)
    assert "score" in out["ui"]["text"][0]
    q = recorder.of(QualityEvent)
    assert [e.image_index for e in q] == [0, 1, 2, 3]
    assert {(e.prompt_id, e.node_id, e.correlation_id, e.instance_id) for e in q} == {("p-1", "7", "c-1", "i-1")}
    assert [e.passed for e in q] == [False, False, False, True]
    ops = recorder.of(OperationEvent)
    assert len(ops) == 1 and ops[0].operation_type == "quality_assessment" and ops[0].success is True
    assert ops[0].prompt_id == "p-1" and ops[0].node_id == "7" and ops[0].node_class == "TowerQualityAssess"


def test_assess_clip_mode_reports_temporal_metrics(recorder: FakeRecorder) -> None:
    """In clip mode the report carries the clip's SSIM, motion and frozen fraction."""
    frames = batch(*[np.roll(photo("astronaut", (128, 128)), 2 * i, axis=1) for i in range(4)])
    out = NODE_CLASS_MAPPINGS["TowerQualityAssess"]().execute(frames, "clip", "float", 0.5, unique_id="3")
    clip = json.loads(out["result"][3])["clip"]
    assert clip["frames"] == 4 and clip["motion_px"] > 1.0 and clip["mean_ssim"] < 0.99


def test_gate_fail_mode_raises_quality_error_with_failing_metrics(recorder: FakeRecorder, mixed: torch.Tensor) -> None:
    """fail: a QualityValidationError (category quality) names each failing image and metric; the op is recorded failed."""
    gate = NODE_CLASS_MAPPINGS["TowerQualityGate"]()
    with pytest.raises(QualityValidationError) as info:
        gate.execute(mixed, "standard", "fail", "float", unique_id="9")
    err = info.value
    assert err.category is ErrorCategory.QUALITY and err.validation_type == "quality_gate"
    assert "3 of 4 images" in err.message and "image 0" in err.message and "non_finite" in err.message
    assert set(err.context["failures"]) == {"0", "1", "2"}
    assert err.context["failures"]["2"]["quality_score"]["limit"] == 0.45
    assert err.correlation_id == "c-1"
    ops = recorder.of(OperationEvent)
    assert ops[-1].success is False and ops[-1].category == "quality"
    assert len(recorder.of(QualityEvent)) == 4


def test_gate_filter_drops_failing_images_and_fails_when_none_remain(
    recorder: FakeRecorder, mixed: torch.Tensor
) -> None:
    """filter: only the clean image comes out; a batch where every image fails raises instead of returning nothing."""
    gate = NODE_CLASS_MAPPINGS["TowerQualityGate"]()
    images, passed, report = gate.execute(mixed, "draft", "filter", "float", unique_id="9")["result"]
    assert images.shape[0] == 1 and torch.equal(images[0], mixed[3]) and passed is False
    with pytest.raises(QualityValidationError, match="all images"):
        gate.execute(mixed[:2], "draft", "filter", "float", unique_id="9")


def test_gate_warn_mode_passes_everything_and_custom_limits_apply(recorder: FakeRecorder, mixed: torch.Tensor) -> None:
    """warn: all images pass through with passed=False; custom limits (sharpness) fail an image the score alone lets by."""
    gate = NODE_CLASS_MAPPINGS["TowerQualityGate"]()
    images, passed, _ = gate.execute(mixed, "final", "warn", "exact", unique_id="9")["result"]
    assert images is mixed and passed is False
    clean = mixed[3:]
    assert gate.execute(clean, "custom", "fail", "float", min_score=0.1)["result"][1] is True
    with pytest.raises(QualityValidationError, match="laplacian_var"):
        gate.execute(clean, "custom", "fail", "float", min_score=0.1, min_sharpness=1e6)


def test_video_contract_passes_a_moving_clip_and_fails_a_frozen_one(recorder: FakeRecorder) -> None:
    """A panning colourful clip meets the contract; the same frame repeated fails 'changes' and 'moves' (and raises in fail)."""
    base = photo("astronaut", (256, 256))
    moving = batch(*[np.roll(base, 3 * i, axis=1) for i in range(5)])
    frozen = batch(*[base] * 5)
    node = NODE_CLASS_MAPPINGS["TowerVideoContract"]()
    args = ("float", 0.9, 100.0, 10.0, 0.01, 0.5, 0.5)
    out = node.execute(moving, "warn", *args)["result"]
    assert out[1] is True, out[2]
    out = node.execute(frozen, "warn", *args)["result"]
    checks = json.loads(out[2])["contract"]
    assert out[1] is False and not checks["changes"]["passed"] and not checks["moves"]["passed"]
    with pytest.raises(QualityValidationError, match="moves"):
        node.execute(frozen, "fail", *args)


def test_bad_input_becomes_a_node_error_naming_the_node(recorder: FakeRecorder) -> None:
    """A MASK wired into Assess raises ValueError prefixed with the node name, and a failed op is recorded."""
    with pytest.raises(ValueError, match="TowerQualityAssess: .*MASK"):
        NODE_CLASS_MAPPINGS["TowerQualityAssess"]().execute(torch.rand(1, 64, 64), "images", "float", 0.5)
    assert recorder.of(OperationEvent)[-1].success is False


def test_log_metric_records_custom_metric_and_passes_input_on(recorder: FakeRecorder) -> None:
    """LogMetric records operation_type custom_metric with {name, value, tags}, INT wins over FLOAT, input passes on."""
    node = NODE_CLASS_MAPPINGS["TowerLogMetric"]()
    sentinel = object()
    out = node.execute("steps", 1.5, "sampler=euler, shot = 12", int_value=30, passthrough=sentinel, unique_id="4")
    assert out["result"] == (sentinel, 30.0)
    op = recorder.of(OperationEvent)[-1]
    assert op.operation_type == "custom_metric" and op.prompt_id == "p-1" and op.node_id == "4"
    assert op.context == {"name": "steps", "value": 30, "tags": {"sampler": "euler", "shot": "12"}}
    node.execute("cfg", 7.0, '{"model": "x"}')
    assert recorder.of(OperationEvent)[-1].context["tags"] == {"model": "x"}
    with pytest.raises(ValueError, match="key=value"):
        node.execute("cfg", 7.0, "oops")
    with pytest.raises(ValueError, match="name"):
        node.execute(" ", 7.0, "")


def test_tensor_stats_finds_nan_in_a_latent(recorder: FakeRecorder) -> None:
    """TensorStats reports mean/std/min/max over finite values and the NaN count, records tensor_stats, passes inputs on."""
    samples = torch.randn(1, 4, 16, 16)
    samples[0, 0, 0, :3] = float("nan")
    latent = {"samples": samples}
    image = torch.full((1, 8, 8, 3), 0.25)
    out = NODE_CLASS_MAPPINGS["TowerTensorStats"]().execute("after_vae", image=image, latent=latent, unique_id="5")
    img, lat, mask, text = out["result"]
    assert img is image and lat is latent and mask is None
    stats = json.loads(text)
    finite = samples[torch.isfinite(samples)]
    assert stats["latent"]["nonfinite"] == 3 and stats["latent"]["nan"] == 3
    assert stats["latent"]["mean"] == pytest.approx(finite.mean().item(), rel=1e-5)
    assert stats["latent"]["std"] == pytest.approx(finite.std(unbiased=False).item(), rel=1e-5)
    assert stats["latent"]["min"] == pytest.approx(finite.min().item())
    assert stats["image"] == {**stats["image"], "mean": 0.25, "std": 0.0, "nonfinite": 0}
    op = recorder.of(OperationEvent)[-1]
    assert op.operation_type == "tensor_stats" and op.context["nonfinite"] == {"latent": 3}
    assert "NaN" in out["ui"]["text"][0]
    with pytest.raises(ValueError, match="connect"):
        NODE_CLASS_MAPPINGS["TowerTensorStats"]().execute("x")
