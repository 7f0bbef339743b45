"""Headless Chromium (Debian's ``chromium``) driving the real ComfyUI frontend served by a real ComfyUI with Tower
Sentinel loaded. One ComfyUI per test module, one browser per session, a fresh page per test that fails the test on
any console error or page error not listed in ``KNOWN_HARMLESS`` or allowed by the test itself."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from playwright import sync_api as playwright_sync

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ComfyServer  # noqa: E402

CHROMIUM = os.environ.get("TOWER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Console errors the ComfyUI 0.3.75 frontend (1.32.9) logs by itself, with or without this extension, as
# (message pattern, resource URL pattern): each comes from the frontend's own code or requests, not from web/.
KNOWN_HARMLESS = [
    # Optional per-user files and endpoints that a fresh ComfyUI does not have (userdata, workflow templates, i18n).
    (re.compile(r"^Failed to load resource: the server responded with a status of 404"),
     re.compile(r"/api/userdata[/?]|/templates/|/api/i18n|/api/workflow_templates|/api/experiment/|/api/global_subgraphs")),
    # The page's own icon and the optional user stylesheet.
    (re.compile(r"^Failed to load resource: the server responded with a status of 404"),
     re.compile(r"/user\.css$|/favicon\.ico$")),
    # useRenderModeSetting (GraphView) sets a setting the store has no definition for; its onChange reads `.id`
    # of undefined. Logged by Vue on every fresh page load, extension or not.
    (re.compile(r"TypeError: Cannot read properties of undefined \(reading 'id'\)\s+at onChange .*GraphView", re.S),
     re.compile(r"")),
    # --disable-api-nodes makes ComfyUI send a CSP header; the frontend still asks comfy.org for node metadata.
    (re.compile(r"violates the following Content Security Policy directive"), re.compile(r"")),
]


class ConsoleLog:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.page_errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []

    def allow(self, pattern: str) -> None:
        """Expect console errors matching ``pattern`` in this test (a route answering 500 is logged by Chromium)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        bad = [f"pageerror: {e}" for e in self.page_errors]
        for kind, text, url in self.messages:
            if kind != "error":
                continue
            if any(m.search(text) and u.search(url) for m, u in KNOWN_HARMLESS):
                continue
            if any(p.search(text) or p.search(url) for p in self.allowed):
                continue
            bad.append(f"console.error: {text} [{url}]")
        return bad


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def comfy():
    server = ComfyServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser, console, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.on("console", lambda m: console.messages.append((m.type, m.text, (m.location or {}).get("url", ""))))
    pg.on("pageerror", lambda e: console.page_errors.append(str(e)))
    try:
        yield pg
    finally:
        context.close()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.passed:
        bad = console.unexpected()
        assert not bad, "unexpected console errors:\n" + "\n".join(bad)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# Routes the panel asks for that an older server may lack: Chromium logs their 404 as a console error, which is
# allowed only while the running server really answers 404 (the panel then says "not available").
OPTIONAL_ROUTES = ["/tower/quality/summary"]


@pytest.fixture(autouse=True)
def _allow_absent_routes(request, console):
    if "comfy" not in request.fixturenames:
        return
    comfy = request.getfixturevalue("comfy")
    for route in OPTIONAL_ROUTES:
        if comfy.get(route).status == 404:
            console.allow(r"/api" + re.escape(route))
