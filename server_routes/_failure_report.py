"""The daily failure-analysis report as a KB article: ``Analytics.failure_analysis`` rendered as markdown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._query import redact_paths

__all__ = ["render_failure_report"]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.replace("|", "\\|").split())[:200]


def render_failure_report(analysis: dict[str, Any], *, instance_id: str, now: datetime) -> tuple[str, str]:
    """(title, markdown). Local paths in messages are masked: the KB is read by people on other machines."""
    prompts = analysis.get("prompts") or {}
    rate = prompts.get("failure_rate")
    lines = [
        f"# ComfyUI failure analysis — {now.strftime('%Y-%m-%d')}",
        "",
        f"Instance `{_cell(instance_id)}`, window {_cell(analysis.get('since'))} → {_cell(analysis.get('until'))}.",
        "",
        f"- Prompts: **{prompts.get('total', 0)}**, failed: **{prompts.get('failed', 0)}**"
        + (f" ({rate * 100:.1f} %)" if isinstance(rate, (int, float)) else ""),
    ]
    by_status = prompts.get("by_status") or {}
    if by_status:
        lines.append("- By status: " + ", ".join(f"{_cell(k)} {v}" for k, v in sorted(by_status.items())))
    categories = analysis.get("error_categories") or []
    if categories:
        lines.append("- Error categories: " + ", ".join(f"{_cell(c['category'])} {c['frequency']}"
                                                        for c in categories))
    patterns = analysis.get("patterns") or []
    lines += ["", "## Failure patterns", ""]
    if not patterns:
        lines.append("No failures in this window.")
    else:
        lines += ["| count | trend | category | node | pattern | suggested action |", "|---|---|---|---|---|---|"]
        for p in patterns:
            action = (p.get("suggested_action") or {}).get("summary")
            lines.append(f"| {p.get('count')} | {_cell(p.get('trend'))} | {_cell(p.get('category'))} | "
                         f"{_cell(p.get('node_class'))} | {_cell(redact_paths(p.get('template')))} | "
                         f"{_cell(redact_paths(action))} |")
        drivers = [(p, d) for p in patterns for d in (p.get("drivers") or [])[:1]]
        if drivers:
            lines += ["", "## What correlates with failure", ""]
            for p, d in drivers:
                lines.append(f"- {_cell(p.get('category'))}: `{_cell(redact_paths(d.get('condition')))}` "
                             f"(lift {_cell(d.get('lift'))})")
    recs = analysis.get("recommendations") or []
    if recs:
        lines += ["", "## Recommendations", ""] + [f"- {_cell(redact_paths(r))}" for r in recs]
    feedback = analysis.get("feedback") or {}
    if feedback.get("count"):
        lines += ["", f"User feedback: {feedback['count']} ratings, average {feedback.get('avg_rating')}."]
    title = f"ComfyUI failure analysis {now.strftime('%Y-%m-%d')} ({instance_id})"
    return title[:200], "\n".join(lines) + "\n"
