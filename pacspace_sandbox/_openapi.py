"""The sandbox's OpenAPI 3.0 document, served at ``/openapi.json``.

Written beside the routes (``_app.py``) and checked against them by schemathesis in the
test suite, so the two cannot drift apart. Paths marked **[ours]** in the wire protocol
are ours here too.
"""

from __future__ import annotations

from typing import Any

from pacspace_async.limits import MAX_ID_LENGTH, MAX_TEXT_LENGTH

__all__ = ["document"]

API = "/api/v1/balance"
_TEXT = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
"""Not blank, no control characters: what ``_fields.text`` accepts."""
_STR = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_LENGTH, "pattern": _TEXT}
_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": _TEXT}
_NUM = {
    "type": "number",
    "minimum": -999_999_999_999_999,
    "maximum": 999_999_999_999_999,
    "multipleOf": 0.000001,
}
"""An amount: below 1E+15 in magnitude, at most 18 decimal places (documented here as a
multiple of 1E-6, a subset any generator can produce exactly)."""
_MAX = 2**53 - 1
_INT = {"type": "integer", "minimum": 0, "maximum": _MAX}
_Q = {"type": "string"}
"""A free-text query value (filters and searches: any text is a valid one)."""


def _range(low: int, high: int = _MAX) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


_SCOPE = {
    "period": {"type": "string", "pattern": "^([0-9]{4}-[0-9]{2})?$"},
    "timePreset": {"type": "string"},
    "startDate": {"type": "string"},
    "endDate": {"type": "string"},
}
_ENVELOPE = {
    "type": "object",
    "required": ["success"],
    "properties": {"success": {"type": "boolean"}, "data": {}, "error": {"type": "object"}},
}
_ERROR = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}


def _query(**params: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "required": False, "schema": s} for n, s in params.items()]


def _path(name: str) -> dict[str, Any]:
    """Ids in paths: any non-empty text (an unknown id is a 404, or an empty answer)."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
    }


def _op(
    summary: str,
    *,
    ok: int = 200,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    public: bool = False,
    media: str = "application/json",
) -> dict[str, Any]:
    success = {"description": "success", "content": {media: {"schema": _ENVELOPE}}}
    responses: dict[str, Any] = {str(ok): success}
    if ok == 201:  # a replay (same referenceId or Idempotency-Key) answers 200
        responses["200"] = success
    for status in ("400", "401", "403", "404", "409", "413", "429"):
        responses[status] = {
            "description": "error",
            "content": {"application/json": {"schema": _ERROR}},
        }
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": params or [],
        "responses": responses,
    }
    if body is not None:
        operation["requestBody"] = {
            "required": bool(body.get("required")),  # an empty body reads as {}
            "content": {"application/json": {"schema": body}},
        }
    if public:
        operation["security"] = []
    return operation


def _obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


def document() -> dict[str, Any]:
    delta = _obj(
        ["customerId", "delta", "reason"],
        customerId=_ID,
        delta=_NUM,
        reason=_STR,
        referenceId={**_ID, "nullable": True},
        metadata={"type": "object", "nullable": True},
    )
    paging = _query(limit=_range(1, 100), offset=_INT)
    scope = _query(**_SCOPE)
    return {
        "openapi": "3.0.3",
        "info": {"title": "PacSpace Balance API (local sandbox)", "version": "0.7.0"},
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}
        },
        "security": [{"apiKey": []}],
        "paths": {
            f"{API}/delta": {"post": _op("Record one delta", ok=201, body=delta)},
            f"{API}/delta/batch": {
                "post": _op(
                    "Record up to 100 deltas",
                    # Items are judged one by one: an invalid one is a FAILED result, not a 400.
                    body=_obj(
                        ["deltas"],
                        deltas={
                            "type": "array",
                            "items": {},
                            "minItems": 1,
                            "maxItems": 100,
                        },
                    ),
                )
            },
            f"{API}/delta/{{recordId}}": {
                "get": _op("A delta's status", params=[_path("recordId")])
            },
            f"{API}/derive/{{customerId}}": {
                "get": _op(
                    "Derive a balance",
                    params=[
                        _path("customerId"),
                        *scope,
                        *_query(limit=_range(1, 10_000), offset=_INT),
                        *_query(startingBalance=_NUM, startingCheckpoint=_Q),
                    ],
                )
            },
            f"{API}/compare": {
                "post": _op(
                    "Compare two views",
                    body=_obj(
                        ["yourBalance", "theirBalance"],
                        customerId=_ID,
                        yourBalance=_NUM,
                        theirBalance=_NUM,
                        startingBalance=_NUM,
                        **_SCOPE,
                    ),
                )
            },
            f"{API}/checkpoint": {
                "post": _op(
                    "Checkpoint a scope",
                    ok=201,
                    body=_obj([], customerId=_ID, mode=_STR, **_SCOPE),
                )
            },
            f"{API}/checkpoints": {
                "get": _op("List checkpoints", params=[*_query(customerId=_Q), *scope, *paging])
            },
            f"{API}/receipt/{{customerId}}": {
                "get": _op("Receipt data", params=[_path("customerId")])
            },
            f"{API}/invoice-proof/{{customerId}}": {
                "get": _op("Invoice proof", params=[_path("customerId"), *scope])
            },
            f"{API}/receipts": {
                "get": _op(
                    "Receipt documents [ours]",
                    params=_query(customerId=_Q, limit=_range(1, 100)),
                )
            },
            f"{API}/receipts/{{receiptId}}": {
                "get": _op("A receipt document [ours]", params=[_path("receiptId")])
            },
            f"{API}/customers": {
                "get": _op(
                    "Customers",
                    params=_query(search=_Q, limit=_range(1, 100), page=_range(1)),
                )
            },
            f"{API}/customers/{{customerId}}": {
                "get": _op(
                    "A customer",
                    params=[
                        _path("customerId"),
                        *_query(
                            deltaPage=_range(1), deltaLimit=_range(1, 100), period=_SCOPE["period"]
                        ),
                    ],
                )
            },
            f"{API}/usage": {"get": _op("Plan usage")},
            f"{API}/gaps/{{customerId}}": {
                "get": _op(
                    "Sequence gaps",
                    params=[
                        _path("customerId"),
                        *_query(
                            fromSequence=_INT,
                            toSequence=_INT,
                            limit={"type": "integer", "minimum": 1},
                        ),
                    ],
                )
            },
            f"{API}/webhooks": {
                "get": _op("Webhook deliveries", params=[*_query(status=_Q), *paging])
            },
            f"{API}/webhooks/{{eventId}}/retry": {
                "post": _op("Deliver an event again", params=[_path("eventId")])
            },
            "/api/v1/verify/{root}": {
                "get": _op(
                    "Verify a proof root",
                    params=[
                        _path("root"),
                        *_query(source={"type": "string", "enum": ["db", "chain", "both"]}),
                    ],
                    public=True,
                )
            },
            "/health": {"get": _op("Health", public=True)},
        },
    }
