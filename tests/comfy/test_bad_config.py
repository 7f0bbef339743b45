"""Bad configuration never stops ComfyUI: one clear log line each, `degraded` health, prompts still run."""

from __future__ import annotations

from harness import ComfyServer, Graph


def test_malformed_echo_url_and_unreachable_database(tmp_path):
    """A malformed ECHO_BRAIN_URL and an unreachable database host give one log line each and degraded health."""
    server = ComfyServer(base_dir=tmp_path / "base", env={
        "ECHO_BRAIN_URL": "htp:/not a url",
        "TOWER_DB_HOST": "127.0.0.1", "TOWER_DB_PORT": "1", "TOWER_DB_NAME": "nope",
        "TOWER_DB_USER": "tower", "TOWER_DB_PASSWORD": "s3cret-pw",
    }).start()
    try:
        g = Graph()
        g.add("TowerTestSucceed", value=1)
        rec = server.run(g.prompt())
        assert rec["status"] == "success"
        health = server.get("/tower/health")
        assert health.status == 200
        body = health.json()
        assert body["status"] == "degraded"
        assert any("ECHO_BRAIN_URL" in e for e in body["checks"]["config"]["errors"])
        log = server.log_text()
        assert sum("ECHO_BRAIN_URL" in ln for ln in log.splitlines()) == 1
        assert "s3cret-pw" not in log and "s3cret-pw" not in health.body.decode()
        assert "Traceback" not in "\n".join(ln for ln in log.splitlines() if "tower" in ln.lower())
    finally:
        server.stop()
