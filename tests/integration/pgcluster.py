"""A throw-away PostgreSQL cluster for tests that kill, pause or lock down the server.

``initdb`` into a temp dir, started with ``pg_ctl`` on its own port and socket dir. PostgreSQL refuses to run as
root, so as root every server command runs as the ``postgres`` user (``runuser``); as anyone else it runs as is.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def pg_bindir() -> Path:
    env = os.environ.get("TOWER_TEST_PG_BINDIR")
    if env:
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("no PostgreSQL server binaries (initdb) found; install postgresql or set TOWER_TEST_PG_BINDIR")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, *, password: str | None = None) -> None:
        self.bindir = pg_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="tower-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.password = password
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        pwfile = None
        args = ["-D", str(self.data), "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"]
        if password:
            pwfile = self.root / "pw"
            pwfile.write_text(password)
            if self._as_root:
                shutil.chown(pwfile, "postgres", "postgres")
            args += ["--pwfile", str(pwfile), "--auth-host=scram-sha-256", "--auth-local=trust"]
        else:
            args += ["--auth=trust"]
        self._run("initdb", *args)
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                    "fsync = off\nfull_page_writes = off\nsynchronous_commit = on\nmax_connections = 50\n"
                    "shared_buffers = 256MB\nlog_min_messages = warning\n")
        self.start()

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / tool), *args]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    @property
    def admin_dsn(self) -> str:
        """Superuser over the unix socket (trust even with a password set)."""
        return f"host={self.root} port={self.port} dbname=postgres user=postgres"

    def dsn(self, *, user: str = "postgres", password: str | None = None, dbname: str = "postgres") -> str:
        d = f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"
        pw = password if password is not None else self.password
        return d + (f" password={pw}" if pw else "")

    def start(self) -> None:
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "60")

    def stop_immediate(self) -> None:
        """``pg_ctl stop -m immediate``: the crash the shipper must survive."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")

    def _pids(self) -> list[int]:
        head = (self.data / "postmaster.pid").read_text().splitlines()[0]
        master = int(head)
        pids = [master]
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == master:
                    pids.append(int(d.name))
        return pids

    def pause(self) -> list[int]:
        """SIGSTOP the postmaster and every backend: the server hangs, its kernel still accepts connections."""
        pids = self._pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    def resume(self, pids: list[int]) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def sql(self, text: str, *, dbname: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.admin_dsn.replace("dbname=postgres", f"dbname={dbname}"), autocommit=True) as c:
            cur = c.execute(text)
            return cur.fetchall() if cur.description else []

    def destroy(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", check=False)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def wait_until(pred, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout}s")
