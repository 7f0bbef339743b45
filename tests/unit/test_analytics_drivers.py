"""Failure drivers and suggested actions: pure functions over prompt samples and messages."""

from __future__ import annotations

import random

from tower_sentinel.telemetry.actions import missing_model_path, suggest_action
from tower_sentinel.telemetry.drivers import DriverIndex, PromptSample, find_drivers
from tower_sentinel.telemetry.fingerprint import fingerprint


def test_pixel_count_driver_when_neither_side_alone_decides():
    """Wide-short and narrow-tall images fail only when width × height crosses the budget: the derived input wins."""
    rng = random.Random(1)
    samples = []
    for _ in range(200):
        w, h = rng.choice([512, 1024, 2048, 3072]), rng.choice([512, 1024, 2048, 3072])
        fails = w * h >= 1536 * 1536
        samples.append(PromptSample({"KSampler.width": w, "KSampler.height": h, "KSampler.steps": 20},
                                    "oom" if fails else None))
    top = find_drivers(samples, "oom")[0]
    assert top["input"] == "KSampler.width×height" and top["kind"] == "derived"
    assert top["threshold"] == 1024 * 3072 and top["matched"]["rate"] == 1.0  # the smallest failing product
    assert top["unmatched"]["rate"] == 0.0 and top["condition"].startswith("KSampler.width × height ≥")


def test_steps_threshold_and_categorical_driver():
    """A numeric threshold on steps and a string value both come out with their rates on each side."""
    samples = [PromptSample({"KSampler.steps": s, "KSampler.sampler_name": n}, fp)
               for s, n, fp in [(20, "euler", None)] * 30 + [(60, "euler", "slow")] * 8 + [(60, "euler", None)] * 2
               + [(20, "dpmpp_sde", "nan")] * 6 + [(20, "dpmpp_sde", None)] * 1]
    steps = find_drivers(samples, "slow")[0]
    assert (steps["input"], steps["op"], steps["threshold"]) == ("KSampler.steps", ">=", 60)
    assert steps["matched"] == {"prompts": 10, "failures": 8, "rate": 0.8}
    assert steps["unmatched"]["rate"] == 0.0
    name = find_drivers(samples, "nan")[0]
    assert (name["input"], name["op"], name["threshold"]) == ("KSampler.sampler_name", "==", "dpmpp_sde")
    assert name["condition"] == "KSampler.sampler_name = 'dpmpp_sde'"


def test_random_failures_have_no_driver():
    """Failures independent of the inputs (and seeds, which are random by design) yield no driver."""
    rng = random.Random(3)
    samples = [PromptSample({"KSampler.seed": rng.randrange(2**32), "KSampler.cfg": rng.choice([6.0, 7.0, 8.0]),
                             "KSampler.steps": rng.choice([20, 25, 30])}, "flaky" if rng.random() < 0.1 else None)
               for _ in range(500)]
    drivers = DriverIndex(samples).drivers("flaky")
    assert all(d["input"] != "KSampler.seed" for d in drivers)
    assert all(d["matched"]["rate"] - d["unmatched"]["rate"] < 0.35 for d in drivers)


def test_unknown_pattern_and_empty_sample():
    assert find_drivers([], "x") == []
    assert find_drivers([PromptSample({"A.b": 1}, None)], "x") == []


def test_missing_model_paths_from_messages():
    """The searched path and model folder come from ComfyUI's messages, quoted or in validation errors."""
    assert missing_model_path("[Errno 2] No such file or directory: '/srv/ComfyUI/models/loras/x.safetensors'") == (
        "/srv/ComfyUI/models/loras/x.safetensors", "loras")
    assert missing_model_path("Value not in list: ckpt_name: 'epicrealism_v5.safetensors' not in ['a.ckpt']") == (
        "epicrealism_v5.safetensors", "checkpoints")
    assert missing_model_path("Could not find C:\\ComfyUI\\models\\vae\\v.pt") == ("C:\\ComfyUI\\models\\vae\\v.pt", "vae")
    assert missing_model_path(None) == (None, None)


def test_suggested_actions_per_category():
    """Each category gets its own action; out-of-memory names the size driver."""
    driver = {"input": "KSampler.width", "condition": "KSampler.width ≥ 1536", "matched": {"rate": 1.0},
              "unmatched": {"rate": 0.0}}
    oom = suggest_action({"category": "out_of_memory", "drivers": [driver]})
    assert "resolution" in oom["summary"] and "KSampler.width ≥ 1536" in oom["details"][0]
    assert any("VAEDecodeTiled" in d for d in oom["details"])
    assert "interrupted" in suggest_action({"category": "interrupted"})["summary"]
    assert suggest_action({"category": "weird"})["summary"] == suggest_action({"category": "system"})["summary"]


def test_fingerprint_groups_variable_messages():
    """Messages differing only in numbers, sizes and paths share a fingerprint; other nodes do not."""
    a = fingerprint("out_of_memory", "OutOfMemoryError", "KSampler", "CUDA out of memory. Tried to allocate 2.00 GiB")
    b = fingerprint("out_of_memory", "OutOfMemoryError", "KSampler", "CUDA out of memory. Tried to allocate 512.50 GiB")
    c = fingerprint("out_of_memory", "OutOfMemoryError", "VAEDecode", "CUDA out of memory. Tried to allocate 2.00 GiB")
    assert a == b and a != c
