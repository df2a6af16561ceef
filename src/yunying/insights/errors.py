"""Errors the console turns into a message next to the offending field (or a 404)."""

from __future__ import annotations


class NotFound(LookupError):
    """The object does not exist in this project (other projects' ids look the same)."""


class InsightError(ValueError):
    """A bad value for ``field``; ``code`` picks the translated message in the console."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code
