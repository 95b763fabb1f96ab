"""The language of the page and of each callback.

The reader's explicit choice (the 中文 | English switch, kept in the browser and sent as the cookie
COOKIE) wins; without one, a callback answers in the language of the request's Accept-Language.
A callback that builds text takes `request: gr.Request` (Gradio fills it in) and calls `of(request)`."""

from __future__ import annotations

import gradio as gr

from seqcompare import i18n

COOKIE = "seqcompare-lang"


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
