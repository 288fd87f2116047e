"""Browser tests: Debian's headless Chromium driven by Playwright against pytest-django's live server.

No browser download (it fails here): Playwright launches /usr/bin/chromium. The server serves the
built UI (frontend/dist) the way production does. Each test's screenshots go to
`$PREFLOOP_SCREENSHOT_DIR` (default `reports/screenshots/`); copy them to `docs/screenshots/` to
update the README's pictures.
"""
import os
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = Path(os.environ.get("PREFLOOP_SCREENSHOT_DIR", ROOT / "reports" / "screenshots"))


@pytest.fixture(scope="module", autouse=True)
def _orm_beside_playwright():
    """Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run beside
    one unless told that plain test code (not a real async context) is calling it. Only while this
    module's browser lives, so the rest of the suite keeps Django's check."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(_orm_beside_playwright):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run scripts/ensure_chromium.sh (Debian package chromium).")
    if not (settings.FRONTEND_DIST / "index.html").exists():
        pytest.fail("The web UI is not built (frontend/dist): run `make frontend` or `cd frontend && npm ci && npm run build`.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageWatch:
    """What a page did that a test may forbid: console errors, uncaught errors, dialogs, requests."""

    def __init__(self, page, origin: str):
        self.origin = origin
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("dialog", self._dialog)
        page.on("request", lambda request: self.requests.append(request.url))

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def outside_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(self.origin) and not url.startswith("data:")]

    def assert_clean(self, *, allow_console: tuple[str, ...] = ()) -> None:
        errors = [e for e in self.console_errors if not any(a in e for a in allow_console)]
        assert not errors, f"console errors: {errors}"
        assert not self.page_errors, f"uncaught page errors: {self.page_errors}"
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"


@pytest.fixture
def page_factory(browser, live_server):
    """`new_page(width=1280, height=900)` -> (page, watch); contexts are closed after the test."""
    contexts = []

    def new_page(width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        return page, PageWatch(page, live_server.url)

    yield new_page
    for context in contexts:
        context.close()
    _wait_for_requests_in_flight()


def _wait_for_requests_in_flight(timeout: float = 10.0) -> None:
    """The live server may still be answering what a page sent just before it closed (a prefetch,
    a look for new tasks); the test's database flush must not race that request's locks (a deadlock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(
        thread.name.endswith("(process_request_thread)") for thread in threading.enumerate()
    ):
        time.sleep(0.05)


@pytest.fixture
def screenshot():
    """`screenshot(page, "name")` saves name.png under the screenshot directory."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def save(page, name: str, full_page: bool = True) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return save


def login(page, username: str, password: str) -> None:
    """Logs in through the form, with the keyboard, and waits for the project list."""
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your projects").wait_for()
