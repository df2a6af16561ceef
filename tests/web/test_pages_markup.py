"""Markup promises a reviewer found broken in the screenshots: commands shown as code
(not backticks), time cells that never wrap, no remove button for the last owner, heat
table and calendar styled by classes (only the heat value is an inline CSS variable)."""

from __future__ import annotations

import re

from tests.web.conftest import HTML, Console, login
from tests.web.pages_support import get, member, seed
from yunying.web.middleware import CSP


def test_sign_in_hint_shows_the_command_as_code_in_both_languages(console: Console) -> None:
    for lang, words in (("zh-CN", "首次使用"), ("en", "First time here")):
        html = console.new_client().get("/login", headers={**HTML, "accept-language": lang}).text
        hint = re.search(r'data-testid="first-run-hint">(.*?)</p>', html, re.S).group(1)
        assert words in hint and "<code>yunying init</code>" in hint, hint
        assert "`" not in hint and "{command}" not in hint


def test_last_owner_has_no_remove_button(console: Console) -> None:
    pid = console.project()
    me = console.user("boss@x.io", "owner", pid)
    ann = console.user("ann@x.io", "viewer", pid)
    login(console.client, "boss@x.io")
    html = get(console, f"/p/{pid}/settings/members").text
    assert f'data-testid="remove-{me}"' not in html and f'data-testid="role-{me}"' not in html
    assert f'data-testid="last-owner-{me}"' in html  # says why, instead of a refused button
    assert f'data-testid="remove-{ann}"' in html
    co = console.user("co@x.io", "owner", pid)  # two owners: either may go
    html = get(console, f"/p/{pid}/settings/members").text
    assert f'data-testid="remove-{me}"' in html and f'data-testid="remove-{co}"' in html
    assert "last-owner-" not in html


def test_time_cells_do_not_wrap(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    html = get(console, f"/p/{pid}/events").text
    times = re.findall(r'<td class="time">(\d{4}-\d\d-\d\d \d\d:\d\d)</td>', html)
    rows = re.findall(r'data-testid="event-row"', html)
    assert rows and len(times) == len(rows)
    css = console.client.get("/static/app.css").text
    assert re.search(r"td\.time[^{]*\{[^}]*white-space: nowrap", css)


def test_heat_table_uses_classes_and_a_css_variable(console: Console) -> None:
    pid = member(console)
    seed(console, pid)
    html = get(console, f"/p/{pid}/insights/retention?start_event=signup&return_event=view"
                        "&period=day&periods=7&range=14d").text  # fmt: skip
    table = re.search(r'data-testid="retention-table".*?</table>', html, re.S).group(0)
    styles = re.findall(r'style="([^"]*)"', table)
    assert styles and all(re.fullmatch(r"--v: [0-9.]+", s) for s in styles), styles
    assert 'class="num heat-cell' in table
    assert "style-src 'self' 'unsafe-inline'" in CSP  # style attributes are allowed
