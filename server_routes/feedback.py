"""Ratings of outputs and the quality summary.

- ``POST /tower/feedback {"prompt_id", "rating": 1..5, "image"?, "comment"?, "issues"?, "user_id"?}`` → 201 once
  stored (404 for a prompt never recorded here).
- ``GET /tower/quality/summary?window=7d`` → score distributions per workflow and how ratings track scores.
- ``POST /api/feedback`` (the seed's alias) takes the original body and answers the original's shape.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from ..telemetry.context import emit
from ..telemetry.events import FeedbackEvent, new_id
from ._http import BadRequest, json_ok, parse_window, read_json, run_blocking
from ._query import StoreDown, guarded, store_call

__all__ = ["add_routes", "parse_feedback", "summarize_quality", "recent_outputs"]

BINS = 10


def _str(body: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str | None:
    v = body.get(key)
    if v is None:
        if required:
            raise BadRequest(f"{key} is required", type_="invalid_feedback")
        return None
    if not isinstance(v, str) or not v or len(v) > limit:
        raise BadRequest(f"{key} must be a non-empty string of at most {limit} characters", type_="invalid_feedback")
    return v


def parse_feedback(body: Any, *, seed: bool = False) -> dict[str, Any]:
    """Validate a feedback body (ours, or the seed's with generation_id/user_rating/feedback_text)."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", type_="invalid_feedback")
    if seed:
        body = {"prompt_id": body.get("generation_id"), "rating": body.get("user_rating"),
                "comment": body.get("feedback_text"), "issues": body.get("issues"), "user_id": body.get("user_id")}
    prompt_id = _str(body, "prompt_id", 128, required=True)
    rating = body.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise BadRequest("rating must be an integer from 1 to 5", type_="invalid_feedback")
    image = body.get("image")
    if image is not None:
        if not isinstance(image, dict):
            raise BadRequest("image must be an object {filename, subfolder, type}", type_="invalid_feedback")
        image = {"filename": _str(image, "filename", 255, required=True), "subfolder": image.get("subfolder") or "",
                 "type": image.get("type") or "output"}
        if not isinstance(image["subfolder"], str) or image["type"] not in ("output", "temp", "input"):
            raise BadRequest("image.subfolder must be a string and image.type output|temp|input",
                             type_="invalid_feedback")
    issues = body.get("issues")
    if issues is not None:
        if not isinstance(issues, list) or len(issues) > 20 or not all(
                isinstance(i, str) and 0 < len(i) <= 100 for i in issues):
            raise BadRequest("issues must be a list of at most 20 short strings", type_="invalid_feedback")
    return {"prompt_id": prompt_id, "rating": rating, "image": image, "comment": _str(body, "comment", 4000),
            "issues": issues, "user_id": _str(body, "user_id", 200)}


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / math.sqrt(sxx * syy), 4)


def summarize_quality(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Score histograms (10 bins over 0..1) per workflow, and ratings against scores."""
    per_wf: dict[str, list[float]] = defaultdict(list)
    pairs: list[tuple[float, float]] = []
    for r in rows:
        if r.get("score") is None:
            continue
        s = float(r["score"])
        per_wf[r.get("workflow_hash") or "unknown"].append(s)
        if r.get("rating") is not None:
            pairs.append((s, float(r["rating"])))

    def hist(scores: list[float]) -> list[int]:
        h = [0] * BINS
        for s in scores:
            h[min(BINS - 1, max(0, int(s * BINS)))] += 1
        return h

    all_scores = [s for v in per_wf.values() for s in v]
    by_rating: dict[str, list[float]] = defaultdict(list)
    for s, rt in pairs:
        by_rating[str(round(rt))].append(s)
    return {
        "prompts": len(rows),
        "bins": [round(i / BINS, 2) for i in range(BINS + 1)],
        "overall": {"count": len(all_scores), "avg_score": round(sum(all_scores) / len(all_scores), 4)
                    if all_scores else None, "histogram": hist(all_scores)},
        "workflows": [{"workflow": wf, "count": len(v), "avg_score": round(sum(v) / len(v), 4), "histogram": hist(v)}
                      for wf, v in sorted(per_wf.items(), key=lambda kv: -len(kv[1]))[:20]],
        "ratings": {"rated_prompts": len(pairs), "score_rating_correlation": _pearson(
            [p[0] for p in pairs], [p[1] for p in pairs]),
            "avg_score_by_rating": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_rating.items())}},
    }


def recent_outputs(scored: list[dict[str, Any]], rated: list[dict[str, Any]], limit: int = 200) -> list[dict[str, Any]]:
    """Per prompt: its mean quality score and mean user rating (either may be null), for the panel's outputs."""
    out: dict[str, dict[str, Any]] = {}
    for r in scored[:limit]:
        out[r["prompt_id"]] = {"prompt_id": r["prompt_id"], "score": r.get("score"), "rating": r.get("rating")}
    for r in rated:
        entry = out.setdefault(r["prompt_id"], {"prompt_id": r["prompt_id"], "score": None, "rating": None})
        entry["rating"] = round(float(r["rating"]), 2) if r.get("rating") is not None else None
    return list(out.values())[:limit]


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    async def _store(request: web.Request, rt: Any, *, seed: bool) -> tuple[dict[str, Any], str, str | None]:
        """Parse, check the prompt (ours only), store before answering, then forward through the outbox."""
        fb = parse_feedback(await read_json(request), seed=seed)
        rec = await store_call(rt.reader.get_generation, fb["prompt_id"])
        if rec is None and not seed:  # the seed's original accepted any generation id
            raise BadRequest("No prompt with this id was recorded; feedback needs a known prompt", status=404,
                             type_="not_found")
        cid = rec.get("correlation_id") if rec else None
        fid = new_id()
        emit(FeedbackEvent(fid, prompt_id=fb["prompt_id"], rating=fb["rating"], at=datetime.now(timezone.utc),
                           image=fb["image"], comment=fb["comment"], issues=fb["issues"], user_id=fb["user_id"],
                           correlation_id=cid, instance_id=rt.settings.instance_id))
        if not await run_blocking(rt.recorder.flush, 5.0):
            raise StoreDown("recorder flush timed out")
        hook = rt.components.get("on_feedback")
        if hook is not None:
            try:
                hook(fb, cid)  # enqueues into the outbox off the server loop
            except Exception:  # noqa: BLE001 - forwarding to Echo Brain is best effort (outbox)
                pass
        return fb, fid, cid

    async def tower_feedback(request: web.Request, rt: Any, loopback: bool) -> web.Response:
        fb, fid, cid = await _store(request, rt, seed=False)
        return json_ok({"feedback_id": fid, "prompt_id": fb["prompt_id"], "rating": fb["rating"],
                        "correlation_id": cid, "status": "stored"}, status=201)

    async def seed_feedback(request: web.Request, rt: Any, loopback: bool) -> web.Response:
        fb, fid, cid = await _store(request, rt, seed=True)
        return json_ok({"status": "received", "correlation_id": cid or new_id(),
                        "message": f"Feedback {fid} stored for generation {fb['prompt_id']}"})

    async def quality_summary(request: web.Request, rt: Any, loopback: bool) -> web.Response:
        window = parse_window(request.query.get("window"), "7d")
        until = datetime.now(timezone.utc) + timedelta(seconds=1)
        since = until - timedelta(seconds=window)
        params = {"since": _ts(since), "until": _ts(until), "limit": 20_000}
        rows = await store_call(rt.reader.query, "quality_by_prompt", params)
        rated = await store_call(rt.reader.query, "feedback_recent", {"since": params["since"], "limit": 200})
        return json_ok({"window_seconds": window, **summarize_quality(rows), "recent": recent_outputs(rows, rated)})

    routes.post("/tower/feedback")(guarded(get_rt, tower_feedback, write=True))
    routes.post("/api/feedback")(guarded(get_rt, seed_feedback, write=True))
    routes.get("/tower/quality/summary")(guarded(get_rt, quality_summary))


def _ts(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
