"""Browser tests: a real server on demo data, driven by Playwright in Debian's Chromium.

Why a real server and a real browser: the console's promises (CSP without inline scripts,
Plotly rendered from JSON, htmx swaps, cookies, language persistence) only hold or break
in a browser talking HTTP to uvicorn; the TestClient tests in ``tests/web`` cannot see them.

- ``e2e``: one server for the whole session (demo data for project 1, a second project
  with its own ``secret_event_p2``, four console users); see ``E2EWorld``.
- ``browser``: Chromium from ``/usr/bin/chromium`` (``YUNYING_E2E_CHROMIUM`` overrides).
  Missing browser or Playwright: skipped locally, a failure under ``CI`` — a CI machine
  whose set-up forgot the browser must not pass by skipping the browser tests.
- ``console``: ``console(account)`` opens a fresh browser context signed in as that
  account and returns a ``Tab``. Every page it opens fails the test if it logs errors
  (console ``error`` messages, uncaught exceptions) or shows a raw catalog key
  (``insights.field.step``) or template internals (``<Macro 'notice'>``) as text.
  ``tab.shot(name)`` writes a full-page PNG to
  ``test-artifacts/screenshots/<test>-<name>.png`` for a reviewer.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest

import yunying.web
from tests.live_server import LiveServer
from yunying.accounts.members import add_member
from yunying.accounts.users import create_user
from yunying.config import Settings
from yunying.db.bootstrap import bootstrap
from yunying.db.projects import create_project
from yunying.db.session import make_engine, make_sessionmaker, session_scope
from yunying.demo import DemoSummary, load_demo
from yunying.events.importer import import_file
from yunying.store.base import open_event_store

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("YUNYING_E2E_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium keeps dialling Google's hosts, and a
# closed network refuses those connections by the dozen; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 860}
TIMEOUT_MS = 15_000
PASSWORD = "e2e-password-1234"
TIMEZONE = "Asia/Shanghai"
DEMO_PERSONS = 400
DEMO_DAYS = 30
SECRET_EVENT = "secret_event_p2"
SECRET_PERSON = "secret-person-p2"
SECRET_DAYS = 10  # one of each secret event a day, the last ten demo days


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def demo_end() -> date:
    """Yesterday in the project's zone: fixed for the whole run and complete (no partial
    day), yet recent enough that pages defaulting to "the last N days" show the demo."""
    return datetime.now(ZoneInfo(TIMEZONE)).date() - timedelta(days=1)


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    role: str  # in project 1


@dataclass
class E2EWorld:
    """What the session's server holds, so tests name it instead of guessing."""

    server: LiveServer
    project_id: int
    other_project_id: int
    owner: Account
    viewer: Account
    analyst: Account  # a member nobody else uses: the language test changes its locale
    other_owner: Account  # owner of project 2 only
    demo: DemoSummary

    @property
    def url(self) -> str:
        return self.server.url

    def api_query(self, query: dict[str, Any]) -> Any:
        """Ask the HTTP API (secret key) the same question a page answered, to compare."""
        response = httpx.post(
            f"{self.url}/api/projects/{self.project_id}/query",
            json=query,
            headers={"Authorization": f"Bearer {self.server.secret_key}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


def _secret_events(path: Path, end: date) -> Path:
    """Project 2's own events: names and ids that must never appear in project 1."""
    rows = []
    for day in range(SECRET_DAYS):
        ts = datetime.combine(end - timedelta(days=day), datetime.min.time(), UTC) + timedelta(
            hours=4
        )
        for event in (SECRET_EVENT, "$pageview", "signup"):
            rows.append(
                {
                    "event": event,
                    "distinct_id": SECRET_PERSON,
                    "timestamp": ts.isoformat(),
                    "properties": {"secret_prop_p2": "only-in-p2", "plan": "p2-plan"},
                }
            )
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def build_world(root: Path) -> E2EWorld:
    """Data dir with project 1 (+ demo), project 2 (+ its secret events) and four users."""
    settings = Settings(data_dir=root / "data", default_timezone=TIMEZONE)
    first = bootstrap(settings, project_name="Demo community", timezone=TIMEZONE)
    assert first.created and first.owner_email and first.owner_password
    assert first.public_key and first.secret_key
    engine = make_engine(settings.resolved_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            other, _, _ = create_project(s, name="Secret project", timezone=TIMEZONE)
            users = {}
            for email, name, pid, role in (
                ("viewer@e2e.test", "Wei Viewer", first.project_id, "viewer"),
                ("analyst@e2e.test", "An Analyst", first.project_id, "analyst"),
                ("owner2@e2e.test", "Other Owner", other.id, "owner"),
            ):
                user = create_user(session=s, email=email, password=PASSWORD, name=name)
                add_member(session=s, project_id=pid, user_id=user.id, role=role)
                users[email] = Account(email, PASSWORD, role)
            other_id = other.id
    finally:
        engine.dispose()
    end = demo_end()
    store = open_event_store(settings)
    try:
        demo = load_demo(
            settings, store, project_id=first.project_id, persons=DEMO_PERSONS,
            days=DEMO_DAYS, end=end, progress=False, timezone=TIMEZONE,
        )  # fmt: skip
        import_file(store, project_id=other_id, path=_secret_events(root / "p2.jsonl", end))
    finally:
        store.close()
    server = LiveServer(
        settings.data_dir, first.project_id, first.public_key, first.secret_key,
        {"YUNYING_DEFAULT_TIMEZONE": TIMEZONE},
    )  # fmt: skip
    return E2EWorld(
        server=server,
        project_id=first.project_id,
        other_project_id=other_id,
        owner=Account(first.owner_email, first.owner_password, "owner"),
        viewer=users["viewer@e2e.test"],
        analyst=users["analyst@e2e.test"],
        other_owner=users["owner2@e2e.test"],
        demo=demo,
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright; never Playwright's own download (it cannot
    be fetched here, and the project installs Chromium from Debian in scripts/test.sh)."""
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        problem = f"playwright is not installed ({exc}); pip install -e '.[dev]'"
    if problem is None and not CHROMIUM.exists():
        problem = f"no Chromium at {CHROMIUM}; apt-get install chromium (scripts/test.sh does)"
    if problem is not None:
        if in_ci():
            pytest.fail(f"browser tests cannot run under CI: {problem}", pytrace=False)
        pytest.skip(problem)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def e2e(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[E2EWorld]:
    """The session's server (started after the browser, so a skip costs no demo load)."""
    world = build_world(tmp_path_factory.mktemp("e2e"))
    world.server.start()
    try:
        yield world
    finally:
        world.server.stop()


# Catalog areas: the known ones plus any the catalogs gained since.
AREAS = sorted(
    {"core", "auth", "settings", "overview", "insights", "dashboards", "people", "events"}
    | {p.stem for p in (Path(yunying.web.__file__).parent / "locales" / "en").glob("*.json")}
)
# A catalog key shown as text ("insights.field.step"): the translation is missing.
RAW_KEY = re.compile(rf"(?<![\w/.$@-])(?:{'|'.join(AREAS)})\.[a-z][a-z0-9_]*(?:\.[a-z0-9_-]+)*")
TEMPLATE_LEAK = re.compile(r"<Macro '\w+'>|\{\{|\{%|\bUndefined\b|\bjinja2\.\w+")
SHOWN_TEXT_JS = """() => [
  document.title,
  document.body.innerText,
  ...[...document.querySelectorAll('[placeholder], [title], [aria-label]')].flatMap(
    (e) => ['placeholder', 'title', 'aria-label'].map((a) => e.getAttribute(a) || '')),
].join('\\n')"""


def shown_text(page: Page) -> str:
    """What a reader sees: body text plus placeholders, titles and aria labels."""
    return page.evaluate(SHOWN_TEXT_JS)


def assert_readable(page: Page) -> None:
    """No catalog key and no template internals ("<Macro 'notice'>", "{{") shown as text."""
    text = shown_text(page)
    raw = sorted(set(RAW_KEY.findall(text)))
    assert not raw, f"{page.url}: untranslated catalog keys shown: {raw}"
    leaks = sorted(set(TEMPLATE_LEAK.findall(text)))
    assert not leaks, f"{page.url}: template internals shown as text: {leaks}"


# Chromium logs every non-2xx sub-resource or navigation as a console error; a page we
# open expecting 403/404 is allowed exactly that message, nothing else.
_FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


@dataclass
class Tab:
    """One signed-in browser context with its page, its errors and its screenshots."""

    world: E2EWorld
    context: BrowserContext
    page: Page
    test_name: str
    account: Account | None
    errors: list[str] = field(default_factory=list)
    allowed: dict[str, int] = field(default_factory=dict)  # url → expected status

    def url(self, path: str) -> str:
        return f"{self.world.url}{path}"

    def goto(self, path: str, *, status: int = 200) -> Response:
        """Open ``path``, expect ``status``, wait for charts, and fail on page errors."""
        if status >= 400:
            self.allowed[self.url(path)] = status
        response = self.page.goto(self.url(path), wait_until="load")
        assert response is not None, f"no response for {path}"
        assert response.status == status, f"{path}: HTTP {response.status}, expected {status}"
        self.settle()
        return response

    def settle(self) -> None:
        """Wait until every Plotly figure on the page is drawn, then check for errors."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('script.plotly-figure')]"
            ".every(s => s.dataset.rendered)",
            timeout=TIMEOUT_MS,
        )
        self.assert_no_errors()
        assert_readable(self.page)

    def record(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = message.text
        found = _FAILED_LOAD.search(text)
        where = (message.location or {}).get("url", "")
        if found and self.allowed.get(where) == int(found.group(1)):
            return
        self.errors.append(f"console.error at {where}: {text}")

    def assert_no_errors(self) -> None:
        errors, self.errors = self.errors, []
        assert not errors, "the page reported errors:\n" + "\n".join(errors)

    def shot(self, name: str) -> Path:
        """A full-page PNG for the reviewer: test-artifacts/screenshots/<test>-<name>.png."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.test_name}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    def sign_in(self, account: Account, *, next_path: str = "/") -> Response:
        self.goto(f"/login?next={next_path}")
        self.page.fill("#email", account.email)
        self.page.fill("#password", account.password)
        with self.page.expect_navigation(wait_until="load") as nav:
            self.page.click("[data-testid=login-submit]")
        response = nav.value
        assert response is not None
        self.settle()
        return response


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


@pytest.fixture(scope="session")
def signed_in_states() -> dict[str, Any]:
    """Cookies of each account's first sign-in through the form, reused by later tabs:
    a sign-in costs a password hash and a page load, and most tests are about what
    comes after it."""
    return {}


@pytest.fixture
def console(
    browser: Browser,
    e2e: E2EWorld,
    signed_in_states: dict[str, Any],
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., Tab]]:
    """``console(account)`` → a Tab signed in as ``account`` (``None``: signed out).

    Each call is a new browser context, in Chinese unless ``locale`` says otherwise, as a
    first-time visitor from China would be. The account signs in through the form the
    first time in the session (or with ``fresh=True``); later tabs reuse its cookies.
    """
    tabs: list[Tab] = []
    test_name = _safe(request.node.name.removeprefix("test_"))

    def open_tab(account: Account | None, *, locale: str = "zh-CN", fresh: bool = False) -> Tab:
        state = None if account is None or fresh else signed_in_states.get(account.email)
        context = browser.new_context(viewport=VIEWPORT, locale=locale, storage_state=state)  # type: ignore[arg-type]
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        tab = Tab(e2e, context, page, test_name, account)
        page.on("console", tab.record)
        page.on("pageerror", lambda exc: tab.errors.append(f"uncaught: {exc}"))
        tabs.append(tab)
        if account is not None and state is None:
            tab.sign_in(account, next_path="/account")
            assert tab.page.url == tab.url("/account"), f"sign-in failed: {tab.page.url}"
            if not fresh:
                signed_in_states[account.email] = context.storage_state()
        return tab

    yield open_tab
    leftovers = []
    for tab in tabs:
        leftovers += tab.errors
        tab.context.close()
    if leftovers:
        pytest.fail("the page reported errors:\n" + "\n".join(leftovers), pytrace=False)
