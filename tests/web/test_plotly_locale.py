"""Plotly's own UI in Chinese: the zh-CN locale file Yunying serves, and how pages use it.

The browser side (toolbar tooltips really in Chinese) is checked in tests/e2e; here: the
file is served as JavaScript from Yunying itself (the CSP allows no other source), every
string it translates is one the bundled Plotly actually asks for (so an upgrade that
renames a string shows up here), and app.js sets ``config.locale`` from the page language.
"""

from __future__ import annotations

import re

from tests.web.conftest import Console
from yunying.web.app import STATIC, plotly_js_path

LOCALE_JS = STATIC / "plotly-locale-zh-cn.js"


def dictionary_keys(source: str) -> list[str]:
    body = re.search(r"dictionary: \{(.*?)\n    \}", source, re.S)
    assert body, "no dictionary in the locale file"
    return re.findall(r'^\s*"((?:[^"\\]|\\.)+)":', body.group(1), re.M)


def test_locale_file_is_served_from_yunying(console: Console) -> None:
    r = console.client.get("/static/plotly-locale-zh-cn.js")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    assert 'name: "zh-CN"' in r.text and "Plotly.register(locale)" in r.text


def test_every_translated_string_is_one_plotly_uses() -> None:
    bundle = plotly_js_path().read_text("utf-8")
    keys = dictionary_keys(LOCALE_JS.read_text("utf-8"))
    assert "Download plot as a PNG" in keys and "Zoom" in keys
    unknown = [k for k in keys if f'"{k}")' not in bundle]  # as in _(gd, "Zoom")
    assert unknown == []


def test_app_js_sets_the_locale_and_hides_the_cloud_button() -> None:
    app_js = (STATIC / "app.js").read_text("utf-8")
    assert '"zh-CN": "/static/plotly-locale-zh-cn.js"' in app_js
    assert "locale ? { locale: locale } : {}" in app_js
    assert "showSendToCloud: false" in app_js


def test_pages_name_their_language_for_the_charts(console: Console) -> None:
    """app.js reads the page language from <body data-locale>."""
    r = console.client.get("/login", headers={"accept-language": "zh-CN"})
    assert 'data-locale="zh-CN"' in r.text
    r = console.client.get("/login", headers={"accept-language": "en"})
    assert 'data-locale="en"' in r.text
