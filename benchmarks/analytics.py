"""Analytics latency on a production-sized history (issue 5).

1,000,000 operation rows and 250,000 prompts over 30 days, 100,000 errors (40 patterns) over 30 days. Measures
p50/p95 over repeated calls of success-rate (24 h), durations (24 h) and failure-analysis (7 d) through the same
``Analytics`` the routes use, on SQLite and (when reachable) PostgreSQL, each against the seed's naive SQL run in
the same process on the same data. Targets: success-rate and durations p95 ≤ 100 ms, failure-analysis ≤ 300 ms.

    python benchmarks/analytics.py [--ops 1000000] [--errors 100000] [--runs 20] [--no-pg] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "tower_sentinel" not in sys.modules:
    pkg = types.ModuleType("tower_sentinel")
    pkg.__path__ = [str(ROOT)]
    sys.modules["tower_sentinel"] = pkg

from _report import write_section  # noqa: E402
from tower_sentinel.telemetry.analytics import Analytics  # noqa: E402
from tower_sentinel.telemetry.events import ErrorEvent, OperationEvent, PromptEvent  # noqa: E402
from tower_sentinel.telemetry.fingerprint import fingerprint  # noqa: E402
from tower_sentinel.telemetry.store import SQLiteStore  # noqa: E402

DAYS = 30
OP_TYPES = [("node_execution", 0.70), ("comfyui_execution", 0.10), ("comfyui_queue", 0.10),
            ("quality_assessment", 0.05), ("echo_brain_request", 0.03), ("kb_request", 0.02)]
NODES = ["CheckpointLoaderSimple", "CLIPTextEncode", "KSampler", "VAEDecode", "SaveImage", "EmptyLatentImage",
         "LoraLoader", "VAEDecodeTiled", "ControlNetApply", "UpscaleModelLoader", "ImageScale", "TowerQualityAssess"]
CATEGORIES = [("out_of_memory", "high", "OutOfMemoryError", "KSampler", "CUDA out of memory. Tried to allocate {n}.00 GiB"),
              ("model_missing", "high", "FileNotFoundError", "CheckpointLoaderSimple",
               "[Errno 2] No such file or directory: '/models/checkpoints/m{n}.safetensors'"),
              ("generation", "high", "RuntimeError", "VAEDecode", "shape mismatch in layer {n}"),
              ("network", "medium", "ClientConnectorError", "TowerEchoBrain", "Cannot connect to host 10.0.0.{n}:8309"),
              ("validation", "medium", "prompt_outputs_failed_validation", "KSampler", "Value {n} smaller than min of 1")]


def generate(now: datetime, n_ops: int, n_errors: int, n_prompts: int, seed: int = 5):
    """Events in batches (rows are built lazily to bound memory)."""
    rng = random.Random(seed)
    span = DAYS * 86400.0
    types_, weights = zip(*OP_TYPES, strict=True)
    patterns = []
    for c in CATEGORIES:
        for variant in range(8):
            cat, sev, exc, node, msg = c
            patterns.append((cat, sev, exc, f"{node}{'' if variant == 0 else variant}", msg))

    def at() -> datetime:
        return now - timedelta(seconds=rng.random() * span)

    batch = []
    for i in range(n_prompts):
        t = at()
        w = rng.choice([512, 768, 1024, 1536, 2048])
        batch.append(PromptEvent(f"p{i}", prompt_id=f"prompt{i}", status="error" if i < n_errors else "success", at=t,
                                 queued_at=t, started_at=t, finished_at=t, queue_wait_seconds=rng.random(),
                                 execution_seconds=rng.lognormvariate(1, 0.5), instance_id="bench:1",
                                 error_id=f"e{i}" if i < n_errors else None, comfyui_version="0.3.75",
                                 extension_version="0.1.0",
                                 inputs={"KSampler.width": w, "KSampler.height": w, "KSampler.steps": rng.choice([20, 30, 40]),
                                         "KSampler.cfg": rng.choice([6.0, 7.0, 8.0]), "KSampler.seed": rng.randrange(2**32),
                                         "KSampler.sampler_name": rng.choice(["euler", "dpmpp_2m"]),
                                         "CheckpointLoaderSimple.ckpt_name": rng.choice(["a.safetensors", "b.safetensors"]),
                                         "EmptyLatentImage.batch_size": rng.choice([1, 2, 4])}))
        if len(batch) >= 20_000:
            yield batch
            batch = []
    for i in range(n_errors):
        cat, sev, exc, node, msg = patterns[min(int(rng.expovariate(0.15)), len(patterns) - 1)]
        message = msg.format(n=rng.randrange(100))
        fp, tpl = fingerprint(cat, exc, node, message)
        batch.append(ErrorEvent(f"e{i}", message=message, category=cat, severity=sev, timestamp=at(),
                                prompt_id=f"prompt{i}", exception_type=exc, node_class=node, fingerprint=fp,
                                template=tpl, comfyui_version="0.3.75", extension_version="0.1.0"))
        if len(batch) >= 20_000:
            yield batch
            batch = []
    for i in range(n_ops):
        op = rng.choices(types_, weights)[0]
        ok = rng.random() > 0.07
        t = at()
        node = rng.choice(NODES) if op == "node_execution" else None
        batch.append(OperationEvent(f"o{i}", operation_type=op, start_time=t, duration_seconds=rng.lognormvariate(0, 1),
                                    success=ok, prompt_id=f"prompt{i % max(n_prompts, 1)}", instance_id="bench:1",
                                    node_class=node, cached=rng.random() < 0.1 if node else None,
                                    error_details=None if ok else {"error": f"failure {rng.randrange(50)}"},
                                    context={"queue_position": rng.randrange(5)}))
        if len(batch) >= 20_000:
            yield batch
            batch = []
    if batch:
        yield batch


def timed(fn, runs: int) -> tuple[float, float]:
    fn()  # warm caches
    xs = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
    xs.sort()
    return statistics.median(xs), xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def naive_sqlite_durations(store) -> None:
    by: dict[str, list[float]] = {}
    for r in store.query("seed_durations"):
        by.setdefault(r["operation_type"], []).append(r["duration_seconds"])
    for xs in by.values():
        xs.sort()
        statistics.quantiles(xs, n=20, method="inclusive")


def measure(store, dialect: str, runs: int) -> list[tuple[str, tuple, tuple]]:
    a = Analytics(store)
    rows = []
    rows.append(("success-rate 24h", timed(lambda: a.success_rate(86400), runs),
                 timed(lambda: store.query("seed_success_rate"), runs)))
    base = (lambda: naive_sqlite_durations(store)) if dialect == "sqlite" else (lambda: store.query("seed_durations"))
    rows.append(("durations 24h", timed(lambda: a.durations(86400), runs), timed(base, runs)))
    rows.append(("failure-analysis 7d", timed(lambda: a.failure_analysis(7 * 86400), runs),
                 timed(lambda: (store.query("seed_failure_analysis"), store.query("seed_error_categories")), runs)))
    return rows


def load_pg(batches_fn):
    import psycopg
    from tower_sentinel.telemetry.pg_store import PostgresStore

    base = os.environ.get("TOWER_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=test")
    params = psycopg.conninfo.conninfo_to_dict(base)
    name = "tower_bench_analytics"
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    params["dbname"] = name
    store = PostgresStore(psycopg.conninfo.make_conninfo(**params), statement_timeout=120)
    store.migrate()
    seq = 0
    for batch in batches_fn():
        recs = []
        for e in batch:
            recs.append((seq, e.event_id, e.kind, json.dumps(e.to_record(), default=str)))
            seq += 1
        store.apply_records(recs)
    store.query_text("VACUUM ANALYZE")  # what autovacuum does to a settled table: index-only scans can skip the heap
    return store, base, name


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=1_000_000)
    ap.add_argument("--errors", type=int, default=100_000)
    ap.add_argument("--prompts", type=int, default=250_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    now = datetime.now(timezone.utc)

    def batches():
        return generate(now, args.ops, args.errors, args.prompts)

    results = {}
    loads: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        lite = SQLiteStore(Path(d) / "bench.db")
        for batch in batches():
            lite.write_batch(batch)
        lite.query_text("ANALYZE")
        print(f"sqlite loaded in {time.perf_counter() - t0:.0f}s", flush=True)
        results["SQLite"] = measure(lite, "sqlite", args.runs)
        loads["SQLite"] = os.getloadavg()
        print(results["SQLite"], flush=True)
        lite.close()
    if not args.no_pg:
        try:
            t0 = time.perf_counter()
            pg, base, name = load_pg(batches)
            print(f"postgres loaded in {time.perf_counter() - t0:.0f}s", flush=True)
            results["PostgreSQL"] = measure(pg, "postgres", args.runs)
            loads["PostgreSQL"] = os.getloadavg()
            print(results["PostgreSQL"], flush=True)
            pg.close()
            import psycopg

            with psycopg.connect(base, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:  # noqa: BLE001 - report, do not hide
            print(f"PostgreSQL skipped: {exc!r}", flush=True)

    target = {"success-rate 24h": 100, "durations 24h": 100, "failure-analysis 7d": 300}
    lines = ["## Analytics (issue 5)", "",
             f"{args.ops:,} operation rows, {args.prompts:,} prompts and {args.errors:,} errors (40 patterns) over "
             f"{DAYS} days; {args.runs} calls each after one warm-up, through `Analytics` (what the routes run). "
             "Baseline: the seed's naive SQL on the same data in the same run (SQLite has no `PERCENTILE_CONT`, so "
             "its durations baseline fetches the rows and computes percentiles in Python; the failure-analysis "
             "baseline is the original's top-10 failed rows plus the most-common-errors query).", "",
             "| backend | call | ours p50 / p95 | target p95 | seed SQL p50 / p95 | ours / seed (p95) |",
             "|---|---|---|---|---|---|"]
    for backend, rows in results.items():
        for name, (p50, p95), (b50, b95) in rows:
            ok = "✅" if p95 <= target[name] else "❌"
            lines.append(f"| {backend} | {name} | {p50:.1f} / {p95:.1f} ms | ≤ {target[name]} ms {ok} | "
                         f"{b50:.1f} / {b95:.1f} ms | {p95 / b95:.2f}× |")
    load_text = "; ".join(f"{b} measured at load average {la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f} (1/5/15 min)"
                          for b, la in loads.items())
    lines += ["", f"Machine: {os.cpu_count()} cores shared with other engineers' test runs; {load_text}. Absolute "
              "times move with the load; the ratio to the seed's SQL measured in the same run is the steadier reading.",
              "", "How: durations read one covering index per table (SQLite: in (operation type, node class) order by "
              "skip-scan) and return each group's values as one text list; numpy sorts them and Python interpolates "
              "like `PERCENTILE_CONT` (no window functions or SQL sorts). Failure patterns group in (fingerprint, "
              "category) index order on SQLite (a covering time-first index on PostgreSQL) and read exception type, "
              "node class and template from one example row per reported pattern; the drivers' prompt sample is "
              "parsed once per prompt and its index reused while the sample is unchanged; input drivers score all "
              "thresholds of a feature in one numpy pass.", "",
              "Our failure analysis does far more than the baseline (fingerprint groups, trend, first-seen, "
              "version history, input drivers over ≤ 2,000 prompts, examples, quality and feedback).", "",
              "Command: `python benchmarks/analytics.py` (`--no-pg` without PostgreSQL; `--ops/--errors/--prompts` "
              "to scale)."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("analytics", text)


if __name__ == "__main__":
    main()
