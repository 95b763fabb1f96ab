"""The language of the page and of each callback.

The reader's explicit choice (the 中文 | English switch, kept in the browser and sent as the cookie
COOKIE) wins; without one, a callback answers in the language of the request's Accept-Language.
A callback that builds text takes `request: gr.Request` (Gradio fills it in) and calls `of(request)`.

Static words reach the page through Gradio's own internationalisation: `L(key)` is a `gr.I18n` key that
the browser translates (labels, buttons, Markdown, placeholders); `composed(fn)` is a text built from
several keys and numbers, rendered here in both languages and sent as one more key. What gr.I18n does not
reach (figures, table headers, radio choices) is registered with `per_language(component, fn)` and
rebuilt by `wire()` when the page starts in Chinese or the reader switches."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import inspect
import json
import re
import typing
from collections.abc import Callable

import gradio as gr
from gradio.i18n import I18nData

from seqcompare import i18n

COOKIE = "seqcompare-lang"
PREFIX = "seqcompare."          # our keys in the browser, apart from Gradio's own ("errors.…", "common.…")
_COMPOSED: dict[str, dict[str, str]] = {}
_VIEWS: contextvars.ContextVar[list | None] = contextvars.ContextVar("seqcompare_views", default=None)


def of(request: gr.Request | None) -> str:
    """"zh-CN" or "en" for this request: the chosen language, else the browser's."""
    if request is None:
        return i18n.DEFAULT
    cookies = getattr(request, "cookies", None) or {}
    chosen = cookies.get(COOKIE)
    if chosen in i18n.LANGUAGES:
        return chosen
    headers = getattr(request, "headers", None) or {}
    return i18n.language(headers.get("accept-language"))


def bound(fn: Callable, *first) -> Callable:
    """`fn` with its first arguments given, as a function whose signature and annotations Gradio can read
    (it passes gr.Request to the parameter annotated so, which functools.partial would hide)."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        return fn(*first, *args, **kwargs)

    signature = inspect.signature(fn)
    rest = list(signature.parameters.values())[len(first):]
    call.__signature__ = signature.replace(parameters=rest)
    call.__annotations__ = {k: v for k, v in typing.get_type_hints(fn).items() if k in {p.name for p in rest}}
    del call.__wrapped__                       # Gradio reads this signature, not fn's
    return call


def say(text, lang: str) -> str:
    """A notice, an error or a plain string, in `lang` (see i18n.render)."""
    return i18n.render(text, lang)


# --- words the browser translates (gr.I18n) -------------------------------------------------------

def L(key: str, **values) -> I18nData:
    """A key's text for a component's label, value, placeholder or info, in the page's language."""
    if values:
        return composed(lambda lang: i18n.t(key, lang, **values))
    if not i18n.has(key):
        raise KeyError(f"no text for {key!r} in seqcompare/locales/en.yaml")
    return I18nData(PREFIX + key)


def composed(build: Callable[[str], str]) -> I18nData:
    """A text made in Python for each language (several keys, numbers), sent to the browser as one key."""
    texts = {lang: build(lang) for lang in i18n.LANGUAGES}
    key = "said." + hashlib.sha1("\0".join(texts.values()).encode()).hexdigest()[:16]
    _COMPOSED[key] = texts
    return I18nData(PREFIX + key)


GRADIO = "gradio."          # locale keys that are Gradio's own (its words where it has no Chinese), sent as they are


class Words(gr.I18n):
    """Every key of both locale files and every composed text so far, as Gradio's translations (read
    when a page asks for the config, so texts composed while the app was built are included); the `gradio.*`
    keys also under Gradio's own names, which they fill in (image_editor.brush …)."""

    @property
    def translations_dict(self) -> dict[str, dict[str, str]]:
        return {lang: {**{PREFIX + k: v for k, v in i18n.words(lang).items()},
                       **{k[len(GRADIO):]: v for k, v in i18n.words(lang).items() if k.startswith(GRADIO)},
                       **{PREFIX + k: texts[lang] for k, texts in _COMPOSED.items()}} for lang in i18n.LANGUAGES}


WORDS = Words()
MARKER = re.compile(r"__i18n__(\{[^}]*\})")


def shown(value, lang: str = i18n.DEFAULT) -> str:
    """What the browser shows for a component's label or value in `lang`, its gr.I18n keys resolved."""
    words = WORDS.translations_dict[lang]
    return MARKER.sub(lambda m: words.get(json.loads(m.group(1))["key"], m.group(0)), str(value))


# --- what gr.I18n does not reach: rebuilt in the page's language ----------------------------------

@contextlib.contextmanager
def collecting():
    """Collect the per_language() registrations made inside (while the dashboard is built)."""
    views: list = []
    token = _VIEWS.set(views)
    try:
        yield views
    finally:
        _VIEWS.reset(token)


# What the page shows in English until `wire` has rebuilt it in the page's language stays invisible (it keeps
# its place) on a page in another language until the rebuild has answered, or failed (REBUILT on <html>), and at
# most REVEAL_S seconds after it is drawn whatever happens.
PER_LANGUAGE, REBUILT, REVEAL_S = "per-language", "seqcompare-rebuilt", 20
RETURNING, RETURN_S = "seqcompare-returning", 3      # the switch's reload, until its tab is open (3 s at most)
CSS = (", ".join(f'html[lang="{lang}"]:not(.{REBUILT}) .{PER_LANGUAGE}' for lang in i18n.LANGUAGES
                 if lang != i18n.DEFAULT)
       + f" {{ visibility: hidden; animation: seqcompare-reveal 0s {REVEAL_S}s forwards; }}\n"
       + "@keyframes seqcompare-reveal { to { visibility: visible; } }\n"
       # the reload of the language switch shows no tab's content until the remembered tab is open (RETURNING)
       + f'html.{RETURNING} [role="tabpanel"] {{ visibility: hidden; '
       f"animation: seqcompare-reveal 0s {RETURN_S}s forwards; }}\n")


def per_language(component, build: Callable[[str], object]):
    """`component`, to be given build(lang) whenever the page's language is set, and the class PER_LANGUAGE (unseen
    on a page in another language until then); returns the component."""
    views = _VIEWS.get()
    if views is not None:
        views.append((component, build))
        component.elem_classes = [*(component.elem_classes or []), PER_LANGUAGE]
    return component


# The page's language is settled before Gradio's frontend starts: a script at the top of the page makes
# the browser's language the reader's choice (the cookie), or Simplified Chinese for any zh* browser, so
# that Gradio's i18n translates every label in it from the first render. The switch stores the choice
# (cookie, kept a year, and localStorage) and reloads the page, which opens the tab the reader was on.
EARLY = """<script>(function () {
  try {
    var m = document.cookie.match(/(?:^|; )seqcompare-lang=([^;]*)/), lang = m ? decodeURIComponent(m[1]) : null;
    if (!lang) { try { lang = localStorage.getItem('seqcompare-lang'); } catch (e) {} }
    if (lang === 'zh-CN' || lang === 'en') {
      document.cookie = 'seqcompare-lang=' + lang + '; path=/; max-age=31536000; SameSite=Lax';
    } else {
      lang = (navigator.language || '').toLowerCase().indexOf('zh') === 0 ? 'zh-CN' : null;
    }
    try { if (sessionStorage.getItem('seqcompare-tab')) document.documentElement.classList.add('%s'); } catch (e) {}
    if (lang) {
      Object.defineProperty(navigator, 'language', { get: function () { return lang; }, configurable: true });
      Object.defineProperty(navigator, 'languages', { get: function () { return [lang]; }, configurable: true });
      document.documentElement.lang = lang;
    }
  } catch (e) {}
})();</script>""" % RETURNING
START = """() => {
  const m = document.cookie.match(/(?:^|; )seqcompare-lang=([^;]*)/), chosen = m ? decodeURIComponent(m[1]) : '';
  if (chosen === 'zh-CN' || chosen === 'en') return chosen;
  return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}"""
CHOOSE = """(lang) => {
  document.cookie = 'seqcompare-lang=' + lang + '; path=/; max-age=31536000; SameSite=Lax';
  try { localStorage.setItem('seqcompare-lang', lang); } catch (e) {}
  const tab = document.querySelector('[role="tablist"]')?.querySelector('[role="tab"][aria-selected="true"]');
  try { if (tab) sessionStorage.setItem('seqcompare-tab', tab.dataset.tabId); } catch (e) {}
  window.location.reload();
  return lang;
}"""
# After the switch's reload, the page opens the tab the reader was on (in the first tab list: the dashboard's tabs),
# looking for it for up to 3 s while the page is drawn; the tab is remembered for that one reload only.
BACK_TO_TAB = """() => {
  let id = null, tries = 0;
  try { id = sessionStorage.getItem('seqcompare-tab'); sessionStorage.removeItem('seqcompare-tab'); } catch (e) {}
  const shown = () => document.documentElement.classList.remove('%s');
  const open = () => {
    const tabs = document.querySelector('[role="tablist"]');
    const tab = tabs && Array.from(tabs.querySelectorAll('[role="tab"]')).find((b) => b.dataset.tabId === id);
    if (tab) { if (tab.getAttribute('aria-selected') !== 'true') tab.click(); requestAnimationFrame(shown); }
    else if (++tries < 30) setTimeout(open, 100);
    else shown();
  };
  if (id) open(); else shown();
}""" % RETURNING
SHOWN = "() => { document.documentElement.classList.add('%s'); }" % REBUILT


class EarlyLanguage:
    """ASGI middleware: the page itself (GET of an HTML document) gets EARLY at the top of its <head>;
    every other request passes through untouched (streams included)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].endswith("/"):
            return await self.app(scope, receive, send)
        start, chunks = {}, []

        async def rewrite(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body, headers = b"".join(chunks), [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                body = body.replace(b"<head>", b"<head>" + EARLY.encode(), 1)
            await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)


def switch() -> gr.Radio:
    """The 中文 | English switch at the top of the page."""
    return gr.Radio([(name, code) for code, name in reversed(i18n.LANGUAGES.items())], value=i18n.DEFAULT,
                    show_label=False, container=False, elem_id="lang-switch", min_width=190)


def wire(demo: gr.Blocks, chooser: gr.Radio, views: list) -> None:
    """Set the page's language as it loads and when the reader switches; rebuild what gr.I18n cannot reach."""
    components = [c for c, _ in views]
    built: dict[str, list] = {}          # the views depend on the language alone: built once per language

    def rebuild(lang: str, at_start: bool = False) -> list:     # (the switch reloads the page)
        lang = lang if lang in i18n.LANGUAGES else i18n.DEFAULT
        if at_start and lang == i18n.DEFAULT:         # the page was built in English: nothing to redo
            return [lang, *(gr.skip() for _ in components)]
        if lang not in built:
            built[lang] = [build(lang) for _, build in views]
        return [lang, *built[lang]]

    rebuilt = demo.load(lambda lang: rebuild(lang, at_start=True), chooser, [chooser, *components], js=START,
                        api_visibility="private", show_progress="hidden")
    rebuilt.success(None, js=SHOWN)
    rebuilt.failure(None, js=SHOWN)
    demo.load(None, js=BACK_TO_TAB)
    chooser.input(None, chooser, None, js=CHOOSE, api_visibility="private")
