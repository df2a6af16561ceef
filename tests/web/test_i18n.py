"""Message catalogs: both languages complete, every used key defined, no bare text.

Scans every template and every Python file of the console (and the account services,
whose errors carry catalog keys), so an area added later is checked too.
"""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import Environment

from yunying.web import i18n

WEB = Path(i18n.__file__).parent
SRC = WEB.parent
TEMPLATES = sorted((WEB / "templates").rglob("*.html"))
PY_FILES = sorted(WEB.rglob("*.py")) + sorted((SRC / "accounts").rglob("*.py"))
AREAS = {p.stem for p in (WEB / "locales" / "en").glob("*.json")}
# Text allowed outside the catalogs: the product name, and symbols.
ALLOWED_TEXT = {"Yunying"}
DISPLAY_ATTRS = {"title", "placeholder", "alt", "aria-label", "label", "data-confirm"}
HOLE = "\ue000"  # stands in for a Jinja expression or statement in the scanned HTML


def test_both_locales_have_exactly_the_same_keys_and_files() -> None:
    for area in AREAS | {p.stem for p in (WEB / "locales" / "zh-CN").glob("*.json")}:
        en = json.loads((WEB / "locales" / "en" / f"{area}.json").read_text("utf-8"))
        zh = json.loads((WEB / "locales" / "zh-CN" / f"{area}.json").read_text("utf-8"))
        assert set(en) == set(zh), f"{area}.json: keys differ: {set(en) ^ set(zh)}"


def test_keys_are_prefixed_by_their_area_and_texts_are_not_empty() -> None:
    for locale in i18n.LOCALES:
        for path in (WEB / "locales" / locale).glob("*.json"):
            for key, text in json.loads(path.read_text("utf-8")).items():
                assert key.startswith(f"{path.stem}."), f"{locale}/{path.name}: {key}"
                assert isinstance(text, str) and text.strip(), f"{locale}/{path.name}: {key}"


def test_placeholders_match_between_locales() -> None:
    fields = re.compile(r"\{(\w+)\}")
    en, zh = i18n.catalog("en"), i18n.catalog("zh-CN")
    for key, text in en.items():
        assert set(fields.findall(text)) == set(fields.findall(zh[key])), key


def _template_keys(source: str) -> set[str]:
    return set(re.findall(r"""\bt\(\s*["']([^"']+)["']""", source))


def _python_keys(path: Path) -> set[str]:
    """String constants that look like catalog keys (``<area>.<...>``)."""
    keys = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value
            head = value.split(".", 1)[0]
            if (
                head in AREAS
                and re.fullmatch(r"[a-z_]+\.[A-Za-z0-9_.\-]+", value)
                and not value.endswith((".html", ".json", ".js", ".css", ".py"))
            ):
                keys.add(value)
    return keys


def _exists(key: str, catalog: dict[str, str]) -> bool:
    if key.endswith("."):  # a prefix completed at run time, e.g. t("core.role." ~ role)
        return any(k.startswith(key) for k in catalog)
    return key in catalog


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_used_key_exists(locale: str) -> None:
    catalog = i18n.catalog(locale)
    missing = []
    for path in TEMPLATES:
        missing += [(path.name, k) for k in _template_keys(path.read_text("utf-8"))]
    for path in PY_FILES:
        missing += [(path.name, k) for k in _python_keys(path)]
    missing = [(f, k) for f, k in missing if not _exists(k, catalog)]
    assert missing == []


class _TextFinder(HTMLParser):
    """Collects visible text and display attributes outside <script>/<style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._raw = 0

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag in ("script", "style"):
            self._raw += 1
        for name, value in attrs:
            if name in DISPLAY_ATTRS and value:
                self.found.append(value)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in ("script", "style"):
            self._raw = max(0, self._raw - 1)

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if not self._raw:
            self.found.append(data)


def bare_text(source: str) -> list[str]:
    """Text in a template that would reach the page without going through t()."""
    env = Environment()
    html = []
    for _lineno, kind, value in env.lex(source):
        if kind == "data":
            html.append(value)
        elif not html or not html[-1].endswith(HOLE):
            html.append(HOLE)
    finder = _TextFinder()
    finder.feed("".join(html))
    finder.close()
    out = []
    for chunk in finder.found:
        for piece in chunk.split(HOLE):
            rest = piece
            for word in ALLOWED_TEXT:
                rest = rest.replace(word, "")
            if any(ch.isalpha() for ch in rest):
                out.append(piece.strip())
    return out


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(WEB)))
def test_templates_have_no_bare_text(path: Path) -> None:
    assert bare_text(path.read_text("utf-8")) == []


def test_bare_text_detector_catches_text_and_attributes() -> None:
    assert bare_text("<p>Hello {{ name }}</p>") == ["Hello"]
    assert bare_text('<input placeholder="Search">') == ["Search"]
    assert bare_text("<p>{{ t('core.nav.overview') }} · 2</p>") == []
    assert bare_text('<a class="btn" href="/x">{{ t("a.b") }}</a>') == []
    assert bare_text("<script>var x = 'hello';</script>") == []
    assert bare_text("<b>概览</b>") == ["概览"]
    assert bare_text("<title>{{ x }} · Yunying</title>") == []


def test_translate_falls_back_and_fills_params() -> None:
    assert i18n.translate("zh-CN", "core.nav.retention") == "留存"
    assert i18n.translate("en", "core.error.title", status=404) == "Error 404"
    assert i18n.translate("en", "no.such.key") == "no.such.key"
