"""Small helpers shared by console route modules (no FastAPI routes here)."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to go to after a form, never another host (open-redirect guard)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def client_address(request) -> str:  # type: ignore[no-untyped-def]
    return request.client.host if request.client else "unknown"
