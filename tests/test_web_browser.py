"""A real browser (Debian's chromium driven by Playwright) against `roster web` running
as its own process: log in, find the held batch, drill down to a rejected row,
approve, see the status change; a viewer's approval is refused. Screenshots are
kept under test-artifacts/ (git-ignored) for people to look at."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import ARTIFACTS
from tests.web_helpers import HOSTILE, PASSWORDS, Deployment

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def console(deployment: Deployment, store_url: str) -> Iterator[str]:
    """`roster web` in a process of its own; its base URL."""
    port = _free_port()
    roster = Path(sys.executable).with_name("roster")
    argv = [str(roster), "--home", str(deployment.settings.home), "--db", store_url,
            "web", "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server)
        yield base
    finally:
        server.terminate()
        server.wait(20)


def _wait_until_up(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(
                f"roster web exited: {server.stdout.read() if server.stdout else ''}"
            )
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("roster web did not answer /healthz within 60 s")


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI requires chromium (scripts/system-deps installs it)")
        pytest.skip("chromium is not installed: run `make system-deps`")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=_ARGS, headless=True)
        yield launched
        launched.close()


def _shot(page: Page, folder: Path, name: str) -> Path:
    target = folder / name
    page.screenshot(path=str(target), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(target, ARTIFACTS / name)
    return target


def _log_in(page: Page, base: str, name: str, path: str = "/") -> None:
    page.goto(base + path)
    expect(page).to_have_url(f"{base}/login?next={path.replace('/', '%2F')}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")


def test_operator_approves_a_held_batch(
    browser: Browser, console: str, deployment: Deployment, tmp_path: Path, store_url: str
) -> None:
    engine = "postgresql" if store_url.startswith("postgres") else "sqlite"
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    scripts: list[str] = []
    page.on("dialog", lambda d: scripts.append(d.message))  # an alert() would land here
    _log_in(page, console, "otto")
    held = page.locator('tr.district[data-status="held"]')
    expect(held).to_have_count(1)
    expect(page.get_by_text(f"Evil {HOSTILE}")).to_be_visible()  # shown as text, not run
    _shot(page, tmp_path, f"console-overview-{engine}.png")
    held.get_by_role("link", name="held").click()
    expect(page.locator("#batch-status")).to_have_text("held")
    page.locator("a.drill").first.click()
    expect(page.locator("tr.reject").first).to_be_visible()
    _shot(page, tmp_path, f"console-rejects-{engine}.png")
    page.go_back()
    page.get_by_role("link", name="Approve…").click()
    expect(page.locator("#confirm-text")).to_contain_text("deleted")
    page.click("#confirm")
    expect(page.locator("#batch-status")).to_have_text("loaded_with_rejects")
    _shot(page, tmp_path, f"console-approved-{engine}.png")
    assert scripts == []


def test_a_viewer_cannot_approve(browser: Browser, console: str, deployment: Deployment) -> None:
    page = browser.new_page()
    batch = deployment.held.batch_id
    _log_in(page, console, "vera", f"/batches/{batch}")
    expect(page.locator("#batch-status")).to_have_text("held")
    expect(page.get_by_role("link", name="Approve…")).to_have_count(0)
    page.goto(f"{console}/batches/{batch}/actions/approve")
    page.click("#confirm")
    expect(page.locator("#error-message")).to_contain_text("needs the operator role")
    page.goto(f"{console}/batches/{batch}")
    expect(page.locator("#batch-status")).to_have_text("held")


def test_cookie_is_secure_behind_a_tls_proxy(console: str) -> None:
    """A proxy on loopback that says https gets Secure cookies; plain http does not."""
    cookies = []
    for headers in ({"X-Forwarded-Proto": "https"}, {}):
        request = urllib.request.Request(f"{console}/login", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as answer:
            cookies.append(answer.headers["set-cookie"])
    assert "Secure" in cookies[0]
    assert "Secure" not in cookies[1]
    assert "HttpOnly" in cookies[1]
    assert "SameSite=strict" in cookies[1]
