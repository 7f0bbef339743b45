"""Real ComfyUI processes with PostgreSQL configured: many instances, one picture; a bad database never stops prompts.

Starts at most three ComfyUI processes at a time.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from harness import ComfyServer, Graph
from pgcluster import Cluster, wait_until

pytestmark = [pytest.mark.pg, pytest.mark.comfy]

DATA = Path(__file__).resolve().parent / "data"
SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seed"
SEED_QUERIES = ("seed_success_rate", "seed_common_errors", "seed_durations", "seed_grafana_success_rate")


def _start_all(servers: list[ComfyServer]) -> None:
    with ThreadPoolExecutor(len(servers)) as ex:
        for f in [ex.submit(s.start) for s in servers]:
            f.result()


def _stop_all(servers: list[ComfyServer]) -> None:
    for s in servers:
        s.stop()


def _succeed(v: int) -> dict:
    g = Graph()
    g.add("TowerTestSucceed", value=v)
    return g.prompt()


def _raise(v: int) -> dict:
    g = Graph()
    g.add("TowerTestRaise", message="studio failure", value=v)
    return g.prompt()


def _psql(dsn: str, name: str) -> list[dict[str, str]]:
    out = subprocess.run(["psql", "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(DATA / f"{name}.sql")],
                         check=True, capture_output=True, text=True, timeout=60)
    return list(csv.DictReader(io.StringIO(out.stdout)))


def _local(server: ComfyServer, text: str) -> list[tuple]:
    conn = sqlite3.connect(server.data_dir / "tower_sentinel.sqlite3")
    try:
        return conn.execute(text).fetchall()
    finally:
        conn.close()


def _health(server: ComfyServer) -> dict:
    r = server.get("/tower/health")
    assert r.status == 200, r.body
    return r.json()


def test_seed_queries_are_verbatim():
    """The test's SQL files are the seed's monitoring and Grafana queries, character for character."""
    seeds = list(SEED.glob("*.txt"))
    if not seeds:
        pytest.skip("seed not present in this checkout")
    text = seeds[0].read_text()
    for name in SEED_QUERIES:
        assert (DATA / f"{name}.sql").read_text().strip() in text


def test_three_instances_ship_into_one_database(pg_dsn):
    """Three ComfyUIs ship to one PostgreSQL; the seed's queries run verbatim with psql and count all three."""
    plan = {"box-a": (3, 0), "box-b": (2, 1), "box-c": (1, 2)}
    servers = [ComfyServer(env={"TOWER_DB_DSN": pg_dsn, "TOWER_INSTANCE_ID": name}) for name in plan]
    try:
        _start_all(servers)
        ids = []
        for server, (ok, bad) in zip(servers, plan.values()):
            for i in range(ok):
                ids.append((server, server.run(_succeed(i))))
            for i in range(bad):
                ids.append((server, server.run(_raise(i))))
        for server in servers:
            wait_until(lambda s=server: _health(s)["checks"]["spool"]["depth"] == 0
                       and _health(s)["checks"]["postgres"]["status"] == "ok", 60, what="spool shipped")
        # reads come from PostgreSQL: any instance answers for a prompt another instance ran
        server_a = servers[0]
        for _origin, rec in ids:
            other = server_a.get(f"/tower/generations/{rec['prompt_id']}")
            assert other.status == 200 and other.json()["status"] == rec["status"]

        rate = {r["operation_type"]: r for r in _psql(pg_dsn, "seed_success_rate")}
        assert int(rate["comfyui_execution"]["total_operations"]) == 9
        assert int(rate["comfyui_execution"]["successful_operations"]) == 6
        for op_type, row in rate.items():  # every total is the sum of the three instances' own records
            local = sum(_local(s, "SELECT COUNT(*) FROM anime_operation_metrics WHERE operation_type = "
                                  f"'{op_type}'")[0][0] for s in servers)
            assert int(row["total_operations"]) == local, op_type

        errors = _psql(pg_dsn, "seed_common_errors")
        local_errors: dict[tuple[str, str], int] = {}
        for s in servers:
            for cat, sev, n in _local(s, "SELECT category, severity, COUNT(*) FROM anime_error_logs GROUP BY 1, 2"):
                local_errors[(cat, sev)] = local_errors.get((cat, sev), 0) + n
        assert {(r["category"], r["severity"]): int(r["frequency"]) for r in errors} == local_errors
        assert sum(local_errors.values()) >= 3

        durations = {r["operation_type"]: r for r in _psql(pg_dsn, "seed_durations")}
        ex = durations["comfyui_execution"]
        assert float(ex["median_duration"]) <= float(ex["p95_duration"])
        grafana = _psql(pg_dsn, "seed_grafana_success_rate")
        buckets = [r for r in grafana if r["operation_type"] == "comfyui_execution"]
        assert buckets and all(0.0 <= float(r["success_rate"]) <= 1.0 for r in buckets)
        assert all(r["time"].endswith(":00:00") for r in grafana)  # hour buckets from time_bucket()

        instances = subprocess.run(["psql", "-X", "-q", "-t", "-A", "-d", pg_dsn, "-c",
                                    "SELECT string_agg(DISTINCT instance_id, ',' ORDER BY instance_id) "
                                    "FROM anime_operation_metrics WHERE operation_type = 'comfyui_execution'"],
                                   check=True, capture_output=True, text=True).stdout.strip()
        assert instances == "box-a,box-b,box-c"
    finally:
        _stop_all(servers)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_database_leaves_comfyui_serving_and_degraded(tmp_path):
    """Unreachable, wrong-password and read-only databases: prompts run, health is degraded with the reason,
    events wait in the spool, and the password appears nowhere."""
    secret = "s3cret-Pa55-never-shown"
    cluster = Cluster(password=secret)
    try:
        from tower_sentinel.telemetry.pg_store import PostgresStore

        cluster.sql("CREATE DATABASE ro")
        PostgresStore(cluster.dsn(dbname="ro")).migrate()
        cluster.sql("ALTER DATABASE ro SET default_transaction_read_only = on")
        envs = {
            "unreachable": {"TOWER_DB_HOST": "127.0.0.1", "TOWER_DB_PORT": str(_closed_port()),
                            "TOWER_DB_NAME": "tower", "TOWER_DB_USER": "tower", "TOWER_DB_PASSWORD": secret},
            "auth_failed": {"TOWER_DB_HOST": "127.0.0.1", "TOWER_DB_PORT": str(cluster.port),
                            "TOWER_DB_NAME": "postgres", "TOWER_DB_USER": "postgres",
                            "TOWER_DB_PASSWORD": secret + "-wrong"},
            "read_only": {"TOWER_DB_DSN": cluster.dsn(dbname="ro")},
        }
        servers = {reason: ComfyServer(env={**env, "TOWER_DB_CONNECT_TIMEOUT_S": "2"}) for reason, env in envs.items()}
        try:
            _start_all(list(servers.values()))
            for reason, server in servers.items():
                rec = server.run(_succeed(7))
                assert rec["status"] == "success", reason
                failed = server.run(_raise(1))
                assert failed["status"] == "error" and failed["error"]["message"], reason
                health = wait_until(lambda s=server: (h := _health(s))["checks"]["postgres"].get("reason")
                                    not in (None, "connecting") and h, 30, what=f"{reason} reported")
                assert health["status"] == "degraded", reason
                pg = health["checks"]["postgres"]
                assert pg["status"] == "degraded" and pg["reason"] == reason, (reason, pg)
                assert health["checks"]["spool"]["depth"] > 0, reason
                dumped = json.dumps(health)
                assert secret not in dumped, reason
                log_text = server.log_text() + "".join(
                    p.read_text(errors="replace") for p in server.data_dir.glob("*.jsonl"))
                assert secret not in log_text, reason
            # the read-only database got nothing
            assert cluster.sql("SELECT count(*) FROM anime_operation_metrics", dbname="ro") == [(0,)]
        finally:
            _stop_all(list(servers.values()))
    finally:
        cluster.destroy()
