"""Settings: environment variables over ``<ComfyUI user dir>/tower_sentinel/config.json`` over defaults.

Secrets (the database password, the API token) live only in ``Settings`` and are never rendered: use
``public()`` for health and logs, which shows the DSN with its password masked.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = ["Settings", "load_settings", "mask_dsn"]

_ENV_KEYS = {
    "TOWER_DB_DSN": "db_dsn",
    "TOWER_DB_HOST": "db_host",
    "TOWER_DB_PORT": "db_port",
    "TOWER_DB_NAME": "db_name",
    "TOWER_DB_USER": "db_user",
    "TOWER_DB_PASSWORD": "db_password",
    "ECHO_BRAIN_URL": "echo_brain_url",
    "TOWER_KB_URL": "kb_url",
    "TOWER_API_TOKEN": "api_token",
    "TOWER_INSTANCE_ID": "instance_id",
    "TOWER_DATA_DIR": "data_dir",
    "TOWER_METRICS_RETENTION_DAYS": "metrics_retention_days",
    "TOWER_ERRORS_RETENTION_DAYS": "errors_retention_days",
    "TOWER_SPOOL_MAX_EVENTS": "spool_max_events",
    "TOWER_QUEUE_MAX_EVENTS": "queue_max_events",
    "TOWER_KB_CA_FILE": "kb_ca_file",
    "TOWER_KB_INSECURE": "kb_insecure",
    "TOWER_GENERATE_WAIT_S": "generate_wait_s",
    "TOWER_KB_REPORT_INTERVAL_S": "kb_report_interval_s",
    "TOWER_COMMIT_INTERVAL_S": "commit_interval_s",
    "TOWER_COMMIT_MAX_DELAY_S": "commit_max_delay_s",
}
_INT = {"db_port", "metrics_retention_days", "errors_retention_days", "spool_max_events", "queue_max_events"}
_FLOAT = {"generate_wait_s", "kb_report_interval_s", "commit_interval_s", "commit_max_delay_s"}
_BOOL = {"kb_insecure"}


@dataclass(frozen=True)
class Settings:
    data_dir: str = ""
    instance_id: str = ""
    db_dsn: str | None = field(default=None, repr=False)
    db_host: str | None = None
    db_port: int = 5432
    db_name: str | None = None
    db_user: str | None = None
    db_password: str | None = field(default=None, repr=False)
    echo_brain_url: str | None = None
    kb_url: str | None = None
    kb_ca_file: str | None = None
    kb_insecure: bool = False
    api_token: str | None = field(default=None, repr=False)
    metrics_retention_days: int = 30
    errors_retention_days: int = 90
    spool_max_events: int = 1_000_000
    queue_max_events: int = 100_000
    generate_wait_s: float = 300.0
    kb_report_interval_s: float = 86_400.0
    commit_interval_s: float = 0.3  # group commit: how long the writer gathers events before one transaction
    # while events keep arriving (ComfyUI busy), the writer waits for a 20 ms gap in them, at most this long
    commit_max_delay_s: float = 2.0
    errors: tuple[str, ...] = ()

    @property
    def postgres_configured(self) -> bool:
        return bool(self.db_dsn or self.db_host)

    def postgres_dsn(self) -> str | None:
        """The libpq connection string (secret: never log it)."""
        if self.db_dsn:
            return self.db_dsn
        if not self.db_host:
            return None
        parts = {"host": self.db_host, "port": str(self.db_port), "dbname": self.db_name or "postgres"}
        if self.db_user:
            parts["user"] = self.db_user
        if self.db_password:
            parts["password"] = self.db_password
        return " ".join(f"{k}={_quote_kv(v)}" for k, v in parts.items())

    @property
    def sqlite_path(self) -> str:
        return str(Path(self.data_dir) / "tower_sentinel.sqlite3")

    def public(self) -> dict[str, Any]:
        """Settings safe to show: no password, no token."""
        d = asdict(self)
        d.pop("db_password", None)
        d.pop("api_token", None)
        d["db_dsn"] = mask_dsn(self.postgres_dsn()) if self.postgres_configured else None
        d["api_token_configured"] = bool(self.api_token)
        d["errors"] = list(self.errors)
        return d


def _quote_kv(v: str) -> str:
    if v and re.fullmatch(r"[A-Za-z0-9_.\-/:]+", v):
        return v
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def mask_dsn(dsn: str | None) -> str | None:
    """A DSN (URL or key=value form) with its password replaced by ``***``."""
    if not dsn:
        return dsn
    if "://" in dsn:
        try:
            u = urlsplit(dsn)
        except ValueError:
            return "<unparseable dsn>"
        if u.password is None:
            return dsn
        host = u.hostname or ""
        if u.port:
            host += f":{u.port}"
        user = quote(u.username or "")
        return u._replace(netloc=f"{user}:***@{host}").geturl()
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)


def _validate_url(name: str, url: str | None, errors: list[str]) -> str | None:
    if not url:
        return None
    try:
        u = urlsplit(url)
        ok = u.scheme in ("http", "https") and bool(u.hostname)
        if ok:
            _ = u.port  # raises ValueError on a bad port
    except ValueError:
        ok = False
    if not ok:
        errors.append(f"{name} is not a valid http(s) URL")
        return None
    return url.rstrip("/")


def load_settings(
    *, user_dir: str | Path | None = None, env: Mapping[str, str] | None = None, listen_port: int | None = None
) -> Settings:
    """Settings from defaults, then the config file in the user directory, then the environment."""
    env = os.environ if env is None else env
    errors: list[str] = []
    base = Path(user_dir) if user_dir else Path.home() / ".tower_sentinel"
    data_dir = base / "tower_sentinel"
    values: dict[str, Any] = {}
    cfg_file = data_dir / "config.json"
    if cfg_file.is_file():
        try:
            loaded = json.loads(cfg_file.read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                raise ValueError("not a JSON object")
            values.update({k: v for k, v in loaded.items() if k in Settings.__dataclass_fields__})
        except (OSError, ValueError) as exc:
            errors.append(f"config file {cfg_file.name} ignored: {type(exc).__name__}")
    for key, attr in _ENV_KEYS.items():
        if env.get(key) not in (None, ""):
            values[attr] = env[key]
    for attr in list(values):
        try:
            if attr in _INT:
                values[attr] = int(values[attr])
            elif attr in _FLOAT:
                values[attr] = float(values[attr])
            elif attr in _BOOL:
                values[attr] = str(values[attr]).lower() in ("1", "true", "yes", "on")
        except (TypeError, ValueError):
            errors.append(f"setting {attr} is not a number; using the default")
            values.pop(attr)
    if "commit_interval_s" in values and not 0.0 <= values["commit_interval_s"] <= 5.0:
        errors.append("setting commit_interval_s must be between 0 and 5 seconds; using the default")
        values.pop("commit_interval_s")
    if "commit_max_delay_s" in values and not 0.0 <= values["commit_max_delay_s"] <= 30.0:
        errors.append("setting commit_max_delay_s must be between 0 and 30 seconds; using the default")
        values.pop("commit_max_delay_s")
    values.setdefault("data_dir", str(values.get("data_dir") or data_dir))
    if not values.get("instance_id"):
        values["instance_id"] = f"{socket.gethostname()}:{listen_port or 8188}"
    values["echo_brain_url"] = _validate_url("ECHO_BRAIN_URL", values.get("echo_brain_url"), errors)
    values["kb_url"] = _validate_url("TOWER_KB_URL", values.get("kb_url"), errors)
    s = Settings(**values)
    return replace(s, errors=tuple(errors))
