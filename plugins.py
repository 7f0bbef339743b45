"""Optional components, each ``plug(runtime, server)``; a failing one is reported in health, the rest go on."""

from __future__ import annotations

PLUGINS: list = []


def _postgres(rt, server) -> None:
    """PostgreSQL shipping/reads and retention (telemetry/pg_plugin.py); imported lazily so psycopg is optional."""
    from .telemetry.pg_plugin import plug

    plug(rt, server)


PLUGINS.append(_postgres)


def _analytics(rt, server) -> None:
    """Prometheus metrics fed by the recorder (telemetry/metrics.py) and the seed-alias ownership check."""
    from .server_routes.seed_aliases import plug as aliases
    from .telemetry.metrics import plug as metrics

    aliases(rt, server)
    metrics(rt, server)


PLUGINS.append(_analytics)


def _reliability(rt, server) -> None:
    """Echo Brain and KB clients, breakers, the outbox and the daily KB report (server_routes/reliability_plugin.py)."""
    from .server_routes.reliability_plugin import plug

    plug(rt, server)


PLUGINS.append(_reliability)
