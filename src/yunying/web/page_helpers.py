"""Helpers shared by the analysis pages (overview, insights, dashboards, people, events)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from yunying.insights.errors import InsightError, NotFound
from yunying.web.errors import PageError
from yunying.web.forms import FormError
from yunying.web.i18n import DEFAULT_LOCALE, translate
from yunying.web.tables import Table, to_csv

log = logging.getLogger("yunying.web")

PLOTLY_JS = "/static/vendor/plotly.min.js"


def translator(request: Request) -> Callable[..., str]:
    """``t`` for page code (charts, tables), in the viewer's language."""
    locale = getattr(request.state, "locale", DEFAULT_LOCALE)

    def t(key: str, /, **params: object) -> str:
        return translate(locale, key, **params)

    return t


def error_text(t: Callable[..., str], err: FormError | InsightError) -> str:
    """The translated message for a bad field; it always names the field."""
    params: dict[str, Any] = dict(getattr(err, "params", {}) or {})
    return t(f"insights.error.{err.code}", field=t(f"insights.field.{err.field}"), **params)


@contextmanager
def found() -> Iterator[None]:
    """NotFound from a service → the console's 404 page (same for other projects' ids)."""
    try:
        yield
    except NotFound:
        raise PageError(404) from None


def csv_response(table: Table, name: str, today: date) -> Response:
    filename = f"yunying-{name}-{today.isoformat()}.csv"
    return Response(
        to_csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
