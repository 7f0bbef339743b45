"""The reliability glue without ComfyUI: configuration that only degrades, breaker events, ComfyUI's rejection read
back as what is missing, and the output file taken from recorded outputs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from tower_sentinel.reliability.errors import EchoBrainError
from tower_sentinel.server_routes._generate_core import output_file, read_rejection
from tower_sentinel.server_routes.reliability_plugin import Dependencies, loopback_base_url
from tower_sentinel.telemetry.config import load_settings


class _Server:
    loop = None

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def send_sync(self, event: str, data: dict) -> None:
        self.sent.append((event, data))


def _deps(tmp_path, env: dict[str, str]) -> Dependencies:
    settings = load_settings(user_dir=tmp_path, env=env)
    rt = SimpleNamespace(settings=settings, comfyui_version="x", reader=None, components={})
    deps = Dependencies(rt, _Server(), env=env)
    return deps


def test_malformed_url_degrades_and_unset_url_is_ok_not_configured(tmp_path):
    """A malformed ECHO_BRAIN_URL is a degraded check with the reason (not a silent "not configured"); an unset
    TOWER_KB_URL is ok with configured false."""
    deps = _deps(tmp_path, {"ECHO_BRAIN_URL": "htp:/nowhere"})
    try:
        echo = deps.dependency_check(deps.echo)
        kb = deps.dependency_check(deps.kb)
        assert echo["status"] == "degraded" and "ECHO_BRAIN_URL" in echo["config_error"]
        assert kb["status"] == "ok" and kb["configured"] is False
    finally:
        deps.store.close()


async def test_breaker_transitions_are_broadcast_and_shown_in_health(tmp_path):
    """Opening a breaker sends tower.breaker {name, state, from, retry_after, reason} and makes health degraded."""
    deps = _deps(tmp_path, {"ECHO_BRAIN_URL": "http://127.0.0.1:9", "TOWER_BREAKER_OPEN_WAIT_S": "30"})
    try:
        for _ in range(5):
            with pytest.raises(EchoBrainError):
                await deps.echo.breaker.call(_fail)
        event, data = deps.server.sent[-1]
        assert event == "tower.breaker"
        assert data["name"] == "echo_brain" and data["state"] == "open" and data["from"] == "closed"
        assert 20 < data["retry_after"] <= 36
        check = deps.dependency_check(deps.echo)
        assert check["status"] == "degraded" and check["state"] == "open"
    finally:
        deps.store.close()


async def _fail() -> None:
    raise EchoBrainError("down", status_code=503)


def test_missing_checkpoint_rejection_names_the_file():
    """ComfyUI's value_not_in_list on ckpt_name is a 422 missing_model naming the checkpoint and its node."""
    body = {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation"},
            "node_errors": {"4": {"class_type": "CheckpointLoaderSimple", "errors": [{
                "type": "value_not_in_list", "message": "Value not in list",
                "details": "ckpt_name: 'a.safetensors' not in []",
                "extra_info": {"input_name": "ckpt_name", "received_value": "a.safetensors"}}]}}}
    rej = read_rejection(body)
    assert (rej.status, rej.type) == (422, "missing_model")
    assert rej.missing == [{"kind": "checkpoint", "name": "a.safetensors", "node_id": "4",
                            "class_type": "CheckpointLoaderSimple", "input": "ckpt_name"}]
    assert "'a.safetensors'" in rej.message


def test_output_file_prefers_saved_over_preview_and_keeps_subfolder():
    """The answer's output_file is the first saved ("output") image, with its subfolder."""
    outputs = {"3": {"images": [{"filename": "p.png", "subfolder": "", "type": "temp"}]},
               "9": {"images": [{"filename": "t_00001_.png", "subfolder": "shots", "type": "output"}]}}
    path, files = output_file(outputs)
    assert path == "shots/t_00001_.png" and len(files) == 2
    assert output_file(None) == (None, [])


def test_loopback_url_follows_the_listen_address():
    """Queueing goes to 127.0.0.1 unless ComfyUI listens only on other addresses."""
    assert loopback_base_url("0.0.0.0", 8188) == "http://127.0.0.1:8188"
    assert loopback_base_url("10.0.0.5", 8190) == "http://10.0.0.5:8190"
    assert loopback_base_url("127.0.0.1,10.0.0.5", 8190, tls=True) == "https://127.0.0.1:8190"
