"""Error classification, fingerprints, correlation ids and settings."""

from __future__ import annotations

import pytest
from tower_sentinel.reliability.errors import (
    DependencyUnavailable,
    ErrorCategory,
    QualityValidationError,
    classify_execution_error,
)
from tower_sentinel.telemetry.capture import correlation_from_headers, extract_inputs, sanitize_correlation_id
from tower_sentinel.telemetry.config import load_settings, mask_dsn
from tower_sentinel.telemetry.fingerprint import fingerprint, mask_message


@pytest.mark.parametrize("et,msg,cat", [
    ("OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB", "out_of_memory"),
    ("RuntimeError", "HIP out of memory. Tried to allocate 512 MiB", "out_of_memory"),
    ("FileNotFoundError", "No such file or directory: 'models/checkpoints/x.safetensors'", "model_missing"),
    ("RuntimeError", "Value not in list: ckpt_name: 'a.safetensors' not in []", "model_missing"),
    ("InterruptProcessingException", "", "interrupted"),
    ("TimeoutError", "read timed out", "timeout"),
    ("QualityValidationError", "score 0.2 below 0.45", "quality"),
    ("RuntimeError", "mat1 and mat2 shapes cannot be multiplied", "generation"),
])
def test_classifier(et, msg, cat):
    """Real ComfyUI failure texts map onto the right category."""
    assert classify_execution_error(et, msg, "KSampler").category.value == cat


def test_error_to_dict_and_subclasses():
    """The base error serialises its fields; subclasses carry their extra context."""
    e = QualityValidationError("bad", quality_score=0.2, correlation_id="c")
    d = e.to_dict()
    assert d["category"] == "quality" and d["context"]["quality_score"] == 0.2 and d["correlation_id"] == "c"
    assert len(d["error_id"]) == 32
    dep = DependencyUnavailable("echo_brain", retry_after=3.0)
    assert dep.category is ErrorCategory.DEPENDENCY and dep.retry_after == 3.0


def test_fingerprint_groups_variable_messages():
    """Messages differing only in numbers, paths, shapes and ids share a fingerprint; other errors do not."""
    a = fingerprint("out_of_memory", "OutOfMemoryError", "KSampler", "CUDA out of memory. Tried to allocate 2.00 GiB")
    b = fingerprint("out_of_memory", "OutOfMemoryError", "KSampler", "CUDA out of memory. Tried to allocate 512.50 MiB")
    c = fingerprint("out_of_memory", "OutOfMemoryError", "VAEDecode", "CUDA out of memory. Tried to allocate 2.00 GiB")
    assert a[0] == b[0] != c[0]
    t = mask_message("No such file: '/models/a/b.safetensors' shape [1, 4, 64, 64] id 0xdeadbeef")
    assert "64" not in t and "deadbeef" not in t and "b.safetensors" not in t


def test_correlation_ids():
    """Valid ids pass; hostile or oversized ones are refused; traceparent yields its trace id."""
    assert sanitize_correlation_id("abc-123") == "abc-123"
    assert sanitize_correlation_id("x" * 129) is None
    assert sanitize_correlation_id("<script>") is None
    # the full id must match: a trailing newline (which "$" lets through) or a non-ASCII digit is refused
    for bad in ("abc\n", "abc-123\n", "", "a b", "١٢٣", "x" * 127 + "\n", None, 123):
        assert sanitize_correlation_id(bad) is None, repr(bad)
    for good in ("3f2a9c1e-0b7d-4e2f-9a61-5d8c2b7e4f10", "A.b_c-9", "---", "x" * 128):
        assert sanitize_correlation_id(good) == good
    tid = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert correlation_from_headers({"traceparent": f"00-{tid}-00f067aa0ba902b7-01"}) == tid
    assert correlation_from_headers({"traceparent": "garbage"}) is None
    assert correlation_from_headers({"X-Request-ID": "r1", "X-Correlation-ID": "c1"}) == "c1"


def test_extract_inputs_skips_links_and_secrets():
    """Scalar inputs become Class.input features; links and secret-looking inputs are left out."""
    prompt = {"1": {"class_type": "KSampler", "inputs": {"steps": 40, "model": ["2", 0], "cfg": 7.5}},
              "2": {"class_type": "ApiNode", "inputs": {"api_key": "sk-1", "width": 1024}},
              "3": {"class_type": "KSampler", "inputs": {"steps": 20}}}
    feats, n = extract_inputs(prompt)
    assert n == 3
    assert feats == {"KSampler.steps": 40, "KSampler.cfg": 7.5, "ApiNode.width": 1024}


def test_settings_precedence_and_secrets(tmp_path):
    """Env beats the config file; a bad URL is an error, not an exception; the password never shows."""
    d = tmp_path / "tower_sentinel"
    d.mkdir()
    (d / "config.json").write_text('{"instance_id": "from-file", "metrics_retention_days": 7}')
    s = load_settings(user_dir=tmp_path, env={"TOWER_DB_HOST": "db", "TOWER_DB_PASSWORD": "hunter2",
                                              "ECHO_BRAIN_URL": "not a url", "TOWER_INSTANCE_ID": "env-id"})
    assert s.instance_id == "env-id" and s.metrics_retention_days == 7
    assert s.postgres_configured and "hunter2" in s.postgres_dsn()
    assert s.echo_brain_url is None and any("ECHO_BRAIN_URL" in e for e in s.errors)
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.public())
    assert mask_dsn("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert "pw" not in mask_dsn("host=h password='p w' user=u")


def test_commit_interval_setting_is_checked(tmp_path):
    """TOWER_COMMIT_INTERVAL_S: a number within 0-5 s is taken; anything else is a config error and the default."""
    default = load_settings(user_dir=tmp_path, env={}).commit_interval_s
    assert load_settings(user_dir=tmp_path, env={"TOWER_COMMIT_INTERVAL_S": "1.5"}).commit_interval_s == 1.5
    for bad in ("abc", "-1", "60"):
        s = load_settings(user_dir=tmp_path, env={"TOWER_COMMIT_INTERVAL_S": bad})
        assert s.commit_interval_s == default and any("commit_interval_s" in e for e in s.errors), bad


def test_commit_max_delay_setting_is_checked(tmp_path):
    """TOWER_COMMIT_MAX_DELAY_S: a number within 0-30 s is taken; anything else is a config error and the default."""
    default = load_settings(user_dir=tmp_path, env={}).commit_max_delay_s
    assert default == 2.0
    assert load_settings(user_dir=tmp_path, env={"TOWER_COMMIT_MAX_DELAY_S": "0"}).commit_max_delay_s == 0.0
    for bad in ("soon", "-0.5", "31"):
        s = load_settings(user_dir=tmp_path, env={"TOWER_COMMIT_MAX_DELAY_S": bad})
        assert s.commit_max_delay_s == default and any("commit_max_delay_s" in e for e in s.errors), bad
