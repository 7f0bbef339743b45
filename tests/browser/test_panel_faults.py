"""The Tower panel when its routes misbehave (500s, garbage, refused connections, the database down), on live
websocket events, and with the keyboard. Route faults are injected in the browser with ``page.route`` in front of
the real ComfyUI, so everything else on the page stays real."""

from __future__ import annotations

import json

import pytest
from harness import Graph
from panel_page import PANEL, open_comfy, open_panel

pytestmark = pytest.mark.browser

STORE_DOWN = {"error": {"type": "store_unavailable", "message": "the database did not answer"}}


@pytest.fixture(scope="module")
def some_prompts(comfy):
    for i in range(2):
        g = Graph()
        g.add("TowerTestSucceed", value=i)
        comfy.run(g.prompt())
    g = Graph()
    g.add("TowerTestRaise", message="fault module failure", value=0)
    comfy.run(g.prompt())


def section_text(page, name: str) -> str:
    return page.locator(f"{PANEL} [data-section={name}]").inner_text()


def test_routes_answering_errors_leave_the_panel_working(page, comfy, some_prompts, console):
    """A 500 with an error body, a non-JSON 200 and a refused connection each show as that section's error while
    health keeps working; once the routes answer again a manual refresh brings the numbers back."""
    console.allow(r"status of 500|net::ERR_FAILED")
    page.route("**/api/tower/metrics/**", lambda r: r.fulfill(
        status=500, content_type="application/json",
        body=json.dumps({"error": {"type": "internal", "message": "analytics exploded"}})))
    page.route("**/api/tower/learning/**", lambda r: r.fulfill(status=200, content_type="text/html",
                                                               body="<html><b>proxy says hi</b></html>"))
    page.route("**/api/tower/quality/**", lambda r: r.abort("failed"))
    open_comfy(page, comfy.url)
    open_panel(page)
    page.wait_for_selector(f"{PANEL} [data-section=patterns] .tower-error")
    page.wait_for_selector(f"{PANEL} [data-section=throughput] .tower-error")
    assert "Success rate: HTTP 500: analytics exploded" in section_text(page, "throughput")
    assert "Durations: HTTP 500: analytics exploded" in section_text(page, "throughput")
    assert "not a JSON object" in section_text(page, "patterns")
    assert "proxy says hi" not in page.locator(PANEL).inner_text()
    assert page.locator(f"{PANEL} b").count() == 0  # server text is never parsed as HTML
    page.wait_for_selector(f"{PANEL} [data-section=quality] .tower-error")
    assert "Quality: unreachable" in section_text(page, "quality")
    assert page.locator(f"{PANEL} [data-health=ok]").count() == 1
    assert page.locator(f"{PANEL} [data-section=outputs] .tower-error").count() == 0  # ComfyUI's /history unaffected

    page.unroute("**/api/tower/metrics/**")
    page.unroute("**/api/tower/learning/**")
    page.unroute("**/api/tower/quality/**")
    page.get_by_role("button", name="Refresh now").click()
    page.wait_for_function(f"() => !document.querySelector('{PANEL} .tower-error')", timeout=15_000)
    assert page.locator(f"{PANEL} [data-stat='total'] .tower-stat-value").inner_text() == "3"
    assert "fault module failure" in section_text(page, "patterns")


def test_database_down_is_said_not_hidden(page, comfy, some_prompts, console):
    """With the store down (health 503 "down", analytics 503 store_unavailable) the panel shows Down and says the
    database did not answer in each section."""
    console.allow(r"status of 503")
    health = comfy.get("/tower/health").json()
    health["status"] = "down"
    health["checks"]["store"] = {"status": "down", "backend": "sqlite", "error": "OperationalError: disk I/O error"}
    page.route("**/api/tower/health", lambda r: r.fulfill(status=503, content_type="application/json",
                                                          body=json.dumps(health)))
    for pattern in ("**/api/tower/metrics/**", "**/api/tower/learning/**", "**/api/tower/errors*",
                    "**/api/tower/quality/**"):
        page.route(pattern, lambda r: r.fulfill(status=503, content_type="application/json",
                                                headers={"Retry-After": "5"}, body=json.dumps(STORE_DOWN)))
    open_comfy(page, comfy.url)
    open_panel(page)
    page.wait_for_selector(f"{PANEL} [data-health=down]")
    store_row = page.locator(f"{PANEL} .tower-check", has_text="store")
    assert "disk I/O error" in store_row.inner_text()
    page.wait_for_selector(f"{PANEL} [data-section=quality] .tower-error")
    for name in ("throughput", "patterns", "quality"):
        assert "HTTP 503: the database did not answer" in section_text(page, name)


def test_breaker_event_updates_the_panel_live(page, comfy, some_prompts):
    """The breakers health reports are listed; a tower.breaker websocket event shows a breaker's new state and
    retry-after at once, and the next event replaces it."""
    open_comfy(page, comfy.url)
    open_panel(page)
    reported = {name: c["breaker"]["state"] for name, c in comfy.get("/tower/health").json()["checks"].items()
                if isinstance(c.get("breaker"), dict)}
    assert reported, "health reports no breakers"
    for name, state in reported.items():
        assert page.locator(f"{PANEL} [data-breaker={name}] .tower-badge").inner_text() == state
    emit = "(d) => window.comfyAPI.api.api.dispatchCustomEvent('tower.breaker', d)"
    page.evaluate(emit, {"name": "echo_brain", "state": "open", "retry_after": 30})
    row = page.locator(f"{PANEL} [data-breaker=echo_brain]")
    row.wait_for()
    assert "open" in row.inner_text() and "retry after 30.0 s" in row.inner_text()
    page.evaluate(emit, {"name": "echo_brain", "state": "closed", "retry_after": None})
    page.wait_for_function(f"() => document.querySelector('{PANEL} [data-breaker=echo_brain] .tower-badge')"
                           "?.innerText === 'closed'")
    assert "retry after" not in row.inner_text()


def test_bursts_of_outcomes_make_at_most_one_refresh_per_gap(page, comfy, some_prompts):
    """Twenty tower.outcome events in a row cause one refresh, not twenty (polls are at least 3 s apart)."""
    open_comfy(page, comfy.url)
    open_panel(page)
    page.wait_for_selector(f"{PANEL} [data-stat='total']")
    page.wait_for_timeout(3200)
    health_calls: list[str] = []
    page.on("request", lambda r: health_calls.append(r.url) if "/api/tower/health" in r.url else None)
    page.evaluate("""() => { for (let i = 0; i < 20; i++)
        window.comfyAPI.api.api.dispatchCustomEvent('tower.outcome', {prompt_id: 'p' + i, status: 'success'}); }""")
    page.wait_for_timeout(2500)
    assert len(health_calls) == 1


def test_window_switch_with_the_keyboard(page, comfy, some_prompts):
    """The window buttons are reachable with Tab and switch every windowed route to the chosen window."""
    open_comfy(page, comfy.url)
    open_panel(page)
    page.wait_for_selector(f"{PANEL} [data-stat='total']")
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/api/tower/" in r.url else None)
    page.locator(f"{PANEL} button[data-focus-key='window-24h']").focus()
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.dataset.focusKey") == "window-1h"
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelector(\"{PANEL} [data-focus-key='window-1h']\")"
                           ".getAttribute('aria-pressed') === 'true'")
    assert page.evaluate("() => document.activeElement.dataset.focusKey") == "window-1h"  # focus kept on redraw
    page.wait_for_timeout(1500)
    windowed = [u for u in seen if "/metrics/" in u or "/learning/" in u or "/errors" in u]
    assert windowed and all("window=" in u for u in windowed)
    assert any("failure-analysis?window=1h" in u for u in windowed)
    assert any("durations?window=1h" in u for u in windowed)
    for btn in page.locator(f"{PANEL} button").all():
        assert btn.inner_text().strip() or btn.get_attribute("aria-label"), "every button has a name"


def wait_pattern_count(page, text: str, count: int) -> None:
    page.wait_for_function(
        """([panel, text, count]) => [...document.querySelectorAll(panel + ' .tower-pattern')]
            .some(p => p.innerText.includes(text) && p.querySelector('.tower-pattern-count')?.innerText === '×' + count)""",
        arg=[PANEL, text, count], timeout=20_000)


def queue_own_failure(page, message: str) -> None:
    """POST /prompt from the page with its own client id, as the Run button does."""
    g = Graph()
    g.add("TowerTestRaise", message=message, value=0)
    page.evaluate(
        """(prompt) => window.comfyAPI.api.api.fetchApi('/prompt', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({prompt, client_id: window.comfyAPI.api.api.clientId})})""",
        g.prompt(),
    )


def test_toasts_only_for_this_browser_and_only_when_enabled(page, comfy, some_prompts):
    """The settings are registered with their defaults; this page's failure toasts even with the tab closed;
    another client's failure never toasts, and with Tower.Toasts off this page's own failure does not either (the
    panel still picks both up live)."""
    open_comfy(page, comfy.url)
    defaults = page.evaluate("""() => { const s = window.comfyAPI.app.app.extensionManager.setting;
        return [s.get('Tower.RefreshSeconds'), s.get('Tower.DefaultWindow'), s.get('Tower.Toasts')]; }""")
    assert defaults == [15, "24h", True]
    queue_own_failure(page, "closed tab failure")
    page.locator(".p-toast-message", has_text="Tower: prompt failed").wait_for(timeout=20_000)
    assert page.locator(PANEL).count() == 0
    page.locator(".p-toast-message .p-toast-close-button").first.click()
    page.wait_for_selector(".p-toast-message", state="detached")
    if page.locator(".p-dialog-mask").count():  # ComfyUI's own execution-error dialog
        page.keyboard.press("Escape")
        page.wait_for_selector(".p-dialog-mask", state="detached")
    open_panel(page)
    page.wait_for_selector(f"{PANEL} .tower-pattern")

    g = Graph()
    g.add("TowerTestRaise", message="other client failure", value=0)
    assert comfy.queue(g.prompt(), client_id="someone-else").status == 200
    wait_pattern_count(page, "other client failure", 1)

    page.evaluate("() => window.comfyAPI.app.app.extensionManager.setting.set('Tower.Toasts', false)")
    g = Graph()
    g.add("TowerTestRaise", message="muted failure", value=0)
    page.evaluate("""(prompt) => window.comfyAPI.api.api.fetchApi('/prompt', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({prompt, client_id: window.comfyAPI.api.api.clientId})})""", g.prompt())
    wait_pattern_count(page, "muted failure", 1)
    page.wait_for_timeout(2000)
    assert page.locator(".p-toast-message", has_text="Tower").count() == 0


def test_view_models_survive_any_answer(page, comfy):
    """shapes.js turns cumulative success-rate windows into per-bucket rates, and no answer shape (null, lists,
    strings, wrong types) makes any view model throw."""
    page.goto(comfy.url + "/extensions/tower-sentinel/js/shapes.js")
    result = page.evaluate("""async () => {
        const m = await import('/extensions/tower-sentinel/js/shapes.js');
        const ans = (total, ok) => ({operation_types: [{operation_type: 'comfyui_execution',
            total_operations: total, successful_operations: ok, success_rate_percent: total ? 100 * ok / total : null}]});
        const series = m.seriesFromCumulative(['10m', '20m', '30m'], [ans(2, 1), ans(2, 1), ans(6, 5)]);
        const junk = [null, undefined, 5, 'x', [], {}, {checks: 5, patterns: 'no', overall: [], bins: {a: 'b'}},
                      {patterns: [null, 3, {drivers: 'x', suggested_action: 7, example: []}]},
                      {checks: {a: null, b: {breaker: 'open'}}, breakers: [null, {name: 7}]}];
        const views = ['healthView', 'successView', 'durationsView', 'patternsView', 'errorsView', 'outputsFromHistory'];
        const thrown = [];
        for (const v of views) for (const j of junk) { try { m[v](j); } catch (e) { thrown.push(v + ': ' + e); } }
        for (const j of junk) { try { m.qualityView(j, j); } catch (e) { thrown.push('qualityView: ' + e); } }
        return {series, thrown, windows: m.seriesWindows('24h')};
    }""")
    assert result["thrown"] == []
    assert result["windows"] == ["4h", "8h", "12h", "16h", "20h", "24h"]
    # oldest first: 20–30m ago 4 prompts 4 ok, 10–20m ago none, last 10m 2 prompts 1 ok
    assert [(p["total"], p["rate"]) for p in result["series"]] == [(4, 1.0), (0, None), (2, 0.5)]
