"""``GET /tower/openapi.json``: the OpenAPI 3.0 document of the routes in docs/api.md (checked by schemathesis)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._http import json_ok
from ._query import guarded

__all__ = ["add_routes", "document"]

NUM = {"type": "number", "nullable": True}
INT = {"type": "integer"}
STR = {"type": "string"}
NSTR = {"type": "string", "nullable": True}
TS = {"type": "string", "nullable": True, "description": "ISO 8601 UTC"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props) if required is None else required}


def _arr(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


SUMMARY = _obj({"count": INT, "avg": NUM, "p50": NUM, "p95": NUM, "max": NUM})
HEAD = {"window": NSTR, "since": TS, "until": TS}
ERROR = _obj({"error": _obj({"type": STR, "message": STR})})
SPLIT = _obj({"prompts": INT, "failures": INT, "rate": {"type": "number"}})
DRIVER = _obj({"input": STR, "kind": {"type": "string", "enum": ["numeric", "derived", "categorical", "presence"]},
               "op": {"type": "string", "enum": [">=", "<", "==", "present"]}, "threshold": {},
               "condition": STR, "matched": SPLIT, "unmatched": SPLIT, "lift": NUM, "score": {"type": "number"}})
ACTION = _obj({"category": STR, "summary": STR, "details": _arr(STR), "search_path": NSTR, "folder": NSTR})
VERSIONS = {**_obj({"comfyui_version": NSTR, "extension_version": NSTR}), "nullable": True}
PATTERN = _obj({
    "fingerprint": STR, "category": STR, "severity": STR, "exception_type": NSTR, "node_class": NSTR, "template": NSTR,
    "count": INT, "prompts_affected": INT, "first_seen": TS, "last_seen": TS, "first_seen_ever": TS,
    "previous_count": INT, "trend": {"type": "string", "enum": ["new", "rising", "falling", "steady"]},
    "change_percent": NUM, "new_since_update": {"type": "boolean"}, "introduced_in": VERSIONS,
    "drivers": _arr(DRIVER),
    "example": {**_obj({"error_id": STR, "prompt_id": NSTR, "timestamp": TS, "message": NSTR, "node_id": NSTR,
                        "inputs": {"type": "object", "nullable": True}}), "nullable": True},
    "suggested_action": ACTION})
CATEGORY_FREQ = _obj({"category": STR, "frequency": INT})
ANALYSIS = _obj({
    **HEAD,
    "prompts": _obj({"total": INT, "failed": INT, "failure_rate": NUM,
                     "by_status": {"type": "object", "additionalProperties": INT}}),
    "error_categories": _arr(CATEGORY_FREQ),
    "last_update": {**_obj({"at": TS, "from": VERSIONS, "to": VERSIONS}), "nullable": True},
    "patterns": _arr(PATTERN),
    "quality": _obj({"count": INT, "avg_score": NUM, "pass_rate": NUM,
                     "top_flags": _arr(_obj({"flag": STR, "count": INT}))}),
    "feedback": _obj({"count": INT, "avg_rating": NUM, "ratings": {"type": "object", "additionalProperties": INT},
                      "top_issues": _arr(_obj({"issue": STR, "count": INT}))}),
    "recommendations": _arr(STR)})
ERROR_ROW = _obj({"error_id": STR, "timestamp": TS, "category": STR, "severity": STR, "message": STR,
                  "exception_type": NSTR, "node_id": NSTR, "node_class": NSTR, "fingerprint": NSTR,
                  "prompt_id": NSTR, "correlation_id": NSTR, "resolved": {"type": "boolean"}})

WINDOW = {"name": "window", "in": "query", "required": False,
          "schema": {"type": "string", "pattern": "^[0-9]{1,12}[smhdw]$"}, "description": "e.g. 30m, 24h, 7d; at most 90d"}
NAME_RE = "^[a-z][a-z0-9_]{0,49}$"


def _q(name: str, schema: dict[str, Any], desc: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}


OP_TYPE = _q("operation_type", {"type": "string", "pattern": NAME_RE})
INSTANCE = _q("instance", {"type": "string", "pattern": "^[\\w.:\\-@/]{1,200}$"})


def _get(summary: str, params: list[dict[str, Any]], ok: dict[str, Any], *, not_found: bool = False,
         content: str = "application/json") -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {content: {"schema": ok}}},
        "400": {"description": "Bad parameter", "content": {"application/json": {"schema": ERROR}}},
        "401": {"description": "Bearer token required", "content": {"application/json": {"schema": ERROR}}},
        "503": {"description": "Store unavailable", "content": {"application/json": {"schema": ERROR}}},
    }
    if not_found:
        responses["404"] = {"description": "Not found", "content": {"application/json": {"schema": ERROR}}}
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


def _post(summary: str, body: dict[str, Any] | None, ok: dict[str, Any], codes: dict[str, str], *,
          ok_code: str = "200", params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    err = {"content": {"application/json": {"schema": ERROR}}}
    responses: dict[str, Any] = {ok_code: {"description": "OK", "content": {"application/json": {"schema": ok}}}}
    responses.update({c: {"description": d, **err} for c, d in codes.items()})
    op: dict[str, Any] = {"summary": summary, "parameters": params or [], "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return {"post": op}


QUALITY = {"type": "string", "enum": ["low", "medium", "high", "ultra"]}
GENERATE_BODY = {"type": "object", "required": ["prompt"], "properties": {
    "prompt": {"type": "string", "minLength": 1, "maxLength": 10000}, "character": NSTR, "quality_level": QUALITY,
    "user_id": NSTR, "negative_prompt": NSTR, "seed": {"type": "integer", "minimum": 0},
    "workflow": {"description": "a template name ([A-Za-z0-9_.-]{1,64}) or an API-format graph",
                 "oneOf": [{"type": "string"}, {"type": "object"}]}}}
GENERATED = _obj({"prompt_id": STR, "correlation_id": STR, "enhanced_prompt": STR, "negative_prompt": STR,
                  "degraded": _arr({"type": "string", "enum": ["echo_brain", "kb"]}), "quality_level": QUALITY,
                  "workflow": STR}, ["prompt_id", "correlation_id", "enhanced_prompt", "degraded"])
GEN_ERRORS = {"400": "Bad body", "401": "Bearer token required", "403": "Writes need a token", "404": "No such template",
              "413": "Body too large", "415": "Not JSON", "422": "ComfyUI rejected the workflow (missing model/node)",
              "502": "ComfyUI answered unexpectedly", "503": "ComfyUI or the extension not ready"}
OUTBOX_ITEM = _obj({"id": STR, "kind": STR, "status": {"type": "string", "enum": ["pending", "delivered", "dead"]},
                    "idempotency_key": STR, "attempts": INT, "last_error": NSTR, "created_at": {"type": "number"},
                    "next_attempt_at": {"type": "number"}, "correlation_id": NSTR,
                    "payload": {"type": "object", "nullable": True}}, ["id", "kind", "status", "attempts"])


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Tower Sentinel", "version": "1", "description": "See docs/api.md"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/tower/metrics/success-rate": _get("Success rate per operation type", [WINDOW, OP_TYPE, INSTANCE], _obj({
                **HEAD, "operation_types": _arr(_obj({
                    "operation_type": STR, "total_operations": INT, "successful_operations": INT,
                    "failed_operations": INT, "success_rate_percent": NUM})),
                "overall": _obj({"total_operations": INT, "successful_operations": INT,
                                 "success_rate_percent": NUM})})),
            "/tower/metrics/durations": _get("Durations per operation type and node class", [WINDOW, OP_TYPE, INSTANCE],
                                             _obj({**HEAD,
                                                   "operation_types": _arr({**SUMMARY, "properties": {
                                                       "operation_type": STR, **SUMMARY["properties"]}}),
                                                   "node_classes": _arr({**SUMMARY, "properties": {
                                                       "node_class": STR, "cached": INT, **SUMMARY["properties"]}}),
                                                   "prompts": _obj({"queue_wait": SUMMARY, "execution": SUMMARY})})),
            "/tower/errors": _get("Most common and recent errors", [
                WINDOW, _q("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
                _q("category", {"type": "string", "pattern": NAME_RE}),
                _q("severity", {"type": "string", "pattern": NAME_RE})],
                _obj({**HEAD, "categories": _arr(_obj({"category": STR, "severity": STR, "frequency": INT})),
                      "recent": _arr(ERROR_ROW)})),
            "/tower/errors/{error_id}": _get("One error", [
                {"name": "error_id", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}}],
                {**ERROR_ROW, "properties": {**ERROR_ROW["properties"], "stack_trace": NSTR,
                                             "context": {"nullable": True}, "template": NSTR}},
                not_found=True),
            "/tower/learning/failure-analysis": _get("Failure patterns", [
                WINDOW, _q("limit", {"type": "integer", "minimum": 1, "maximum": 50})], ANALYSIS),
            "/tower/metrics/prometheus": _get("Prometheus exposition", [], {"type": "string"}, content="text/plain"),
            "/api/health": _get("The seed's health", [], _obj({
                "status": {"type": "string", "enum": ["healthy", "degraded"]}, "service": STR, "version": STR,
                "correlation_id": STR, "timestamp": STR,
                "dependencies": _obj({"comfyui": _obj({"status": STR}), "database": _obj({"status": STR})}),
                "metrics": _obj({"success_rate_24h": {"type": "number", "minimum": 0, "maximum": 1},
                                 "circuit_breaker_state": {"type": "string",
                                                           "enum": ["CLOSED", "OPEN", "HALF_OPEN"]}})})),
            "/api/metrics/success-rate": _get("The seed's success rate", [
                _q("hours", {"type": "integer", "minimum": 1, "maximum": 2160}), OP_TYPE], _obj({
                    "success_rate": {"type": "number", "minimum": 0, "maximum": 1}, "period_hours": INT,
                    "timestamp": STR}, ["success_rate", "period_hours", "timestamp"])),
            "/api/learning/failure-analysis": _get("The seed's failure analysis", [
                _q("days", {"type": "integer", "minimum": 1, "maximum": 90}), OP_TYPE], _obj({
                    "operation_type": STR, "analysis_period_days": INT,
                    "failure_patterns": _arr({**PATTERN, "properties": {
                        **PATTERN["properties"], "error_details": {"type": "object"}, "context": {"type": "object"},
                        "frequency": INT}}),
                    "error_categories": _arr(CATEGORY_FREQ), "recommendations": _arr(STR)})),
            "/tower/outbox": _get("Reports waiting for Echo Brain or the KB", [
                _q("status", {"type": "string", "enum": ["pending", "delivered", "dead"]}),
                _q("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
                _obj({"stats": _obj({"pending": INT, "delivered": INT, "dead": INT}), "items": _arr(OUTBOX_ITEM)})),
            "/tower/outbox/{item_id}/retry": _post(
                "Deliver an outbox item again now", None, _obj({"item": OUTBOX_ITEM}),
                {"401": "Bearer token required", "403": "Writes need a token", "404": "Unknown item",
                 "409": "Already delivered", "503": "Outbox not running"}, ok_code="202",
                params=[{"name": "item_id", "in": "path", "required": True, "schema": STR}]),
            "/tower/generate": _post("Enhance a prompt and queue it in this ComfyUI", GENERATE_BODY, GENERATED,
                                     GEN_ERRORS),
            "/api/generate-enhanced": _post(
                "The seed's generation: waits for the outcome (202 when still running at the deadline)",
                {"type": "object", "required": ["prompt"], "properties": {
                    **GENERATE_BODY["properties"], "scene_type": NSTR, "style": NSTR,
                    "duration": {"type": "number", "minimum": 0, "maximum": 3600}}},
                _obj({"status": {"type": "string", "enum": ["completed", "failed", "cancelled", "processing"]},
                      "generation_id": STR, "correlation_id": STR, "prompt": STR, "character": NSTR,
                      "quality_level": QUALITY, "output_file": NSTR, "generation_time": NUM,
                      "metadata": {"type": "object"}}), GEN_ERRORS),
            "/tower/openapi.json": {"get": {"summary": "This document", "parameters": [],
                                            "responses": {"200": {"description": "OK", "content": {
                                                "application/json": {"schema": {"type": "object"}}}}}}},
        },
    }


async def openapi(request: web.Request, rt: Any, loopback: bool) -> web.Response:
    return json_ok(document())


def add_routes(routes: web.RouteTableDef, get_rt: Any) -> None:
    routes.get("/tower/openapi.json")(guarded(get_rt, openapi))
