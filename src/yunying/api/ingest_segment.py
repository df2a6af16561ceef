"""Segment's tracking API, so Segment SDKs (analytics-python, analytics.js …) send here.

Paths: ``/v1/batch`` (also ``/v1/import``), ``/v1/track``, ``/v1/identify``, ``/v1/page``,
``/v1/screen``, ``/v1/alias``, ``/v1/group``, and analytics.js's one-letter forms
(``/v1/t``, ``/v1/p``, ``/v1/i``, ``/v1/a``, ``/v1/g``, ``/v1/s``, ``/v1/b``). The write key
is the HTTP Basic user name, or ``writeKey`` in the body. Bodies may be gzip-compressed.

Answer: ``{"success": true}`` after the events are committed; invalid messages of a batch
are listed under ``"rejected"`` (200, the valid ones are stored).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from yunying.api.ingest_common import (
    GZIP_MAGIC,
    IngestError,
    accept,
    app_state,
    decode_content_encoding,
    guarded,
    inflate,
    parse_json,
    preflight,
    project_for_token,
    read_body,
)
from yunying.events import segment
from yunying.events.gc_pause import gc_paused
from yunying.events.model import utcnow
from yunying.events.validation import FieldError, ParseResult

router = APIRouter(prefix="/v1", tags=["ingest: Segment"])

OK = {"success": True}
KINDS = {
    "batch": "batch",
    "import": "batch",
    "track": "track",
    "identify": "identify",
    "page": "page",
    "screen": "screen",
    "alias": "alias",
    "group": "group",
    "b": "batch",
    "t": "track",
    "i": "identify",
    "p": "page",
    "s": "screen",
    "a": "alias",
    "g": "group",
}


def _handler(name: str, kind: str):  # type: ignore[no-untyped-def]
    async def ingest(request: Request) -> Response:
        result = await _parse(request, kind)
        return await accept(request, result, OK)

    ingest.__name__ = f"segment_{name}"
    ingest.__doc__ = (
        f"Ingest Segment {kind} call(s). Write key: HTTP Basic user or `writeKey`.\n\n"
        '200 `{"success": true}` once committed; invalid messages of a batch are listed '
        'under `"rejected"` (index, attr, code, detail) while the rest are stored. '
        "400 names the bad field (`attr`), 401 bad or missing key, 413 too large, "
        "503 not stored (retry)."
    )
    return guarded(ingest)


async def _parse(request: Request, kind: str) -> ParseResult:
    """The request's events; the decoded body is freed before the commit is awaited."""
    received_at = utcnow()
    limit = app_state(request).settings.max_body_bytes
    body = await read_body(request, limit)
    body = decode_content_encoding(body, request.headers.get("content-encoding"), limit)
    if body[:2] == GZIP_MAGIC:
        body = inflate(body, limit)
    payload = parse_json(body)
    token = segment.basic_auth_user(request.headers.get("authorization")) or segment.find_write_key(
        payload
    )
    project_id = await project_for_token(request, token, places=segment.KEY_PLACES)
    try:
        with gc_paused():
            return segment.parse(payload, project_id=project_id, kind=kind, received_at=received_at)
    except FieldError as exc:
        raise IngestError.from_field(exc) from None


async def options(request: Request) -> Response:
    return preflight(request)


for _name, _kind in KINDS.items():
    router.add_api_route(
        f"/{_name}",
        _handler(_name, _kind),
        methods=["POST"],
        include_in_schema=len(_name) > 1,
        summary=f"Segment {_kind}",
        response_class=Response,
    )
    router.add_api_route(f"/{_name}", options, methods=["OPTIONS"], include_in_schema=False)
