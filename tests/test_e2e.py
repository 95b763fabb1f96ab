"""End-to-end: the real app in headless Chromium — draw a digit, type a review, generate text."""

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from seqcompare import plots

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


def wait_for_the_brush(page):
    """The canvas's brush is chosen for the user (ui.ARM_BRUSH): drawing works at once."""
    from seqcompare import ui

    page.wait_for_function(f"document.querySelector('#digit-canvas :is({ui.tool_button('brush', '.highlight')})')")


def draw_a_one(page):
    canvas = page.locator("#digit-canvas canvas").first
    canvas.wait_for(state="visible")
    wait_for_the_brush(page)
    box = canvas.bounding_box()
    cx, cy, s = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"])
    stroke = [(0.0, -0.35), (0.0, 0.35)]                    # a 1: one vertical stroke
    page.mouse.move(cx + stroke[0][0] * s, cy + stroke[0][1] * s)
    page.mouse.down()
    for i in range(1, 25):
        t = i / 24
        page.mouse.move(cx, cy + (stroke[0][1] + (stroke[1][1] - stroke[0][1]) * t) * s)
    page.mouse.up()


def test_draw_a_digit(page):
    """A drawn 1 is read as 1 by every model; clearing the canvas empties the answers (no notice to draw first:
    the reader chose to clear it), the brush is chosen again, and a second drawing is read too."""
    open_tab(page, "Digits")
    for drawing in range(2):
        if drawing:
            page.locator('#digit-canvas button[aria-label="Clear canvas"]').first.click()
            page.wait_for_function("!/ms/.test(document.querySelector('#digit-lenet').innerText)")
            assert "draw a digit first" not in page.locator("#digit-notice").inner_text()
        draw_a_one(page)
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
    # the figures' toolbars keep zoom, pan and reset but not the selection tools or autoscale (plots.TOOLBAR_REMOVED)
    tools = page.locator(".js-plotly-plot .modebar-btn")
    titles = {tools.nth(i).get_attribute("data-title") for i in range(tools.count())}
    assert {"Zoom", "Pan", "Reset axes"} <= titles and not {"Box Select", "Lasso Select", "Autoscale"} & titles


def test_generate_text(page):
    open_tab(page, "Text generation")
    page.locator("#gen-button").click()
    for name in ("rnn", "lstm", "gru", "transformer"):
        box = page.locator(f"#gen-{name} textarea")
        page.wait_for_function(f"document.querySelector('#gen-{name} textarea')?.value.length > 2")
        assert box.input_value().startswith("早餐")


def test_a_slider_moved_from_the_keyboard_moves_its_view(page):
    """The memory view's character slider: 10 typed in its box and Enter move the view to character 10; the
    left arrow on the slider itself, to character 9."""
    open_tab(page, "Text generation")
    box = page.locator('#memory-character input[data-testid="number-input"]')
    box.scroll_into_view_if_needed()
    page.locator("#memory-shading").get_by_text("(character 40 of 40)").wait_for()
    box.fill("10")
    box.press("Enter")
    page.locator("#memory-shading").get_by_text("(character 10 of 40)").wait_for()
    page.locator('#memory-character input[type="range"]').press("ArrowLeft")
    page.locator("#memory-shading").get_by_text("(character 9 of 40)").wait_for()
    box.fill("99999")                                   # beyond the slider's end: its last character, no refusal
    box.press("Enter")
    page.locator("#memory-shading").get_by_text("(character 40 of 40)").wait_for()
    assert page.locator(".toast-body").count() == 0 and box.input_value() == "40"


def test_a_radio_group_is_one_keyboard_stop_whose_arrows_choose(page):
    """The options of a radio group share one name (ui.RADIO_GROUPS): Tab reaches the chosen one and leaves the
    group; an arrow key chooses the next option, and the view behind it answers."""
    open_tab(page, "Text generation")
    one_name_each = """() => [...document.querySelectorAll('fieldset:not(#lang-switch)')]
        .map((set) => new Set([...set.querySelectorAll('input[type=radio]')].map((r) => r.name)).size)
        .every((names) => names <= 1)"""
    page.wait_for_function(one_name_each)
    source = page.locator("#memory-text").locator("xpath=preceding::input[@type='radio'][@value='LSTM'][1]")
    source.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")                     # at once: the group is still one after a choice
    assert page.evaluate("[document.activeElement.value, document.activeElement.checked]") == ["Transformer", True]
    most = page.locator('#gates-hotel').locator("xpath=preceding::input[@type='radio'][@value='most'][1]")
    drawn = page.locator("#gates-hotel .main-svg").first
    drawn.wait_for(state="attached")
    before = drawn.inner_html()
    most.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("[document.activeElement.value, document.activeElement.checked]") == ["one", True]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") != "radio"          # past the group's other option
    page.wait_for_function("(b) => document.querySelector('#gates-hotel .main-svg').innerHTML !== b", arg=before)
    page.wait_for_function(one_name_each)
    switch = page.evaluate("[...document.querySelectorAll('#lang-switch input[type=radio]')].map((r) => r.name)")
    assert len(set(switch)) == 2              # the language switch: an arrow key would reload the page at once


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
    (tmp_path / "notes.txt").write_text("not an image")
    page.locator("#digit-upload input[type=file]").set_input_files(str(tmp_path / "notes.txt"))
    page.locator("#digit-notice").get_by_text("notes.txt: not a readable image").wait_for()
    assert page.locator(".toast-body").count() == 0                 # the notice in the page's language, no toast
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
    page.locator("#train-notice").get_by_text("no training is running").wait_for()
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


# --- 中文 and English; phones -------------------------------------------------------------------------

# Words a Chinese page may still show in Latin letters: model and data-set names, units, file formats,
# tool names and Gradio's own footer.
LATIN_OK = {"RNN", "LSTM", "GRU", "LeNet", "Transformer", "IMDb", "MNIST", "ChnSentiCorp", "PyTorch", "cuDNN",
            "bias_ih", "bias_hh", "Top", "top", "Dropout", "dropout", "Gradio", "API", "UTF", "JSON", "CSV",
            "safetensors", "txt", "CPU", "seqcompare", "English", "PNG", "JPEG", "MB", "ms", "F", "P", "h", "x", "k",
            "p", "d", "e", "g", "The", "acting", "was", "wonderful", "but", "plot", "dragged",
            # the gates' symbols and PyTorch's names for them, the number types, and the papers' authors
            "i", "f", "o", "c", "n", "r", "z", "tanh", "weight_ih", "float", "int",
            # the serving precisions' names (`precision.PLANS`), the same in every language
            "fp32", "bf16", "int8", "int4", "w8a8", "float32", "float16", "bfloat16", "F1",
            "Karpathy", "Johnson", "Fei", "Radford"}
TABS = {"zh-CN": ("文本生成", "手写数字", "影评情感", "训练"), "en": ("Text generation", "Digits", "Reviews", "Train")}


@pytest.fixture()
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS + ["--lang=zh-CN"])
        yield browser
        browser.close()


def open_app(browser, app_url, **context):
    """A fresh browser context (its own cookies) on the app."""
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("text=seqcompare")
    return page


def latin_words(page) -> set[str]:
    """The words in Latin letters on screen, once the English example reviews are set aside."""
    from seqcompare.ui.reviews_tab import REVIEW_EXAMPLES

    lines = [line for line in page.locator("body").inner_text().splitlines()
             if not any(line.strip()[:20] and example.startswith(line.strip()[:20]) for example in REVIEW_EXAMPLES)]
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", "\n".join(lines))) - LATIN_OK


def latin_words_once_drawn(page, patience_ms: int = 20_000) -> set[str]:
    """`latin_words`, asked again every half second while the tab's tables and figures are still being redrawn
    in the page's language (slow on a busy CPU), until there are none or patience runs out."""
    words = latin_words(page)
    for _ in range(patience_ms // 500):
        if not words:
            break
        page.wait_for_timeout(500)
        words = latin_words(page)
    return words


def english_labels(page) -> set[str]:
    """The labels and tooltips (aria-label, title, Plotly's data-title, alt) in Latin words that `latin_words` would
    not accept (a model checkbox's title is its id). The figures' toolbars have no Plotly logo link (`figure_box`)."""
    assert page.locator(".modebar-btn--logo").count() == 0
    values = page.evaluate("""() => [...document.querySelectorAll('[aria-label],[title],[data-title],[alt]')]
        .flatMap((el) => ['aria-label', 'title', 'data-title', 'alt'].map((a) => el.getAttribute(a)))
        .filter(Boolean)""")
    return {v for v in values if set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", v)) - LATIN_OK - set(plots.NAMES)}


def said_by_the_page(page) -> dict:
    """What the page makes of Gradio's English written into it now: a status line added, a label added, and a label
    changed on an element already there (as Gradio changes "Copy" to "Copied")."""
    return page.evaluate("""async () => {
      const line = document.createElement('span'), button = document.createElement('button');
      line.textContent = 'queue: 2/5 |';
      button.setAttribute('aria-label', 'range slider for 长度');
      document.body.append(line, button);
      await new Promise((r) => setTimeout(r, 50));
      const added = button.getAttribute('aria-label');
      button.setAttribute('aria-label', 'Copied');
      await new Promise((r) => setTimeout(r, 50));
      const said = {line: line.textContent, added, changed: button.getAttribute('aria-label')};
      line.remove(); button.remove();
      return said;
    }""")


def set_language(page, lang):
    """The switch at the top; the page reloads in that language."""
    with page.expect_navigation():
        page.locator("#lang-switch").get_by_text("中文" if lang == "zh-CN" else "English", exact=True).click()
    page.wait_for_selector("text=seqcompare")
    page.get_by_role("tab", name=TABS[lang][0], exact=True).wait_for()


def test_a_chinese_browser_sees_every_tab_in_chinese(browser, app_url):
    page = open_app(browser, app_url, locale="zh-CN", viewport={"width": 1366, "height": 900})
    for tab in TABS["zh-CN"]:
        page.get_by_role("tab", name=tab, exact=True).click()
        assert latin_words_once_drawn(page) == set(), tab    # the tables and figures are redrawn in Chinese
        assert english_labels(page) == set(), tab             # a slider's reset button, a table's copy button …
    assert said_by_the_page(page) == {"line": "排队：2/5 |", "added": "长度：滑块", "changed": "已复制"}
    page.get_by_role("tab", name="影评情感", exact=True).click()
    page.get_by_role("button", name="判断情感").click()                  # an empty review
    page.locator("#review-notice").get_by_text("请先输入或粘贴一段影评").wait_for()
    page.locator("#review-text textarea").fill("A wonderful film: moving, funny and beautifully acted.")
    page.locator("#review-lstm").locator("text=/毫秒/").wait_for()                 # the milliseconds, named in Chinese
    assert page.locator("#review-lstm h2, #review-lstm .output-class").first.inner_text().strip() == "正面"
    page.get_by_text("每个词之后的 P(正面)").first.wait_for()            # the trace's title and axis
    page.get_by_text("P(正面)", exact=True).first.wait_for(state="attached")
    page.get_by_role("tab", name="文本生成", exact=True).click()
    page.evaluate("""() => {              // every status line Gradio writes on the outputs while they run, as shown
      window.statusLines = new Set();
      new MutationObserver((records) => records.forEach((r) => {
        (r.type === 'characterData' ? [r.target] : [...r.addedNodes]).forEach((node) => {
          for (const m of (node.textContent || '').matchAll(/处理中 \\||processing \\||queue:|排队：/g)) window.statusLines.add(m[0]);
        });
      })).observe(document.body, {childList: true, subtree: true, characterData: true});
    }""")
    page.locator("#gen-button").click()
    page.wait_for_function("document.querySelector('#gen-transformer textarea')?.value.length > 2")
    lines = set(page.evaluate("[...window.statusLines]"))
    assert "处理中 |" in lines and not {"processing |", "queue:"} & lines, lines


def selected_tab(page) -> str:
    return page.locator('[role="tablist"]').first.locator('[role="tab"][aria-selected="true"]').inner_text()


def test_the_switch_works_both_ways_and_survives_a_reload(browser, app_url):
    page = open_app(browser, app_url, locale="en-US", viewport={"width": 1366, "height": 900})
    assert page.get_by_role("tab").first.inner_text() == "Text generation"
    page.get_by_role("tab", name="Train", exact=True).click()
    set_language(page, "zh-CN")                           # an explicit choice wins over the browser's English
    page.wait_for_function("document.querySelector('[role=tab][aria-selected=true]')?.innerText === '训练'")
    assert selected_tab(page) == "训练"                    # the reader stays on the tab the switch was used on
    page.reload()
    page.wait_for_function("document.documentElement.classList.contains('seqcompare-rebuilt')")
    page.wait_for_timeout(500)                            # (a remembered tab would have been opened by now)
    assert selected_tab(page) == "手写数字"                # a reload opens the Digits tab, as the page always does
    page.get_by_role("tab", name="影评情感", exact=True).click()
    page.get_by_role("button", name="判断情感").click()                  # callbacks speak the chosen language
    page.locator("#review-notice").get_by_text("请先输入或粘贴一段影评").wait_for()
    page.get_by_text("RNN 混淆矩阵").first.wait_for(state="attached")     # figures drawn at start, redrawn
    set_language(page, "en")
    page.reload()
    page.get_by_role("tab", name="Reviews", exact=True).click()
    page.get_by_role("button", name="Classify", exact=True).click()
    page.locator("#review-notice").get_by_text("type or paste a review first").wait_for()
    assert "Gradio footer navigation" in english_labels(page)      # an English page keeps Gradio's own words
    footer = page.locator("footer").inner_text()                  # no Settings panel with a language menu of its own
    assert "Use via API" in footer and "Settings" not in footer and not footer.strip().endswith("·")
    assert said_by_the_page(page) == {"line": "queue: 2/5 |", "added": "range slider for 长度", "changed": "Copied"}


def watched_page(browser, app_url, locale: str, script: str):
    """A desktop page on the app in a fresh context whose every page load runs `script` first (a watch from the first
    frame on)."""
    context = browser.new_context(locale=locale, viewport={"width": 1366, "height": 900})
    context.add_init_script(script)
    page = context.new_page()
    page.goto(app_url)
    return page


# Recorded from the first frame of the language switch's reload: the tab whose content shows, when it is not the
# tab the switch was used on (the page opens on Digits, then the remembered tab)
WATCH_RETURN = """
window.wrongTabSeen = [];
let expected = null;
try { expected = sessionStorage.getItem('seqcompare-tab'); } catch (e) {}
const look = () => {
  const selected = document.querySelector('[role="tab"][aria-selected="true"]');
  const shown = Array.from(document.querySelectorAll('[role="tabpanel"]'))
    .some((p) => p.offsetParent !== null && getComputedStyle(p).visibility === 'visible' && p.innerText.trim());
  if (selected && shown && selected.dataset.tabId !== expected) window.wrongTabSeen.push(selected.innerText);
  if (!window.stopWatching) requestAnimationFrame(look);
};
if (expected) document.addEventListener('DOMContentLoaded', () => requestAnimationFrame(look));
"""


def test_the_switch_shows_no_other_tab_before_the_one_it_was_used_on(browser, app_url):
    """The switch reloads the page, which opens on Digits before the remembered tab is found: until then no tab's
    content is shown, so the reader never sees Digits flash by."""
    page = watched_page(browser, app_url, "en-US", WATCH_RETURN)
    page.get_by_role("tab", name="Train", exact=True).click()
    set_language(page, "zh-CN")
    page.wait_for_function("document.querySelector('[role=tab][aria-selected=true]')?.innerText === '训练'")
    page.wait_for_function("!document.documentElement.classList.contains('seqcompare-returning')")
    page.get_by_text("开始训练").first.wait_for()                           # the Train tab's content, shown
    page.evaluate("window.stopWatching = true")
    assert page.evaluate("window.wrongTabSeen") == []


# Recorded from the first frame: any text in Latin words shown inside a view the page rebuilds in its language
WATCH_REBUILT_VIEWS = """
window.englishSeen = [];
const look = () => {
  document.querySelectorAll('.per-language').forEach((el) => {
    if (getComputedStyle(el).visibility === 'hidden') return;
    const svg = Array.from(el.querySelectorAll('svg text'), (t) => t.textContent).join(' ');
    const words = ((el.innerText || '') + ' ' + svg).match(/\\b[A-Za-z]{4,}\\b/g) || [];
    const english = words.filter((w) => !['LSTM', 'LeNet', 'Transformer', 'dropout'].includes(w));
    if (english.length) window.englishSeen.push(english.slice(0, 4).join(' '));
  });
  if (!window.stopWatching) requestAnimationFrame(look);
};
document.addEventListener('DOMContentLoaded', () => requestAnimationFrame(look));
"""


def test_a_chinese_page_never_shows_the_english_its_views_start_with(browser, app_url):
    """The tables and figures are built in English and rebuilt in Chinese as the page loads: until then they keep
    their place unseen, so not one frame shows them in English."""
    page = watched_page(browser, app_url, "zh-CN", WATCH_REBUILT_VIEWS)
    page.wait_for_function("document.documentElement.classList.contains('seqcompare-rebuilt')")
    page.get_by_text("RNN 混淆矩阵").first.wait_for()                     # drawn in Chinese, and shown
    page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.evaluate("window.stopWatching = true")
    assert page.evaluate("window.englishSeen") == []
    assert page.locator(".per-language").count() > 5            # the first tab's tables and figures


def test_a_view_the_page_has_not_redrawn_is_shown_after_a_few_seconds(browser, app_url):
    """Should the redraw in Chinese never answer, its views are shown all the same (in English) REVEAL_S seconds
    after they are drawn, rather than left unseen."""
    from seqcompare.ui import locale

    page = open_app(browser, app_url, locale="zh-CN", viewport={"width": 1366, "height": 900})
    page.wait_for_function("document.documentElement.classList.contains('seqcompare-rebuilt')")
    page.evaluate("""() => {                        // as before an answer: the class off, a view drawn now
      document.documentElement.classList.remove('seqcompare-rebuilt');
      const view = document.createElement('div');
      view.id = 'late-view'; view.className = 'per-language'; view.textContent = 'drawn in English';
      document.body.append(view);
    }""")
    visibility = "getComputedStyle(document.querySelector('#late-view')).visibility"
    assert page.evaluate(visibility) == "hidden"
    page.wait_for_function(f"{visibility} === 'visible'", timeout=(locale.REVEAL_S + 10) * 1000)


def touch_stroke(page, points):
    """A finger's stroke through `points` (page coordinates), as touch events."""
    cdp = page.context.new_cdp_session(page)
    kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
    for kind, (x, y) in zip(kinds, points):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


@pytest.mark.parametrize("lang", ["zh-CN", "en-US"])
def test_a_phone_reaches_every_tab_draws_and_types(browser, app_url, lang):
    page = open_app(browser, app_url, locale=lang, viewport={"width": 390, "height": 844},
                    is_mobile=True, has_touch=True, device_scale_factor=2)
    tabs = TABS["zh-CN" if lang == "zh-CN" else "en"]
    for tab in [*tabs[1:], tabs[0]]:                      # each tab is on screen and opens with one tap
        button = page.get_by_role("tab", name=tab, exact=True)
        assert button.is_visible()
        button.tap()
        assert button.get_attribute("aria-selected") == "true"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390      # nothing widens the page
    # each slider has a row of its own, so its label is not squeezed beside its number box
    widths = page.evaluate("[...document.querySelectorAll('#gen-length, #gen-beams, .phone-full-row')]"
                           ".map(e => e.getBoundingClientRect().width).filter(w => w > 0)")
    assert len(widths) >= 6 and min(widths) > 300, widths
    # a figure with a label per step keeps a readable width and scrolls sideways inside its own block
    page.locator("#gates-hotel .js-plotly-plot").wait_for()
    scrolls = "e => e.scrollWidth >= 700 && e.clientWidth < 390 && getComputedStyle(e).overflowX === 'auto'"
    assert page.locator("#gates-hotel").evaluate(scrolls)            # (not clipped: a finger can scroll it)
    # … and so do the training curves (two panels side by side and a legend)
    curves = page.locator(".wide-plot", has_text="训练曲线" if lang == "zh-CN" else "Training curves").first
    curves.locator(".js-plotly-plot").wait_for()
    assert curves.evaluate(scrolls)
    page.get_by_role("tab", name=tabs[1], exact=True).tap()
    canvas = page.locator("#digit-canvas canvas").first
    wait_for_the_brush(page)
    clear = "清空画布" if lang == "zh-CN" else "Clear canvas"                  # Gradio's canvas words in the page's language
    assert page.locator(f'#digit-canvas button[aria-label="{clear}"]').count() == 1
    canvas.scroll_into_view_if_needed()
    # the canvas's label is readable: its zoom bar sits below it, not over it
    label, bar = (page.locator(f"#digit-canvas {s}").first.bounding_box() for s in ("> label", ".top-panel"))
    assert label["width"] > 150 and bar["y"] >= label["y"] + label["height"] - 1, (label, bar)
    box = canvas.bounding_box()
    cx, top, h = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.15, box["height"] * 0.7
    touch_stroke(page, [(cx, top + h * i / 24) for i in range(25)])          # a 1: one vertical stroke
    timed = "text=/毫秒/" if lang == "zh-CN" else "text=/ms/"                   # the milliseconds, in the page's language
    page.locator("#digit-lenet").locator(timed).wait_for()
    assert page.locator("#digit-lenet h2, #digit-lenet .output-class").first.inner_text().strip() == "1"
    page.get_by_role("tab", name=tabs[2], exact=True).tap()
    page.locator("#review-text textarea").tap()
    page.keyboard.type("A wonderful film, moving and funny.")
    page.locator("#review-gru").locator(timed).wait_for()
