"""Page helpers for the Tower panel: open ComfyUI, open the tab, read what the panel shows."""

from __future__ import annotations

from typing import Any

PANEL = ".tower-panel"
TAB_BUTTON = ".tower-sentinel-tab-button"


def open_comfy(page: Any, url: str) -> None:
    page.goto(url + "/", wait_until="domcontentloaded")
    # setup() has run once the tab button exists; the graph exists once app.graph is set.
    page.wait_for_selector(TAB_BUTTON, timeout=60_000)
    page.wait_for_function("() => !!(window.comfyAPI?.app?.app?.graph && window.comfyAPI.api.api.clientId)",
                           timeout=60_000)


def open_panel(page: Any) -> Any:
    if not page.locator(PANEL).count():
        page.click(TAB_BUTTON)
    page.wait_for_selector(PANEL)
    page.wait_for_selector(f"{PANEL} [data-section=health] .tower-overall, {PANEL} [data-section=health] .tower-error")
    return page.locator(PANEL)


def close_panel(page: Any) -> None:
    if page.locator(PANEL).count():
        page.click(TAB_BUTTON)
    page.wait_for_selector(PANEL, state="detached")


def client_id(page: Any) -> str:
    return page.evaluate("() => window.comfyAPI.api.api.clientId")


def stat(page: Any, key: str) -> str:
    return page.locator(f"{PANEL} [data-stat='{key}'] .tower-stat-value").inner_text()
