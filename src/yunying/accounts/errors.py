"""The one error type the account services raise.

It carries a message-catalog key (not English text), so the console can show it in the
viewer's language and the CLI can still print something readable.
"""

from __future__ import annotations


class AccountError(ValueError):
    """A refused account operation; ``key`` is a catalog key such as ``auth.error.x``."""

    def __init__(self, key: str, /, **params: object) -> None:
        super().__init__(key if not params else f"{key} {params}")
        self.key = key
        self.params = params
