"""The Tower panel against a real ComfyUI with Tower Sentinel: what the routes answer is what the panel shows,
failures of this browser's prompts toast and show up live, ratings are stored, and the page logs no errors."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from harness import Graph
from panel_page import PANEL, close_panel, open_comfy, open_panel, stat

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def mix(comfy):
    """A known mix of prompts queued over HTTP: 3 successes, 2 failures of TowerTestRaise, and 2 prompts whose
    images are scored by TowerQualityAssess before PreviewImage (7 prompts, 5 successful, 2 prompts scored)."""
    for i in range(3):
        g = Graph()
        g.add("TowerTestSucceed", value=i)
        assert comfy.run(g.prompt())["status"] == "success"
    for i in range(2):
        g = Graph()
        g.add("TowerTestRaise", message="mix failure", value=i)
        assert comfy.run(g.prompt())["status"] == "error"
    for kind in ("blurred", "gradient"):
        g = Graph()
        img = g.add("TowerTestImage", width=64, height=64, batch_size=2, kind=kind, seed=3)
        qa = g.add("TowerQualityAssess", images=g.out(img), mode="images", precision="float", min_score=0.5)
        g.add("PreviewImage", images=g.out(qa))
        rec = comfy.run(g.prompt())
        assert rec["status"] == "success", rec
    return {"image_prompt_id": rec["prompt_id"]}


def wait_text(page, selector: str, text: str, timeout: float = 20_000) -> None:
    page.wait_for_function(
        "([sel, text]) => [...document.querySelectorAll(sel)].some(e => e.innerText.includes(text))",
        arg=[selector, text], timeout=timeout)


def test_tab_shows_health_and_the_routes_numbers(page, comfy, mix):
    """Opening the tab shows the health report and the success rate, counts and p50/p95 the routes answer."""
    open_comfy(page, comfy.url)
    open_panel(page)
    health = comfy.get("/tower/health").json()
    page.wait_for_selector(f"{PANEL} [data-health='{health['status']}']")
    for name, check in health["checks"].items():
        row = page.locator(f"{PANEL} [data-section=health] .tower-check", has_text=name).first
        assert row.locator(".tower-badge").inner_text().lower() == check["status"]

    sr = comfy.get("/tower/metrics/success-rate?window=24h&operation_type=comfyui_execution")
    assert sr.status == 200, f"success-rate route: {sr.status} {sr.body[:200]!r}"
    ex = next(o for o in sr.json()["operation_types"] if o["operation_type"] == "comfyui_execution")
    assert (ex["total_operations"], ex["successful_operations"]) == (7, 5)
    page.wait_for_function(f"() => document.querySelector(\"{PANEL} [data-stat='total'] .tower-stat-value\")?.innerText === '7'")
    assert stat(page, "success-rate") == f"{ex['success_rate_percent']:.1f}%"
    assert stat(page, "failed") == "2"
    dur = comfy.get("/tower/metrics/durations?window=24h").json()["prompts"]["execution"]
    assert stat(page, "p50") != "–" and stat(page, "p95") != "–"
    assert dur["count"] >= 4
    # All seven prompts ran in the newest bucket of the chart: one point at 5/7, the older buckets empty.
    chart = page.locator(f"{PANEL} [data-section=throughput] svg.tower-chart")
    label = chart.get_attribute("aria-label")
    assert label.endswith("no prompts, 71.4%"), label
    assert chart.locator("circle").count() == 1

    q = comfy.get("/tower/quality/summary?window=24h").json()["overall"]
    assert q["count"] == 2  # the summary counts scored prompts (each prompt's batch score)
    assert stat(page, "quality-count") == "2"
    assert stat(page, "quality-mean") == f"{q['avg_score']:.2f}"
    bars = page.locator(f"{PANEL} [data-section=quality] svg.tower-chart").first
    assert bars.get_attribute("aria-label") == "Quality score distribution: " + ", ".join(
        f"{i / 10:.1f}: {c}" for i, c in enumerate(q["histogram"]))


def test_failing_prompt_of_this_browser_toasts_and_appears_in_patterns(page, comfy, mix):
    """A prompt of this page that fails makes an error toast naming the category and the suggested action, shows
    up in the failure patterns without a reload, and its failing node id selects the node in the open graph."""
    open_comfy(page, comfy.url)
    open_panel(page)
    # The user's workflow: one node that raises, queued like the Run button does (graphToPrompt + api.clientId).
    node_id = page.evaluate("""() => {
        const app = window.comfyAPI.app.app;
        app.graph.clear();
        const node = window.LiteGraph.createNode("TowerTestRaise");
        node.widgets.find(w => w.name === "message").value = "browser failure";
        app.graph.add(node);
        return node.id;
    }""")
    page.wait_for_selector(f"{PANEL} .tower-pattern")
    assert "browser failure" not in page.locator(f"{PANEL} [data-section=patterns]").inner_text()
    page.evaluate("() => window.comfyAPI.app.app.queuePrompt(0, 1)")
    toast = page.locator(".p-toast-message", has_text="Tower: prompt failed")
    toast.wait_for(timeout=30_000)
    text = toast.inner_text()
    toast.screenshot(path=str(Path(comfy.base_dir) / "toast.png"))
    assert "Category: generation" in text
    assert f"node #{node_id} TowerTestRaise" in text
    assert "Suggested action:" in text

    analysis = comfy.get("/tower/learning/failure-analysis?window=24h").json()
    pattern = next(p for p in analysis["patterns"] if "browser failure" in p["template"])
    assert pattern["suggested_action"]["summary"] in text
    head = page.locator(f"{PANEL} [data-pattern='{pattern['fingerprint']}'] .tower-pattern-head")
    head.wait_for()
    page.wait_for_function(
        f"() => document.querySelector(\"{PANEL} [data-pattern='{pattern['fingerprint']}'] .tower-pattern-count\")"
        f"?.innerText === '×{pattern['count']}'")
    assert pattern["count"] == 1
    # ComfyUI's own execution-error dialog covers the page; the user closes it, then uses the panel.
    if page.locator(".p-dialog-mask").count():
        page.keyboard.press("Escape")
        page.wait_for_selector(".p-dialog-mask", state="detached")
    head.focus()
    page.keyboard.press("Enter")
    assert head.get_attribute("aria-expanded") == "true"
    link = page.locator(f"{PANEL} [data-pattern='{pattern['fingerprint']}'] .tower-example .tower-link",
                        has_text=f"#{node_id} TowerTestRaise").first
    link.click()
    selected = page.evaluate("() => Object.keys(window.comfyAPI.app.app.canvas.selected_nodes || {})")
    assert selected == [str(node_id)]


def test_rating_given_in_the_panel_is_stored(page, comfy, mix):
    """Clicking the 4th star (with an issue ticked) on a recent output posts feedback that lands in the store."""
    open_comfy(page, comfy.url)
    open_panel(page)
    pid = mix["image_prompt_id"]
    row = page.locator(f"{PANEL} .tower-output[data-prompt-id='{pid}']")
    row.wait_for()
    row.locator("summary").click()
    row.locator("label", has_text="blurry").locator("input").check()
    row.get_by_role("button", name="4 stars").click()
    row.locator("[data-rating-saved='4']").wait_for(timeout=10_000)
    db = comfy.data_dir / "tower_sentinel.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT rating, image_filename, image_type, issues FROM tower_feedback WHERE prompt_id = ?",
                            (pid,)).fetchall()
    assert len(rows) == 1
    rating, filename, type_, issues = rows[0]
    assert (rating, type_) == (4, "temp") and filename.endswith(".png")
    assert json.loads(issues) == ["blurry"]


def test_closed_tab_does_not_poll(page, comfy, mix):
    """While the tab is open it polls; once closed, no Tower route is called even as prompts finish."""
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/api/tower/" in r.url else None)
    open_comfy(page, comfy.url)
    open_panel(page)
    page.wait_for_timeout(500)
    assert any("/api/tower/health" in u for u in calls)
    close_panel(page)
    calls.clear()
    g = Graph()
    g.add("TowerTestSucceed", value=99)
    comfy.run(g.prompt())
    page.wait_for_timeout(4000)
    assert calls == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots(page, comfy, mix, theme):
    """The panel in the light and dark palettes, saved for the README (docs/panel-<theme>.png)."""
    page.set_viewport_size({"width": 1280, "height": 2000})
    open_comfy(page, comfy.url)
    page.evaluate("(t) => window.comfyAPI.app.app.extensionManager.setting.set('Comfy.ColorPalette', t)", theme)
    open_panel(page)
    page.wait_for_selector(f"{PANEL} [data-stat='success-rate']")
    first = page.locator(f"{PANEL} .tower-pattern-head").first
    if first.count():
        first.click()
    page.mouse.move(900, 500)
    page.evaluate("() => document.activeElement?.blur()")
    time.sleep(0.5)
    page.locator(PANEL).screenshot(path=str(DOCS / f"panel-{theme}.png"))
    bg = page.evaluate("() => getComputedStyle(document.body).getPropertyValue('--comfy-menu-bg')")
    assert bg.strip()
