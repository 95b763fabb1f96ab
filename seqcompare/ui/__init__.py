"""The Gradio dashboard: one module per tab, thin callbacks over the package's task functions."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from seqcompare import i18n, tasks, textgen
from seqcompare.ui.api import api_classify_review, api_endpoints
from seqcompare.ui import locale
from seqcompare.ui.cells_api import cells_endpoints
from seqcompare.ui.common import CHECKPOINTS, page_words_script
from seqcompare.ui.digits_tab import digit_view, digits_tab
from seqcompare.ui.reviews_tab import review_view, reviews_tab
from seqcompare.ui.textgen_tab import text_views, textgen_tab
from seqcompare.ui.train_tab import train_tab

# build, and the callbacks the tests call as the tabs do
__all__ = ["build", "api_classify_review", "digit_view", "review_view", "text_views"]


# Gradio's Sketchpad starts with no tool selected ("select the draw tool to start"), and clearing the canvas
# deselects its tool again: whenever a visible canvas has neither the brush nor the eraser selected, pick the brush
# (found by its label in either language: the locale files give Gradio's canvas words in Chinese)
def tool_button(tool: str, state: str = "") -> str:
    """A CSS selector of the canvas's `tool` button (brush, erase …) by its label in any language, in `state`."""
    return ", ".join(f'button[aria-label="{i18n.t("gradio.image_editor." + tool, lang)}"]{state}'
                     for lang in i18n.LANGUAGES)


ARM_BRUSH = """() => {
  const arm = () => document.querySelectorAll('[id^="digit-canvas"]').forEach((el) => {
    const brush = el.querySelector('%s');
    const chosen = el.querySelector('%s');
    if (brush && !chosen && el.offsetParent !== null) brush.click();
  });
  setInterval(arm, 400);
}""" % (tool_button("brush"), f'{tool_button("brush", ".highlight")}, {tool_button("erase", ".highlight")}')

# The views behind sliders follow a slider's `release` (the end of a drag), which Gradio sends when the pointer
# lets go or the slider loses the focus. So that the keyboard moves them as the pointer does: Enter in a slider's
# number box takes the typed number (the box's blur), and a key that moves the slider itself (arrows, Page Up/Down,
# Home, End) ends a move as letting go does. A number typed beyond the slider's ends is brought to the nearest end
# before the box lets it go (Gradio sends it first, and the server refuses it in English).
SLIDER_KEYS = """() => {
  const moves = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End'];
  const box = (e) => e.target.matches && e.target.matches('input[data-testid="number-input"]');
  document.addEventListener('blur', (e) => {
    if (!box(e)) return;
    const b = e.target, v = parseFloat(b.value), lo = parseFloat(b.min), hi = parseFloat(b.max);
    const near = Math.min(Math.max(v, isNaN(lo) ? v : lo), isNaN(hi) ? v : hi);
    if (!isNaN(v) && near !== v) { b.value = String(near); b.dispatchEvent(new Event('input', {bubbles: true})); }
  }, true);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && box(e)) e.target.blur();
  });
  document.addEventListener('keyup', (e) => {
    if (moves.includes(e.key) && e.target.matches && e.target.matches('input[type="range"]'))
      e.target.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
  });
}"""

# Gradio names each option of a radio group apart (again whenever an option is chosen), so that the browser takes
# each for a group of its own: every option is a stop of the Tab key, and the arrow keys do not move the choice.
# The options of one group (one fieldset) get one name whenever radio buttons are drawn or renamed: one Tab stop,
# the arrows choose. The language switch keeps its options apart: an arrow there would reload the page at once.
RADIO_GROUPS = """() => {
  let groups = 0, pending = false;
  const name = () => {
    pending = false;
    document.querySelectorAll('fieldset:not(#lang-switch)').forEach((set) => {
      const radios = set.querySelectorAll('input[type="radio"]');
      if (radios.length < 2) return;
      set.dataset.radioGroup = set.dataset.radioGroup || 'seqcompare-radio-' + (++groups);
      radios.forEach((r) => { if (r.name !== set.dataset.radioGroup) r.name = set.dataset.radioGroup; });
    });
  };
  name();
  new MutationObserver(() => { if (!pending) { pending = true; requestAnimationFrame(name); } })
    .observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ['name']});
}"""


# Phones (390 px): the four tabs fit on one line (narrower padding), and on a narrower screen wrap onto a second
# line instead of hiding behind "…" (the Tabs' overflow_behavior); Plotly's toolbar stays off the titles on touch
# screens; wide tables and figures scroll sideways inside their box; the shaded texts grow with their content (no
# box scrolling inside the page); the canvas takes a finger's strokes instead of scrolling the page; each slider
# has a row; the canvas's label takes a line of its own above the canvas and its zoom bar, which would cover it.
# A slider with the keyboard's focus shows it; a generated text's label keeps clear of its copy button.
CSS = """
input[type="range"]:focus-visible { outline: 2px solid var(--color-accent); outline-offset: 3px; }
.generated [data-testid="block-info"] { padding-right: 26px; }      /* clear of the copy button */
#lang-row { justify-content: flex-end; margin-bottom: -12px; }
#lang-switch { flex-grow: 0 !important; width: auto !important; }
#lang-switch .wrap { flex-direction: row; flex-wrap: nowrap; gap: 4px; }
#lang-switch label { padding: 2px 10px; min-height: 0; white-space: nowrap; }
.table-wrap, .table-container { overflow-x: auto; max-width: 100%; }
@media (max-width: 768px), (hover: none) {
  .js-plotly-plot .modebar-container { display: none !important; }
}
#digit-canvas canvas, #digit-canvas-train canvas { touch-action: none; }
footer > .divider:last-child { display: none; }     /* the footer's dot before the Settings link left out */
@media (max-width: 640px) {
  [role="tablist"] > button[role="tab"] { padding: 0 12px; }     /* the four tabs on one line, in English too */
  .wide-plot { overflow-x: auto !important; }    /* Gradio's block sets overflow: hidden inline */
  .wide-plot .js-plotly-plot { min-width: 720px; }
  #memory-shading .html-container, #review-influence .html-container { max-height: none !important; }
  .phone-full-row { min-width: 100% !important; }
  #digit-canvas > label, #digit-canvas-train > label { position: static; }
  #digit-canvas .image-container, #digit-canvas-train .image-container {
    position: relative; height: calc(100% - 26px);
  }
}
""" + locale.CSS


# The footer links to the API page and to Gradio. Gradio's Settings panel is left out: its language menu would
# contradict the page's own switch (it sets Gradio's words only, not the cookie every callback reads), and most of
# the rest (themes, screen recording, run history) is in English on the Chinese page too.
FOOTER = ["api", "gradio"]


class Dashboard(gr.Blocks):
    """gr.Blocks whose launch() brings the dashboard's words (gr.I18n), the script that sets the page's
    language before Gradio starts (locale.EarlyLanguage), the one that says in that language what Gradio and
    Plotly write in English themselves (common.page_words_script: the refusal of an oversized upload, their
    buttons' labels and tooltips) and the phone-friendly CSS, for
    `python app.py` and for tests that launch the demo alike."""

    def launch(self, *args, i18n=None, css=None, app_kwargs=None, **kwargs):
        kwargs.setdefault("ssr_mode", False)      # a page rendered by Node would skip EarlyLanguage's script
        kwargs.setdefault("footer_links", FOOTER)
        app_kwargs = dict(app_kwargs or {})
        app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), Middleware(locale.EarlyLanguage)]
        kwargs["head"] = page_words_script() + (kwargs.get("head") or "")
        return super().launch(*args, i18n=i18n or locale.WORDS, css=css or CSS, app_kwargs=app_kwargs, **kwargs)


# Uploads land in Gradio's cache: every hour, files older than an hour are deleted (and all at restart).
DELETE_CACHE = (3600, 3600)


def build(checkpoints: Path = CHECKPOINTS, device: str = "cpu", precision: str | None = None) -> gr.Blocks:
    """The whole dashboard; checkpoints are loaded here, once, onto `device`, and served at `precision`
    (seqcompare.precision: None reads $SEQCOMPARE_PRECISION, else auto)."""
    digit_bank, review_bank, text_bank = (task.bank(task.folder(checkpoints), device=device, precision=precision)
                                          for task in (tasks.MNIST, tasks.IMDB, tasks.HOTEL))
    text_writer = textgen.Writer(text_bank)          # the Generate button and the API write together
    with Dashboard(title="seqcompare — RNN vs LSTM vs GRU", delete_cache=DELETE_CACHE) as demo, \
            locale.collecting() as views:
        with gr.Row(elem_id="lang-row"):
            chooser = locale.switch()
        gr.Markdown(locale.L("app.intro"), elem_id="intro")
        with gr.Tabs(selected="digits", overflow_behavior="wrap"):
            with gr.Tab(locale.L("app.tabs.textgen"), id="textgen"):
                textgen_tab(text_bank, text_writer)
            with gr.Tab(locale.L("app.tabs.digits"), id="digits"):
                digits_tab(digit_bank)
            with gr.Tab(locale.L("app.tabs.reviews"), id="reviews"):
                reviews_tab(review_bank)
            with gr.Tab(locale.L("app.tabs.train"), id="train"):
                train_tab(digit_bank, text_bank)
        api_endpoints(digit_bank, review_bank, text_writer)
        cells_endpoints(digit_bank, review_bank, text_bank)
        locale.wire(demo, chooser, views)
        demo.load(None, js=ARM_BRUSH)
        demo.load(None, js=SLIDER_KEYS)
        demo.load(None, js=RADIO_GROUPS)
    demo.i18n_instance = locale.WORDS          # also for a demo mounted without launch()
    return demo
