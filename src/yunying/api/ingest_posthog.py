"""PostHog's capture endpoints, so PostHog SDKs work by pointing ``host`` at Yunying.

Paths: ``/capture/``, ``/batch/``, ``/e/``, ``/i/v0/e/`` (with or without the trailing
slash; GET and POST). Bodies: JSON; gzip (``Content-Encoding: gzip``, or
``?compression=gzip-js`` as posthog-js sends, or sniffed by its magic bytes); the form
encoding ``data=<base64 JSON>`` (``compression=base64``) and ``?data=`` on GET. lz64 is
refused with a 400 that says so.

Answer: ``{"status": 1}`` once the events are committed. When some events of a batch are
invalid the others are still stored and the answer is 200 with
``"rejected": [{"index", "attr", "code", "detail"}, ...]`` — PostHog SDKs treat any
non-200 as a failed batch and would drop or resend the good events too.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs

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
from yunying.events import posthog
from yunying.events.gc_pause import gc_paused
from yunying.events.model import utcnow
from yunying.events.validation import FieldError, ParseResult

router = APIRouter(tags=["ingest: PostHog"])

PATHS = ("/capture", "/batch", "/e", "/i/v0/e")
OK = {"status": 1}
_FORM = "application/x-www-form-urlencoded"


def _unsupported(compression: str) -> IngestError:
    return IngestError(
        400,
        f"compression {compression!r} is not supported; configure the SDK to send gzip "
        "('gzip-js'), base64 or plain JSON",
        code="unsupported_compression",
        attr="compression",
    )


def _decode_data(value: str, compression: str, limit: int) -> Any:
    """The ``data`` form/query field: JSON, or base64 of JSON (or of gzipped JSON)."""
    if compression == "lz64":
        raise _unsupported("lz64")
    text = value.strip()
    if text[:1] in ("{", "["):
        return parse_json(text, "data")
    text = text.replace(" ", "+")  # '+' decoded as a space by a careless form encoder
    text += "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            raw = base64.urlsafe_b64decode(text)
        else:
            raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise IngestError(
            400, "data is neither JSON nor base64-encoded JSON", attr="data"
        ) from None
    if raw[:2] == GZIP_MAGIC:
        raw = inflate(raw, limit)
    return parse_json(raw, "data")


async def _payload(request: Request) -> tuple[Any, dict[str, str]]:
    """The decoded JSON body and the form/query fields that came with it."""
    limit = app_state(request).settings.max_body_bytes
    query = request.query_params
    fields: dict[str, str] = {}
    compression = (query.get("compression") or "").lower()
    if request.method == "GET":
        data = query.get("data")
        if not data:
            raise IngestError(400, "GET needs a 'data' query parameter", attr="data")
        return _decode_data(data, compression, limit), fields

    body = await read_body(request, limit)
    body = decode_content_encoding(body, request.headers.get("content-encoding"), limit)
    if body[:2] == GZIP_MAGIC or (compression in ("gzip", "gzip-js") and body):
        body = inflate(body, limit)
    elif compression not in ("", "gzip", "gzip-js", "base64"):
        raise _unsupported(compression)

    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype == _FORM or body[:5] == b"data=":
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise IngestError(400, "form body is not UTF-8", code="invalid_payload") from None
        fields = {k: v[0] for k, v in form.items() if v}
        compression = (fields.get("compression") or compression).lower()
        if "data" not in fields:
            raise IngestError(400, "form body needs a 'data' field", attr="data")
        return _decode_data(fields["data"], compression, limit), fields
    if compression == "base64" and body[:1] not in (b"{", b"["):
        try:
            return _decode_data(body.decode("ascii"), compression, limit), fields
        except UnicodeDecodeError:
            raise IngestError(400, "base64 body is not ASCII", code="invalid_payload") from None
    return parse_json(body), fields


async def capture(request: Request) -> Response:
    """Ingest one event or a batch in PostHog's capture format.

    Body: one event, an array of events, or ``{"api_key", "batch": [...], "sent_at"}``;
    JSON, gzip (``Content-Encoding: gzip`` or ``?compression=gzip-js``) or the form field
    ``data=<base64 JSON>``. Key: ``api_key``/``token`` in the body or an event's
    properties, or ``?token=``.

    200 ``{"status": 1}`` once committed. If some events of a batch are invalid, the rest
    are stored and the answer is still 200, with
    ``"rejected": [{"index", "attr", "code", "detail"}]`` (PostHog SDKs resend or drop a
    whole batch on any other status). 400 names the bad field
    (``{"type": "validation_error", "code", "detail", "attr": "batch[3].timestamp"}``);
    401 bad or missing key; 413 body over the size limit (also after decompression);
    503 not stored, retry.
    """
    result = await _parse(request)
    return await accept(request, result, OK)


async def _parse(request: Request) -> ParseResult:
    """The request's events; the decoded body is freed before the commit is awaited."""
    received_at = utcnow()
    payload, fields = await _payload(request)
    query = request.query_params
    token = (
        posthog.find_token(payload)
        or fields.get("api_key")
        or fields.get("token")
        or query.get("token")
        or query.get("api_key")
        or _bearer(request)
    )
    project_id = await project_for_token(request, token, places=posthog.TOKEN_PLACES)
    try:
        with gc_paused():
            return posthog.parse(
                payload, project_id=project_id, token=token, received_at=received_at
            )
    except FieldError as exc:
        raise IngestError.from_field(exc) from None


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization") or ""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


_endpoint = guarded(capture)


async def options(request: Request) -> Response:
    return preflight(request)


for _path in PATHS:
    _slug = _path.strip("/").replace("/", "_")
    for _variant in (_path + "/", _path):
        for _method in ("POST", "GET"):
            router.add_api_route(
                _variant,
                _endpoint,
                methods=[_method],
                include_in_schema=_variant.endswith("/"),
                summary=f"PostHog capture ({_path}/)",
                operation_id=f"posthog_{_slug}_{_method.lower()}",
                response_class=Response,
            )
        router.add_api_route(_variant, options, methods=["OPTIONS"], include_in_schema=False)
