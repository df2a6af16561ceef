"""The HTTP side both ingest formats share: body limits and decoding, keys, answers.

Kept free of any per-format knowledge so PostHog and Segment requests are limited,
authenticated and acknowledged the same way:

- the body is refused with 413 when its declared ``Content-Length``, its actual size, or
  its size after decompression exceeds ``settings.max_body_bytes`` (so a small gzip bomb
  cannot expand into memory);
- project keys are resolved through a small in-memory cache (the hot path does not touch
  the operational database);
- a 2xx is sent only after the ingest writer reports the events committed.

Error bodies follow PostHog's shape, which its SDKs log as-is:
``{"type": "validation_error", "code": "invalid_payload", "detail": "...",
"attr": "batch[3].timestamp"}``.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from yunying.api.state import AppState
from yunying.db.projects import project_for_key
from yunying.events.gc_pause import gc_paused
from yunying.events.model import Event
from yunying.events.validation import FieldError, ParseResult
from yunying.events.writer import WriterClosed

log = logging.getLogger(__name__)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Max-Age": "86400",
}
GZIP_MAGIC = b"\x1f\x8b"


class IngestError(Exception):
    """An ingest request that is answered with an error (the body names the problem)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str = "validation_error",
        code: str = "invalid_payload",
        attr: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type
        self.code = code
        self.attr = attr
        self.extra = extra or {}

    @classmethod
    def from_field(cls, exc: FieldError, **extra: Any) -> IngestError:
        return cls(400, exc.detail, code=exc.code, attr=exc.attr, extra=extra)

    def response(self) -> Response:
        body = {"type": self.type, "code": self.code, "detail": self.detail, "attr": self.attr}
        body.update(self.extra)
        return json_response(body, self.status)


def json_response(content: dict[str, Any], status: int = 200) -> Response:
    return Response(
        orjson.dumps(content),
        status_code=status,
        media_type="application/json",
        headers=CORS_HEADERS,
    )


def preflight(request: Request) -> Response:
    """CORS preflight: browsers ask before sending compressed or authorised bodies."""
    headers = dict(CORS_HEADERS)
    asked = request.headers.get("access-control-request-headers")
    headers["Access-Control-Allow-Headers"] = asked or "Content-Type, Content-Encoding"
    return Response(status_code=200, headers=headers)


def guarded(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Turn ``IngestError`` (and ``FieldError``) raised by ``handler`` into its response.

    What ``read_body`` starts for the request (the collector pause, the announcement to
    the ingest writer) ends here, when the answer is ready.
    """

    async def endpoint(request: Request) -> Response:
        try:
            with ExitStack() as held:
                request.state.ingest_held = held
                return await handler(request)
        except IngestError as exc:
            return exc.response()
        except FieldError as exc:
            return IngestError.from_field(exc).response()

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def app_state(request: Request) -> AppState:
    return request.app.state.yunying


# ---- body ----------------------------------------------------------------------------------


def too_large(limit: int, what: str) -> IngestError:
    return IngestError(413, f"{what} exceeds the limit of {limit} bytes", code="payload_too_large")


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing early on a declared or actual size over ``limit``."""
    declared = request.headers.get("content-length")
    if declared:
        try:
            if int(declared) > limit:
                raise too_large(limit, "request body (Content-Length)")
        except ValueError:
            raise IngestError(
                400, "Content-Length is not a number", code="invalid_header"
            ) from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit, "request body")
        chunks.append(chunk)
    held = getattr(request.state, "ingest_held", None)
    if held is not None:  # inside ``guarded``: both last until the answer is ready
        # The collector is paused until the answer, the wait for the commit included, not
        # just while parsing: the events made from this body are freed by reference
        # counting once committed, so no collection ever needs to walk them (a pause
        # that ended after parsing made the next collection walk every request's events:
        # ~3% of ingest CPU).
        held.enter_context(gc_paused())
        # The writer may hold a commit open for these events (see ``IngestWriter``);
        # ``store_events`` ends the announcement once they are queued.
        request.state.ingest_arrival = held.enter_context(app_state(request).writer.arriving())
    # Neither starts before the body is read: a slow upload must hold back nothing.
    return b"".join(chunks)


def inflate(body: bytes, limit: int, *, wbits: int = 31) -> bytes:
    """Decompress gzip (``wbits=31``) or zlib (15) data, never past ``limit`` bytes."""
    out = bytearray()
    data = body
    while data:
        d = zlib.decompressobj(wbits)
        try:
            out += d.decompress(data, limit + 1 - len(out))
        except zlib.error as exc:
            raise IngestError(
                400, f"body could not be decompressed: {exc}", code="invalid_compression"
            ) from None
        if len(out) > limit or d.unconsumed_tail:
            raise too_large(limit, "decompressed request body")
        if not d.eof:
            raise IngestError(400, "compressed body is truncated", code="invalid_compression")
        # gzip may have several members (and some writers pad with NULs)
        data = d.unused_data.lstrip(b"\x00") if wbits == 31 else b""
    return bytes(out)


def decode_content_encoding(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate); other encodings are refused with 415."""
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc in ("gzip", "x-gzip"):
        return inflate(body, limit, wbits=31)
    if enc == "deflate":
        return inflate(body, limit, wbits=15 if body[:1] == b"\x78" else -15)
    raise IngestError(
        415,
        f"Content-Encoding {enc!r} is not supported; send gzip, deflate or no encoding",
        code="unsupported_encoding",
    )


def parse_json(body: bytes | str, what: str = "body") -> Any:
    if not body:
        raise IngestError(400, f"{what} is empty", code="invalid_payload")
    try:
        with gc_paused():
            return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise IngestError(400, f"{what} is not valid JSON: {exc}", code="invalid_json") from None


# ---- keys ----------------------------------------------------------------------------------


@dataclass
class KeyCache:
    """Project key → project id, remembered briefly so ingest skips the database.

    A revoked key keeps working for at most ``ttl`` seconds; an unknown key is
    remembered as unknown for ``negative_ttl`` seconds (so random keys cost little).
    """

    ttl: float = 60.0
    negative_ttl: float = 5.0
    max_entries: int = 10_000
    _entries: dict[str, tuple[int | None, float]] = field(default_factory=dict)

    def get(self, token: str) -> tuple[bool, int | None]:
        hit = self._entries.get(token)
        if hit is None or hit[1] < time.monotonic():
            return False, None
        return True, hit[0]

    def clear(self) -> None:
        """Forget every key (after revoking one, to make it stop working at once)."""
        self._entries.clear()

    def put(self, token: str, project_id: int | None) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        ttl = self.ttl if project_id is not None else self.negative_ttl
        self._entries[token] = (project_id, time.monotonic() + ttl)


def key_cache(request: Request) -> KeyCache:
    cache = getattr(request.app.state, "ingest_key_cache", None)
    if cache is None:
        cache = request.app.state.ingest_key_cache = KeyCache()
    return cache


def _lookup(state: AppState, token: str) -> int | None:
    with state.sessions() as session:
        project = project_for_key(session, token, kinds=("public",))
        return project.id if project is not None else None


async def project_for_token(request: Request, token: str | None, *, places: str) -> int:
    """The project a public (ingest) key belongs to, or a 401 naming where we looked."""
    if not token:
        raise IngestError(
            401,
            f"no project API key found; looked in {places}",
            type="authentication_error",
            code="missing_api_key",
        )
    cache = key_cache(request)
    found, project_id = cache.get(token)
    if not found:
        project_id = await run_in_threadpool(_lookup, app_state(request), token)
        cache.put(token, project_id)
    if project_id is None:
        raise IngestError(
            401,
            "project API key invalid or revoked; use the project's public key "
            f"(looked in {places})",
            type="authentication_error",
            code="invalid_api_key",
        )
    return project_id


# ---- acknowledging -----------------------------------------------------------------------


async def store_events(request: Request, events: Sequence[Event]) -> None:
    """Return once ``events`` are committed; 503 (so SDKs retry) if they cannot be."""
    arrival = getattr(request.state, "ingest_arrival", None)
    try:
        await app_state(request).writer.submit(events, arrival)
    except WriterClosed:
        raise IngestError(
            503, "the server is shutting down; retry", type="server_error", code="unavailable"
        ) from None
    except Exception:
        log.exception("ingest write failed")
        raise IngestError(
            503, "events could not be stored; retry", type="server_error", code="write_failed"
        ) from None


async def accept(request: Request, result: ParseResult, ok: dict[str, Any]) -> Response:
    """Store the good events of ``result`` and answer ``ok`` plus any rejected items.

    A batch whose every event was rejected is a 400 (nothing was stored).
    """
    rejected = [r.as_dict() for r in result.rejected]
    if not result.events and rejected:
        first = result.rejected[0]
        raise IngestError(
            400,
            f"every event was rejected; first: {first.detail}",
            code=first.code,
            attr=first.attr,
            extra={"rejected": rejected},
        )
    await store_events(request, result.events)
    if rejected:
        return json_response({**ok, "rejected": rejected})
    return json_response(ok)
