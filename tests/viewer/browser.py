"""Headless Chromium (Debian's package) through Playwright for Python."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("TWIN_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--ignore-gpu-blocklist"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "viewer"


def chromium_path() -> str:
    """Return the Chromium executable, or skip (fail in CI) when it is absent."""
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    return path


@contextlib.contextmanager
def browser_page(width: int = 1280, height: int = 800, *, mobile: bool = False, bypass_csp: bool = True):
    """Yield a Playwright page in a fresh headless Chromium.

    ``bypass_csp``: Playwright's waiting helpers evaluate strings in the page, which the
    app's Content-Security-Policy forbids; tests of the CSP itself pass False.
    """
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": width, "height": height},
                                      is_mobile=mobile, has_touch=mobile, bypass_csp=bypass_csp)
            page = ctx.new_page()
            page.errors = []
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
            yield page
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    """Save a screenshot under test-artifacts/viewer/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


#: Screenshots the docs show (README.md, docs/viewer.md) are rewritten under docs/img/ only
#: when this variable is "1"; otherwise they go to test-artifacts/viewer/docs/.
UPDATE_SCREENSHOTS = "TWIN_UPDATE_SCREENSHOTS"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def doc_screenshot(page, name: str) -> Path:
    """Save a documentation screenshot ``name.png`` (docs/img/ when TWIN_UPDATE_SCREENSHOTS=1)."""
    folder = DOCS_IMG if os.environ.get(UPDATE_SCREENSHOTS) == "1" else ARTIFACTS / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path
