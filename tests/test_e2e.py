"""End-to-end: the real app in headless Chromium — draw a digit, type a review, generate text."""

import os
import shutil
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = os.environ.get("SEQCOMPARE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(os.environ.get("SEQCOMPARE_SCREENSHOTS", ROOT / "tests" / "screenshots"))
pytestmark = [
    pytest.mark.skipif(not CHROMIUM, reason="no Chromium installed (apt-get install chromium)"),
    pytest.mark.e2e,
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture()
def page(app_url, request):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(30_000)
        page.goto(app_url)
        page.wait_for_selector("text=seqcompare")
        yield page
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


def open_tab(page, name):
    page.get_by_role("tab", name=name, exact=True).click()


def test_draw_a_digit(page):
    open_tab(page, "Digits")
    canvas = page.locator("#digit-canvas canvas").first
    canvas.wait_for(state="visible")
    page.wait_for_function("document.querySelector('#digit-canvas')?.dataset.armed === '1'")
    box = canvas.bounding_box()
    cx, cy, s = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"])
    stroke = [(0.0, -0.35), (0.0, 0.35)]                    # a 1: one vertical stroke
    page.mouse.move(cx + stroke[0][0] * s, cy + stroke[0][1] * s)
    page.mouse.down()
    for i in range(1, 25):
        t = i / 24
        page.mouse.move(cx, cy + (stroke[0][1] + (stroke[1][1] - stroke[0][1]) * t) * s)
    page.mouse.up()
    page.get_by_role("button", name="Classify drawing").click()
    for name in ("rnn", "lstm", "gru", "lenet"):
        label = page.locator(f"#digit-{name}")
        label.locator("text=/ms/").wait_for()                # the label carries the milliseconds
        assert label.locator("h2, .output-class").first.inner_text().strip() == "1"


def test_blank_canvas_asks_for_a_drawing(page):
    open_tab(page, "Digits")
    page.get_by_role("button", name="Classify drawing").click()
    page.locator("#digit-notice").get_by_text("draw a digit first").wait_for()


def test_type_a_review(page):
    open_tab(page, "Reviews")
    page.locator("#review-text textarea").fill("A wonderful film: moving, funny and beautifully acted.")
    page.get_by_role("button", name="Classify", exact=True).click()
    for name in ("rnn", "lstm", "gru"):
        label = page.locator(f"#review-{name}")
        label.locator("text=/ms/").wait_for()
        assert label.locator("h2, .output-class").first.inner_text().strip() == "positive"


def test_generate_text(page):
    open_tab(page, "Text generation")
    page.locator("#gen-button").click()
    for name in ("rnn", "lstm", "gru", "transformer"):
        box = page.locator(f"#gen-{name} textarea")
        page.wait_for_function(f"document.querySelector('#gen-{name} textarea')?.value.length > 2")
        assert box.input_value().startswith("早餐")


def test_bad_review_input_gets_a_visible_notice(page):
    open_tab(page, "Reviews")
    box = page.locator("#review-text textarea")
    box.fill("🙂🎬🍿")
    page.get_by_role("button", name="Classify", exact=True).click()
    page.locator("#review-notice").get_by_text("no words to read").wait_for()
    box.fill("A dull film. " * 8000)                                 # 104,000 characters pasted
    page.get_by_role("button", name="Classify", exact=True).click()
    page.locator("#review-notice").get_by_text("only the first").wait_for()
    page.locator("#review-gru").locator("text=/ms/").wait_for()


def test_uploads_are_classified_or_named_as_unusable(page, tmp_path):
    from seqcompare import sketches

    open_tab(page, "Digits")
    page.get_by_role("tab", name="Upload or pick an example").click()
    (tmp_path / "notes.png").write_text("not an image")
    page.locator("#digit-upload input[type=file]").set_input_files(str(tmp_path / "notes.png"))
    page.locator("#digit-notice").get_by_text("not a readable image").wait_for()
    page.locator("#digit-upload").get_by_role("button", name="Clear").click()       # the upload's ✕
    sketches.render(4, mode="RGB").save(tmp_path / "four.png")
    page.locator("#digit-upload input[type=file]").set_input_files(str(tmp_path / "four.png"))
    label = page.locator("#digit-lenet")
    label.locator("text=/ms/").wait_for()
    page.wait_for_function("document.querySelector('#digit-lenet h2, #digit-lenet .output-class')?.innerText.trim() === '4'")
    page.get_by_role("button", name="7.png").click()                                 # a clickable example
    page.wait_for_function("document.querySelector('#digit-lenet h2, #digit-lenet .output-class')?.innerText.trim() === '7'")


def test_train_in_the_browser(page):
    """Train two small digit models with the defaults: curves stream, the table fills, downloads appear."""
    open_tab(page, "Train")
    page.locator("#train-stop").click()                                              # Stop before any start
    page.locator("#train-notice").get_by_text("stopped").wait_for()
    page.get_by_label("LSTM").uncheck()
    page.locator("#train-button").dblclick()                                         # two clicks: one training
    page.locator("#train-progress").locator("text=/RNN/").wait_for(timeout=60_000)
    page.wait_for_function("document.querySelector('#train-progress')?.innerText.includes('100%')", timeout=120_000)
    page.wait_for_timeout(3000)                                    # a second run would restart the progress line
    assert "100%" in page.locator("#train-progress").inner_text()
    links = "Array.from(document.querySelectorAll('a[href]')).map(a => a.href).join(' ')"
    page.wait_for_function(f"({links}).includes('curves.csv')", timeout=30_000)    # the downloads
    hrefs = page.evaluate(links)
    assert "rnn.safetensors" in hrefs and "gru.safetensors" in hrefs and "lstm.safetensors" not in hrefs
    assert "error" not in page.locator("#train-notice").inner_text().lower()
