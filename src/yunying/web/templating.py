"""The Jinja2 environment for console pages.

Autoescaping is on for every template; page code passes data, never HTML. ``t`` (translate)
is bound per request to the viewer's locale. Every page also gets ``user`` (Viewer or
None), ``csrf_token``, ``projects`` (the viewer's projects, for the switcher) and
``access`` (the ProjectAccess of the current ``/p/{id}/`` page, or None).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from yunying import __version__
from yunying.web.i18n import DEFAULT_LOCALE, LOCALES, translate

TEMPLATES = Path(__file__).parent / "templates"


def format_datetime(value: datetime | None, tz: str | None = None) -> str:
    """``YYYY-MM-DD HH:MM`` in ``tz`` (the project's zone; UTC when not given)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz or "UTC")).strftime("%Y-%m-%d %H:%M")


def format_number(value: float | int | None, digits: int = 0) -> str:
    """Thousands separators; the same in zh-CN and en consoles."""
    if value is None:
        return ""
    return f"{value:,.{digits}f}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    env.globals["locales"] = LOCALES
    env.filters["datetime"] = format_datetime
    env.filters["number"] = format_number
    return env


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``name`` for this request's viewer (locale, user, CSRF token, projects)."""
    state = request.state
    locale = getattr(state, "locale", DEFAULT_LOCALE)

    def t(key: str, /, **params: object) -> str:
        return translate(locale, key, **params)

    base: dict[str, Any] = {
        "request": request,
        "locale": locale,
        "t": t,
        "user": getattr(state, "user", None),
        "csrf_token": getattr(state, "csrf_token", ""),
        "projects": getattr(state, "projects", []),
        "access": getattr(state, "access", None),
    }
    html = environment().get_template(name).render({**base, **context})
    return HTMLResponse(html, status_code=status_code)
