"""Headless Chromium for tests that must see a page as a person's browser renders it.

Chromium comes from Debian (scripts/system-deps installs it for `make test`).
Under CI=true a missing browser fails the test; elsewhere it skips, saying how
to install it. The profile is a fresh folder and every network feature is off,
so a page that needed anything from outside would render without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("CI requires chromium (scripts/system-deps installs it)")
    pytest.skip("chromium is not installed: run `make system-deps` (apt-get install chromium)")


def _run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [chromium(), *_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM after Chromium parsed (and would have run) the page, serialised."""
    return _run(page, profile, "--dump-dom").stdout


def screenshot(page: Path, profile: Path, name: str) -> Path:
    """A PNG of the page kept under test-artifacts/ (gitignored) for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    target.unlink(missing_ok=True)
    _run(page, profile, f"--screenshot={target}", "--window-size=1280,1800")
    return target


_BLOCKS = frozenset(
    [
        "p",
        "li",
        "td",
        "th",
        "tr",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "div",
        "table",
        "ul",
        "dl",
        "br",
    ]
)


class Rendered(HTMLParser):
    """The text a reader sees and the element names the browser built."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[str] = []
        self._hidden = 0
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in _BLOCKS:  # a cell or a paragraph ends a word, an inline tag does not
            self.parts.append(" ")
        self._hidden += tag in ("style", "title", "script")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("style", "title", "script")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())
