"""Message catalogs for the console (zh-CN and en).

Every UI string is a key looked up here; templates and page code never hold display text.
Catalogs are flat JSON files, one per console area (``locales/<locale>/<area>.json``), so
translators edit plain files and a test can prove both languages have exactly the same keys.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
_DIR = Path(__file__).parent / "locales"


@cache
def catalog(locale: str) -> dict[str, str]:
    """All keys of ``locale``; a key defined in two area files is an error."""
    merged: dict[str, str] = {}
    for path in sorted((_DIR / locale).glob("*.json")):
        for key, text in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged:
                raise ValueError(f"{path.name}: key {key!r} is defined twice")
            merged[key] = text
    return merged


def translate(locale: str, key: str, /, **params: object) -> str:
    """The text for ``key`` in ``locale`` (falling back to English, then to the key)."""
    text = catalog(locale).get(key) or catalog("en").get(key) or key
    return text.format(**params) if params else text


def normalize(locale: str | None) -> str | None:
    """'zh', 'zh-cn', 'zh_CN' → 'zh-CN'; 'en-US' → 'en'; unknown → None."""
    if not locale:
        return None
    tag = locale.strip().replace("_", "-").lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None) -> str:
    """Pick a supported locale from an Accept-Language header, by quality."""
    if not accept_language:
        return DEFAULT_LOCALE
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            quality = float(q) if q else 1.0
        except ValueError:
            quality = 0.0
        found = normalize(tag)
        if found and quality > 0:
            choices.append((-quality, i, found))
    return sorted(choices)[0][2] if choices else DEFAULT_LOCALE
