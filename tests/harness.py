"""Run a real ComfyUI with Tower Sentinel (and the testing node pack) and talk to it.

``ComfyServer`` starts ``main.py`` from the runtime built by ``scripts/get_comfyui.sh`` in a throw-away base
directory, waits for ``/object_info``, and stops by PID. ``Graph`` builds API-format prompts in code.
Shared by tests/comfy, tests/integration, tests/browser and benchmarks/.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TESTING_NODES = REPO / "tests" / "comfy" / "testing_nodes"
TERMINAL = {"success", "error", "interrupted", "crashed", "rejected", "cancelled"}


def runtime_dir() -> Path:
    """The ComfyUI runtime folder (built on demand; CI builds it in .ci/run first)."""
    env = os.environ.get("TOWER_COMFY_RUNTIME")
    if env:
        return Path(env)
    out = subprocess.run(["bash", str(REPO / "scripts" / "get_comfyui.sh")], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HTTPResult:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: Any = None, *, headers: dict[str, str] | None = None, raw: bytes | None = None,
         timeout: float = 30.0) -> HTTPResult:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return HTTPResult(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as e:
        return HTTPResult(e.code, dict(e.headers), e.read())


class Graph:
    """API-format prompt builder: ``g.add("EmptyImage", width=8)`` returns the node id; ``g.out(id, 0)`` links."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def add(self, class_type: str, **inputs: Any) -> str:
        nid = str(next(self._ids))
        self.nodes[nid] = {"class_type": class_type, "inputs": inputs}
        return nid

    @staticmethod
    def out(node_id: str, index: int = 0) -> list[Any]:
        return [node_id, index]

    def prompt(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.nodes))


class ComfyServer:
    def __init__(self, *, port: int | None = None, env: dict[str, str] | None = None, base_dir: Path | None = None,
                 extra_nodes: tuple[Path, ...] = (TESTING_NODES,), extra_args: tuple[str, ...] = (),
                 with_extension: bool = True, prefix: tuple[str, ...] = ()) -> None:
        self.with_extension = with_extension
        self.prefix = prefix  # a command to run ComfyUI under (the benchmark's valgrind)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="tower-test-comfy-"))
        self.env = dict(env or {})
        self.extra_nodes = extra_nodes
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.base_dir / "comfyui.log"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "user" / "tower_sentinel"

    def start(self, timeout: float = 180.0) -> ComfyServer:
        rt = runtime_dir()
        for sub in ("custom_nodes", "user/default", "input", "output", "temp", "models"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        link = self.base_dir / "custom_nodes" / "tower-sentinel"
        if self.with_extension and not link.exists():
            link.symlink_to(REPO, target_is_directory=True)
        for d in self.extra_nodes:
            lk = self.base_dir / "custom_nodes" / d.name
            if not lk.exists():
                lk.symlink_to(d, target_is_directory=True)
        settings = self.base_dir / "user" / "default" / "comfy.settings.json"
        if not settings.exists():
            settings.write_text('{"Comfy.TutorialCompleted": true}')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TOWER_", "ECHO_BRAIN"))}
        env.update(self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        cmd = [*self.prefix, str(rt / "venv" / "bin" / "python"), "main.py", "--cpu", "--listen", "127.0.0.1", "--port",
               str(self.port), "--base-directory", str(self.base_dir), "--database-url", "sqlite:///:memory:",
               "--disable-api-nodes", *self.extra_args]
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=rt / "comfyui", env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}; log:\n{self.log_tail()}")
            try:
                if http("GET", self.url + "/object_info/TowerTestSucceed", timeout=5).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"ComfyUI did not answer within {timeout}s; log:\n{self.log_tail()}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
        self._log.close()

    def kill(self) -> None:
        """SIGKILL: the crash a test wants to survive."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None
            self._log.close()

    # --- client -----------------------------------------------------------------------------------------------
    def get(self, path: str, **kw: Any) -> HTTPResult:
        return http("GET", self.url + path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> HTTPResult:
        return http("POST", self.url + path, body, **kw)

    def queue(self, prompt: dict[str, Any], *, headers: dict[str, str] | None = None,
              extra: dict[str, Any] | None = None, client_id: str | None = None) -> HTTPResult:
        body: dict[str, Any] = {"prompt": prompt}
        if extra is not None:
            body["extra_data"] = extra
        if client_id:
            body["client_id"] = client_id
        return self.post("/prompt", body, headers=headers)

    def wait_recorded(self, prompt_id: str, timeout: float = 60.0, statuses: set[str] = TERMINAL) -> dict[str, Any]:
        """Poll /tower/generations/{id} until the prompt's stored status is terminal (or in ``statuses``)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            r = self.get(f"/tower/generations/{prompt_id}")
            if r.status == 200:
                last = r.json()
                if last["status"] in statuses:
                    return last
            time.sleep(0.05)
        brief = {k: last.get(k) for k in ("status", "correlation_id", "category", "error")} if last else None
        raise TimeoutError(f"prompt {prompt_id} not recorded as {statuses} within {timeout}s (last: {brief})")

    def run(self, prompt: dict[str, Any], **kw: Any) -> dict[str, Any]:
        r = self.queue(prompt, **kw)
        assert r.status == 200, r.body
        return self.wait_recorded(r.json()["prompt_id"])
