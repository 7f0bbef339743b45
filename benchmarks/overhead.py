"""Overhead on a real ComfyUI (issue 3): trivial prompts through servers with Tower Sentinel vs bare ones.

Two bare servers and two with the extension run side by side from the same runtime (a single pair differs by a few
percent from process to process alone: which core, memory layout). Batches of 25 prompts rotate over the four
servers so machine noise hits all alike; each server gets ROUNDS x 500 prompts. Throughput = prompts / wall time
from the first POST of a batch to the last prompt's history entry. Reported: the ratio with/without the extension
over all batches, and the two bare servers against each other (an A/A ratio: the noise floor of the method).
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _report import write_section  # noqa: E402
from harness import ComfyServer, Graph  # noqa: E402

PROMPTS = 500
ROUNDS = 4
BATCH = 25


def trivial(i: int) -> dict:
    g = Graph()
    g.add("TowerTestSucceed", value=i)
    return g.prompt()


class Client:
    """One keep-alive HTTP connection per server, as a studio tool's session would hold (urllib's connection per
    request cost the client more CPU than the server spent on a trivial prompt, on the same two cores)."""

    def __init__(self, server: ComfyServer) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        resp = self.conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {payload[:300]!r}")
        return json.loads(payload)


def run_batch(client: Client, start: int) -> float:
    t0 = time.perf_counter()
    ids = [client.call("POST", "/prompt", {"prompt": trivial(start + i)})["prompt_id"] for i in range(BATCH)]
    last = ids[-1]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if client.call("GET", f"/history/{last}"):
            break
        time.sleep(0.002)
    return time.perf_counter() - t0


def main() -> None:
    servers = {"bare-1": ComfyServer(with_extension=False), "ours-1": ComfyServer(),
               "bare-2": ComfyServer(with_extension=False), "ours-2": ComfyServer()}
    for s in servers.values():
        s.start()
    clients = {name: Client(s) for name, s in servers.items()}
    t = dict.fromkeys(servers, 0.0)
    per_round: list[float] = []
    try:
        for c in clients.values():  # warm-up
            for k in range(4):
                run_batch(c, 10_000_000 + k * BATCH)
        order = list(servers)
        for r in range(ROUNDS):
            rt = dict.fromkeys(servers, 0.0)
            for b, i in enumerate(range(0, PROMPTS, BATCH)):
                rot = order[b % 4:] + order[:b % 4]  # who goes first changes every batch
                for name in rot:
                    rt[name] += run_batch(clients[name], r * PROMPTS + i)
            for name in servers:
                t[name] += rt[name]
            per_round.append((rt["bare-1"] + rt["bare-2"]) / (rt["ours-1"] + rt["ours-2"]))
    finally:
        for s in servers.values():
            s.stop()
    n = PROMPTS * ROUNDS
    tp = {name: n / t[name] for name in servers}
    bare, ours = (t["bare-1"] + t["bare-2"]) / 2, (t["ours-1"] + t["ours-2"]) / 2
    ratio = bare / ours
    aa = t["bare-1"] / t["bare-2"] if t["bare-1"] > t["bare-2"] else t["bare-2"] / t["bare-1"]
    rows = "\n".join(f"| {name} | {t[name]:.2f} s | {tp[name]:.1f} prompts/s |" for name in servers)
    body = f"""## Overhead on a real ComfyUI (issue 3)

| server | {n} trivial prompts ({ROUNDS} x {PROMPTS}) | throughput |
|---|---|---|
{rows}

Throughput ratio with/without Tower Sentinel: **{ratio:.3f}** (target ≥ 0.97); per round of {PROMPTS} prompts
each: {", ".join(f"{x:.3f}" for x in per_round)} (median {statistics.median(per_round):.3f}). The two bare servers
against each other (the method's noise floor): {1 / aa:.3f}. Batches of {BATCH} rotate over the four servers; the client
keeps one HTTP connection per server. Command: `python benchmarks/overhead.py`."""
    print(body)
    write_section("overhead", body)


if __name__ == "__main__":
    main()
