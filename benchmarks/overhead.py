"""Overhead on a real ComfyUI (issue 3): trivial prompts through servers with Tower Sentinel vs bare ones.

Two bare servers and two with the extension run from the same runtime, started afresh SESSIONS times (a single
pair of processes differs by a few percent alone: which core, memory layout). They take turns, one at a time, in an
order that rotates every round, so machine noise hits all alike; each turn is a burst of 500 prompts posted back to back over one keep-alive
connection. Throughput = prompts / wall time from the first POST to the last prompt's history entry. Each round
gives one ratio (both bare bursts over both instrumented ones, a few seconds apart); the figure is the median over
the rounds, since a shared VM's stalls and ComfyUI's own full garbage collections (a third of a second each) land on
single bursts at random; the ratio of all bursts' totals is printed too. ComfyUI's worker runs a full collection
every 10 s while prompts run (0.3-0.45 s with torch loaded); to keep those off random bursts, before each burst every
server (bare or not) is made to run it then, as ``POST /free`` would (``benchmarks/gcprobe``, a benchmark-only node
package loaded into all four, not timed). The collections the servers make during the bursts, and their time, are
reported per server, so what the extension changes about garbage collection stays in view. Before the next
server's turn, an instrumented server's last prompt must be *recorded* (``GET /tower/generations/{id}`` answers its
outcome), so work our writer does after a burst is never timed in another server's turn; how long after the burst
that took is reported. Reported: the ratio with/without the extension over all bursts, and the two bare servers
against each other (an A/A ratio: the noise floor of the method). A second part streams SUSTAINED prompts to each
server without a pause, longer than the writer may wait for ComfyUI to go quiet, so the writer's work falls inside
the timed window: the steady-state cost under a flood of no-op prompts. A third part repeats the bursts with each
server's threads on one core and the client on the other (fresh servers again): the server's wall time is then its
CPU time, the client's CPU no longer competes with it, and per-thread CPU inside the bursts shows where the cost is.
A fourth part switches the extension's hooks off and on inside the same server processes (``POST /bench/hooks`` of
the benchmark-only node package), bursts in ABBA order: on a shared VM two processes of the same code differ by
several percent, which comparing a process with itself cancels; it measures what the hooks cost each prompt.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _report import write_section  # noqa: E402
from harness import TESTING_NODES, ComfyServer, Graph  # noqa: E402

GCPROBE = Path(__file__).resolve().parent / "gcprobe"

PROMPTS = 500
ROUNDS = 16
SESSIONS = 4  # the four servers are started afresh this many times; ROUNDS are split among them
SUSTAINED = 4000
PINNED_SESSIONS = 3
PINNED_ROUNDS = 4
TOGGLE_SESSIONS = 2
TOGGLE_CYCLES = 12
CALLGRIND_PROMPTS = 100  # per burst under valgrind (about 60 times slower)
CALLGRIND_CYCLES = 2
TOGGLE_ONLY = None  # every hook (an experiment may name some: "post_prompt", "put", "get", "task_done", ...)
FINAL = ("success", "error", "interrupted")


def trivial(i: int) -> dict:
    g = Graph()
    g.add("TowerTestSucceed", value=i)
    return g.prompt()


class Client:
    """One keep-alive HTTP connection per server, as a studio tool's session would hold (urllib's connection per
    request cost the client more CPU than the server spent on a trivial prompt, on the same two cores)."""

    def __init__(self, server: ComfyServer) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.last: str | None = None  # the last prompt posted

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        resp = self.conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {payload[:300]!r}")
        return json.loads(payload)


    def status(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        return resp.status, resp.read()


def run_burst(client: Client, start: int, n: int, recorded: bool, level: bool = False) -> tuple[float, float | None]:
    """(seconds from the first POST to the last prompt in /history, seconds more until it was recorded). ``level``:
    a full garbage collection in the server first (not timed)."""
    if level:
        if not client.call("POST", "/bench/gc/level", {})["levelled"]:
            raise RuntimeError("the prompt worker did not run its garbage collection")
    t0 = time.perf_counter()
    ids = [client.call("POST", "/prompt", {"prompt": trivial(start + i)})["prompt_id"] for i in range(n)]
    last = ids[-1] if ids else client.last
    client.last = last
    deadline = time.monotonic() + 300
    while not client.call("GET", f"/history/{last}"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"prompt {last} did not finish")
        time.sleep(0.002)
    done = time.perf_counter()
    if not recorded:
        return done - t0, None
    while True:
        code, body = client.status(f"/tower/generations/{last}")
        if code == 200 and json.loads(body).get("status") in FINAL:
            return done - t0, time.perf_counter() - done
        if time.monotonic() > deadline:
            raise TimeoutError(f"prompt {last} was not recorded (HTTP {code})")
        time.sleep(0.005)


def _thread_cpu(pid: int) -> dict[int, int]:
    """CPU nanoseconds each thread of a process has run (``/proc/<pid>/task/*/schedstat``)."""
    out: dict[int, int] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return out


def _pin(pid: int, cpu: int) -> None:
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except OSError:
            pass


def pinned_part() -> tuple[str, list[float]]:
    """The same bursts with each server's threads on one core and this client on the other: the server's wall time
    is then its CPU time, the client no longer competes with it for a core, and per-thread CPU inside the bursts
    tells where the cost is (the event loop, the prompt worker, our writer)."""
    names = ("bare-1", "ours-1", "bare-2", "ours-2")
    ours = {name: name.startswith("ours") for name in names}
    own = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    wall = {n: 0.0 for n in names}
    cpu = {n: [0.0, 0.0, 0.0] for n in names}  # event loop, prompt worker, other threads
    per_round: list[float] = []
    try:
        for session in range(PINNED_SESSIONS):
            servers = {name: ComfyServer(with_extension=ours[name], extra_nodes=(GCPROBE, TESTING_NODES))
                       for name in names}
            try:
                _start(servers)
                for s in servers.values():
                    _pin(s.proc.pid, 1)
                clients = {name: Client(s) for name, s in servers.items()}
                for name, c in clients.items():
                    run_burst(c, 10_000_000, 100, ours[name])
                for k in range(PINNED_ROUNDS):
                    r = session * PINNED_ROUNDS + k
                    rt = dict.fromkeys(names, 0.0)
                    for name in names[r % 4:] + names[:r % 4]:
                        pid = servers[name].proc.pid
                        clients[name].call("POST", "/bench/gc/level", {})
                        a = _thread_cpu(pid)
                        w, _ = run_burst(clients[name], 30_000_000 + r * PROMPTS, PROMPTS, False)
                        b = _thread_cpu(pid)
                        if ours[name]:  # recorded before the next turn (not timed)
                            run_burst(clients[name], 0, 0, True)
                        d = {t: b[t] - a.get(t, 0) for t in b}
                        main = d.pop(pid, 0)
                        worker = max(d.values(), default=0)
                        cpu[name][0] += main
                        cpu[name][1] += worker
                        cpu[name][2] += sum(d.values()) - worker
                        rt[name] = w
                        wall[name] += w
                    per_round.append((rt["bare-1"] + rt["bare-2"]) / (rt["ours-1"] + rt["ours-2"]))
            finally:
                for s in servers.values():
                    s.stop()
    finally:
        os.sched_setaffinity(0, own)
    n = PROMPTS * PINNED_ROUNDS * PINNED_SESSIONS
    us = {name: [x / n / 1000 for x in cpu[name]] for name in names}
    rows = "\n".join(f"| {name} | {wall[name] / n * 1e6:.0f} µs | {us[name][0]:.1f} µs | {us[name][1]:.1f} µs | "
                     f"{us[name][2]:.1f} µs |" for name in names)
    bare = [sum(us[x][i] for x in ("bare-1", "bare-2")) / 2 for i in range(3)]
    mine = [sum(us[x][i] for x in ("ours-1", "ours-2")) / 2 for i in range(3)]
    ratio = (wall["bare-1"] + wall["bare-2"]) / (wall["ours-1"] + wall["ours-2"])
    body = f"""### One core per server (the client on the other)

| server | wall time per prompt | CPU per prompt: event loop | prompt worker | other threads (our writer) |
|---|---|---|---|---|
{rows}

Throughput ratio with/without Tower Sentinel, each server on one core: **{statistics.median(per_round):.3f}** (median
of {len(per_round)} rounds; all bursts' totals {ratio:.3f}; {PINNED_SESSIONS} fresh sets of servers, {PINNED_ROUNDS}
rounds each). What the extension adds per trivial prompt inside the bursts: event loop {mine[0] - bare[0]:+.1f} µs,
prompt worker {mine[1] - bare[1]:+.1f} µs, other threads {mine[2] - bare[2]:+.1f} µs (of {sum(bare):.0f} µs bare). Our
writer's work comes after each burst (not timed here; the sustained flood above times it)."""
    return body, per_round


def toggle_part() -> tuple[str, list[float]]:
    """Tower Sentinel's hooks on and off inside the same processes (``POST /bench/hooks``), bursts in ABBA order,
    each server on one core and the client on the other: two processes of the same code differ by several percent
    on a shared VM, which this cancels; what it measures is what the hooks cost each prompt (the extension stays
    loaded, its writer idle while they are off)."""
    names = ("ours-1", "ours-2")
    own = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    wall = {True: 0.0, False: 0.0}
    cpu = {True: [0.0, 0.0], False: [0.0, 0.0]}  # event loop, prompt worker
    per_cycle: list[float] = []
    bursts = 0
    try:
        for session in range(TOGGLE_SESSIONS):
            servers = {name: ComfyServer(with_extension=True, extra_nodes=(GCPROBE, TESTING_NODES)) for name in names}
            try:
                _start(servers)
                for s in servers.values():
                    _pin(s.proc.pid, 1)
                clients = {name: Client(s) for name, s in servers.items()}
                for c in clients.values():
                    run_burst(c, 10_000_000, 100, True)
                for k in range(TOGGLE_CYCLES):
                    for name in (names if k % 2 == 0 else names[::-1]):
                        c, pid = clients[name], servers[name].proc.pid
                        w_cycle = {True: 0.0, False: 0.0}
                        for on in ((True, False, False, True) if k % 2 == 0 else (False, True, True, False)):
                            c.call("POST", "/bench/hooks", {"on": on, "only": TOGGLE_ONLY})
                            c.call("POST", "/bench/gc/level", {})
                            a = _thread_cpu(pid)
                            w, _ = run_burst(c, 40_000_000 + bursts * PROMPTS, PROMPTS, False)
                            b = _thread_cpu(pid)
                            bursts += 1
                            if on:  # recorded before the next burst (not timed)
                                run_burst(c, 0, 0, True)
                            d = {t: b[t] - a.get(t, 0) for t in b}
                            cpu[on][0] += d.pop(pid, 0)
                            cpu[on][1] += max(d.values(), default=0)
                            w_cycle[on] += w
                            wall[on] += w
                        per_cycle.append(w_cycle[False] / w_cycle[True])
                    c.call("POST", "/bench/hooks", {"on": True})
            finally:
                for s in servers.values():
                    s.stop()
    finally:
        os.sched_setaffinity(0, own)
    n = bursts // 2 * PROMPTS  # prompts each way
    us = {on: [x / n / 1000 for x in cpu[on]] for on in (True, False)}
    body = f"""### Hooks on and off in the same processes (one core per server)

| Tower Sentinel's hooks | wall time per prompt | CPU per prompt: event loop | prompt worker |
|---|---|---|---|
| on | {wall[True] / n * 1e6:.0f} µs | {us[True][0]:.1f} µs | {us[True][1]:.1f} µs |
| off (ComfyUI's own methods put back) | {wall[False] / n * 1e6:.0f} µs | {us[False][0]:.1f} µs | {us[False][1]:.1f} µs |

Throughput ratio hooks on/off: **{statistics.median(per_cycle):.3f}** (median of {len(per_cycle)} ABBA cycles of four
bursts of {PROMPTS}; all bursts' totals {wall[False] / wall[True]:.3f}; {TOGGLE_SESSIONS} fresh pairs of servers).
What the hooks add per trivial prompt: event loop {us[True][0] - us[False][0]:+.1f} µs, prompt worker
{us[True][1] - us[False][1]:+.1f} µs. Same processes both ways, so what differs is only the hooks: the extension's
import-time cost (memory, its idle threads) is in the comparisons with bare servers above."""
    return body, per_cycle


def callgrind_part() -> tuple[str, float | None]:
    """Instructions per prompt with the hooks on and off, counted by valgrind's callgrind in one server process (the
    hooks switched as in the fourth part, ABBA order): a count does not depend on what else the machine does, so it
    shows what the timed parts cannot resolve on a shared VM (what remains of run-to-run differences comes from the
    process itself: random prompt ids, clock readings, when a garbage collection falls). Only the bursts are counted (``callgrind_control``
    switches counting on and off around each), per thread; the writer is held back until a burst is over
    (``POST /bench/writer``), so its work is neither counted nor mixed into the bursts. Time is not instructions:
    code that runs once per prompt, after ComfyUI's own work has pushed it out of the CPU's caches, costs more time
    per instruction than ComfyUI's own hot loops, so the timed parts' figure is the one the target is about."""
    import glob
    import re
    import shutil
    import subprocess
    import tempfile

    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        return "### Instructions per prompt (callgrind)\n\nNot measured: valgrind is not installed.", None
    out = tempfile.mkdtemp(prefix="tower-callgrind-")
    prefix = ("valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
              f"--callgrind-out-file={out}/cg.%p")
    # a fixed hash seed: dict layouts (and so the instructions of every lookup) are then the same from run to run
    server = ComfyServer(with_extension=True, extra_nodes=(GCPROBE, TESTING_NODES), prefix=prefix,
                         env={"PYTHONHASHSEED": "0"})
    counts: dict[bool, dict[int, list[int]]] = {True: {}, False: {}}  # per thread, one total per burst
    try:
        server.start(timeout=1500)
        pid = server.proc.pid
        c = Client(server)
        c.conn.timeout = 600
        c.call("POST", "/bench/writer", {"quiet_s": 3.0, "max_delay_s": 600.0})
        done = [0]

        def burst(start: int, n: int) -> None:
            for i in range(n):
                c.last = c.call("POST", "/prompt", {"prompt": trivial(start + i)})["prompt_id"]
            done[0] += n
            deadline = time.monotonic() + 900
            while server.log_text().count("Prompt executed") < done[0]:  # no request to the server meanwhile
                if time.monotonic() > deadline:
                    raise TimeoutError("the burst did not finish under valgrind")
                time.sleep(0.2)

        def control(*args: str) -> None:
            subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=120)

        burst(10_000_000, CALLGRIND_PROMPTS)  # warm-up
        run_burst(c, 0, 0, True)
        k = 0
        for cycle in range(CALLGRIND_CYCLES):
            for on in ((True, False, False, True) if cycle % 2 == 0 else (False, True, True, False)):
                c.call("POST", "/bench/hooks", {"on": on})
                c.call("POST", "/bench/gc/level", {})
                control("-z")
                control("-i", "on")
                burst(50_000_000 + k * CALLGRIND_PROMPTS, CALLGRIND_PROMPTS)
                control("-i", "off")
                control("-d", f"burst-{k}")
                c.call("POST", "/bench/hooks", {"on": True})
                if on:
                    run_burst(c, 0, 0, True)  # recorded (not counted)
                for f in glob.glob(f"{out}/cg.{pid}.*"):
                    text = Path(f).read_text(errors="replace")
                    if f"Trigger: dump burst-{k}\n" not in text:
                        continue
                    thread = int(re.search(r"^thread: (\d+)", text, re.M).group(1))
                    total = int(re.search(r"^totals: (\d+)", text, re.M).group(1))
                    counts[on].setdefault(thread, []).append(total)
                k += 1
    finally:
        server.stop()
        shutil.rmtree(out, ignore_errors=True)
    n = CALLGRIND_PROMPTS * 2 * CALLGRIND_CYCLES  # prompts each way
    # thread 1 is ComfyUI's main thread (the event loop); the prompt worker is the busiest other thread with the
    # hooks off (the writer and our other threads do almost nothing then)
    worker = max((t for t in counts[False] if t != 1), key=lambda t: sum(counts[False][t]))

    def per_prompt(on: bool, thread: int) -> float:
        """The median burst's count per prompt: now and then a burst's event loop does a few million instructions
        of something else (hooks on or off alike), which a median keeps out."""
        return statistics.median(counts[on].get(thread, [0])) / CALLGRIND_PROMPTS

    rows = []
    for name, t in (("event loop", 1), ("prompt worker", worker)):
        off, on = per_prompt(False, t), per_prompt(True, t)
        bursts = " / ".join(", ".join(f"{x / CALLGRIND_PROMPTS / 1000:.0f}k" for x in counts[arm].get(t, []))
                            for arm in (True, False))
        rows.append(f"| {name} | {off:,.0f} | {on:,.0f} | {on - off:+,.0f} ({(on - off) / off:+.1%}) | {bursts} |")
    both_off = per_prompt(False, 1) + per_prompt(False, worker)
    both_on = per_prompt(True, 1) + per_prompt(True, worker)
    ratio = both_off / both_on
    body = f"""### Instructions per prompt (callgrind, one server process)

| thread | hooks off: instructions per prompt (median burst) | hooks on | added | each burst, on / off |
|---|---|---|---|---|
{chr(10).join(rows)}

Instructions on ComfyUI's two threads, hooks off/on: **{ratio:.3f}** ({n} prompts each way, medians of the bursts, {CALLGRIND_CYCLES} ABBA
cycles of bursts of {CALLGRIND_PROMPTS}, counted by valgrind's callgrind: a count does not depend on what else the
machine does; what varies between runs comes from the process itself, a few thousand instructions per prompt). Our writer's work comes after the bursts and is not counted here. Time is not instructions: code that runs
once per prompt, after ComfyUI's own work has pushed it out of the CPU's caches, takes more time per instruction than
ComfyUI's own loops, which is why the timed parts above read a larger share."""
    return body, ratio


def _start(servers: dict[str, ComfyServer]) -> None:
    """Start the servers side by side (each takes seconds to import torch)."""
    errors: list[BaseException] = []

    def go(s: ComfyServer) -> None:
        try:
            s.start()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(s,)) for s in servers.values()]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]


def main() -> None:
    nodes = (GCPROBE, TESTING_NODES)
    names = ("bare-1", "ours-1", "bare-2", "ours-2")
    ours = {name: name.startswith("ours") for name in names}
    t = dict.fromkeys(names, 0.0)
    sustained = dict.fromkeys(names, 0.0)
    per_round: list[float] = []
    aa_round: list[float] = []
    lag: list[float] = []
    gc_n = {name: [0, 0, 0] for name in names}
    gc_s = {name: [0.0, 0.0, 0.0] for name in names}
    for session in range(SESSIONS):  # fresh processes each time: a pair of processes differs by a few % alone
        servers = {name: ComfyServer(with_extension=ours[name], extra_nodes=nodes) for name in names}
        try:
            _start(servers)
            clients = {name: Client(s) for name, s in servers.items()}
            for name, c in clients.items():  # warm-up
                run_burst(c, 10_000_000, 100, ours[name])
            gc0 = {name: c.call("GET", "/bench/gc") for name, c in clients.items()}
            for k in range(ROUNDS // SESSIONS):
                r = session * (ROUNDS // SESSIONS) + k
                rt = dict.fromkeys(names, 0.0)
                for name in names[r % 4:] + names[:r % 4]:  # who goes first changes every round
                    wall, rec = run_burst(clients[name], r * PROMPTS, PROMPTS, ours[name], level=True)
                    rt[name] = wall
                    if rec is not None:
                        lag.append(rec)
                for name in names:
                    t[name] += rt[name]
                per_round.append((rt["bare-1"] + rt["bare-2"]) / (rt["ours-1"] + rt["ours-2"]))
                aa_round.append(rt["bare-2"] / rt["bare-1"])
            gc1 = {name: c.call("GET", "/bench/gc") for name, c in clients.items()}
            for name in names:
                for g in range(3):
                    gc_n[name][g] += gc1[name]["collections"][g] - gc0[name]["collections"][g]
                    gc_s[name][g] += gc1[name]["seconds"][g] - gc0[name]["seconds"][g]
            for name in names:
                sustained[name] += run_burst(clients[name], 20_000_000, SUSTAINED, ours[name], level=True)[0]
        finally:
            for s in servers.values():
                s.stop()
    servers = dict.fromkeys(names)
    n = PROMPTS * ROUNDS
    tp = {name: n / t[name] for name in servers}
    ratio = (t["bare-1"] + t["bare-2"]) / (t["ours-1"] + t["ours-2"])
    aa = min(t["bare-1"], t["bare-2"]) / max(t["bare-1"], t["bare-2"])
    s_ratio = (sustained["bare-1"] + sustained["bare-2"]) / (sustained["ours-1"] + sustained["ours-2"])
    s_aa = min(sustained["bare-1"], sustained["bare-2"]) / max(sustained["bare-1"], sustained["bare-2"])
    def gc_cell(name: str) -> str:
        n_ = gc_n[name]
        ms = [x * 1000 for x in gc_s[name]]
        return f"{n_[0]} / {n_[1]} / {n_[2]}: {ms[0]:.0f} / {ms[1]:.0f} / {ms[2]:.0f} ms"

    rows = "\n".join(f"| {name} | {t[name]:.2f} s | {tp[name]:.1f} prompts/s | {gc_cell(name)} | "
                     f"{SUSTAINED * SESSIONS / sustained[name]:.1f} prompts/s |" for name in servers)
    body = f"""## Overhead on a real ComfyUI (issue 3)

| server (4 processes each, one after the other) | {n} trivial prompts ({ROUNDS} bursts of {PROMPTS}) | burst throughput | its own garbage collections during the bursts, generation 0 / 1 / 2 | sustained: {SUSTAINED} prompts in one stream, {SESSIONS} times |
|---|---|---|---|---|
{rows}

Throughput ratio with/without Tower Sentinel, bursts of {PROMPTS} prompts: **{statistics.median(per_round):.3f}**
(median of {ROUNDS} rounds; target ≥ 0.97); per round: {", ".join(f"{x:.3f}" for x in per_round)}; all bursts'
totals: {ratio:.3f}. The two bare servers against each other, the method's noise floor: bare-1/bare-2 median
{statistics.median(aa_round):.3f} per round (from {min(aa_round):.3f} to {max(aa_round):.3f}); {aa:.3f} (slower/faster)
over the totals. The last prompt of a burst was recorded {statistics.median(lag) * 1000:.0f} ms
(median; max {max(lag) * 1000:.0f} ms) after it finished: the writer waits for ComfyUI to go quiet, then writes.

Sustained flood ({SUSTAINED} prompts without a pause, {SESSIONS} times, longer than the writer's 2 s limit on waiting, so
its work is timed): ratio **{s_ratio:.3f}** (bare vs bare {s_aa:.3f}).

The four servers are started afresh {SESSIONS} times ({ROUNDS // SESSIONS} rounds each), since two processes of the
same code differ by a few percent alone. Servers take turns one at a time; before the next turn an instrumented server's last prompt must be recorded, so
no writer works in another server's timed window. Before each burst the server's prompt worker runs its periodic
full garbage collection (not timed, as `POST /free` makes it), so it does not land on random bursts; the table shows
the collections each server made during the bursts. Command: `python benchmarks/overhead.py`."""
    pinned, _ = pinned_part()
    toggled, _ = toggle_part()
    counted, _ = callgrind_part()
    body = body + "\n\n" + pinned + "\n\n" + toggled + "\n\n" + counted
    print(body)
    write_section("overhead", body)


if __name__ == "__main__":
    main()
