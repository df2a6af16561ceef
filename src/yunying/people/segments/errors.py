"""Errors the API, CLI and console turn into a message naming the field."""

from __future__ import annotations

from yunying.insights.errors import NotFound

__all__ = ["NotFound", "SegmentError"]


class SegmentError(ValueError):
    """A bad value for ``field`` (a form field, or a DSL path like ``definition.conditions.0``).

    ``code`` picks a translated message in the console; ``problems`` lists every
    (path, message) when a definition has several.
    """

    def __init__(
        self,
        field: str,
        code: str,
        message: str,
        problems: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
        self.message = message
        self.problems = problems or [(field, message)]
