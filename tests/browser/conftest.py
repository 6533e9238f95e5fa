"""A real Chromium (Debian's, driven by Playwright) against the real stack.

Playwright cannot download browsers here; `make test` installs Debian's
chromium where it can (as root). Without it these tests fail in CI and are
skipped, loudly, on a developer machine that cannot install it.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.live_stack import LiveStack

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The sync Playwright API keeps an event loop in the test thread; Django's ORM
# would refuse to run there. Tests only use the ORM to create users up front.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    message = (
        f"BROWSER TESTS NOT RUN: no Chromium at {CHROMIUM}. Install Debian's chromium "
        "(sudo apt-get install chromium) or set CHROMIUM_PATH."
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


# Module scope, not session: Playwright's sync API keeps an event loop running
# in the test thread while it is open, which would break later tests that run
# their own loop.
@pytest.fixture(scope="module")
def playwright_browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def stack_port() -> int:
    return free_port()


@pytest.fixture
def stack_env() -> dict[str, str]:
    """More environment for the stack's processes: a module overrides this fixture."""
    return {}


@pytest.fixture
def stack(broker, tmp_path, transactional_db, stack_port, stack_env, monkeypatch):
    for name, value in stack_env.items():
        monkeypatch.setenv(name, value)
    running = LiveStack(tmp_path=tmp_path, port=stack_port)
    try:
        running.start_consumer("alerts")
        running.start_web()
        running.wait_consumer_ready("alerts")
        yield running
    finally:
        running.stop_all()


def wait_for_function_under_csp(page, expression: str, *, arg=None, timeout: float = 30000, polling=None):
    """``page.wait_for_function`` that works on pages whose policy forbids eval.

    Playwright compiles a wait_for_function predicate with ``new Function`` in
    the page, which our Content-Security-Policy (no 'unsafe-eval') rightly
    refuses; ``page.evaluate`` goes through the DevTools protocol instead, which
    the policy does not apply to. Polls every 50 ms until the value is truthy.
    """
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            value = page.evaluate(expression, arg)
        except Error as exc:
            if "Execution context was destroyed" not in str(exc) and "navigation" not in str(exc):
                raise
            value = None  # the page is navigating: ask the next one
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} ms waiting for: {expression}")
        page.wait_for_timeout(50)


@pytest.fixture
def new_page(playwright_browser):
    """Pages under the real Content-Security-Policy; a violation fails the test."""
    contexts, violations = [], []

    def make(viewport=(1366, 768)):
        context = playwright_browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        page = context.new_page()
        page.on(
            "console",
            lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
        )
        page.wait_for_function = functools.partial(wait_for_function_under_csp, page)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not violations, f"the page broke its Content-Security-Policy: {violations}"
