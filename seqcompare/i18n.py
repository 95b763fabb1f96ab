"""The dashboard's words in two languages, 简体中文 and English: one YAML file per language in
`seqcompare/locales/`, with the same keys. Keys are dotted paths into the YAML (`errors.empty_review`);
values are `str.format` templates (`"{n} characters"`). The CLI speaks English; the UI speaks the
language its reader chose, or the one their browser asks for."""

from __future__ import annotations

import functools
import re
import string
from pathlib import Path

import yaml

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = {"en": "English", "zh-CN": "中文"}
DEFAULT = "en"


def language(code: str | None) -> str:
    """A supported language for a browser's or a user's code: Chinese for any `zh*`, English otherwise.
    An Accept-Language header works too: its first language decides."""
    first = (code or "").split(",")[0].split(";")[0].strip().lower()
    return "zh-CN" if first.startswith("zh") else DEFAULT


def _flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = str(value)
    return flat


@functools.cache
def words(lang: str) -> dict[str, str]:
    """Every key of one language, flattened to dotted paths."""
    with open(LOCALES / f"{lang}.yaml", encoding="utf-8") as f:
        return _flatten(yaml.safe_load(f) or {})


def has(key: str) -> bool:
    return key in words(DEFAULT)


def t(key: str, lang: str = DEFAULT, **values) -> str:
    """The text of `key` in `lang` (a code such as "zh-CN", "zh" or "en-US"), its fields filled in."""
    text = words(language(lang) if lang not in LANGUAGES else lang).get(key)
    if text is None:
        raise KeyError(f"no text for {key!r} in seqcompare/locales/{lang}.yaml")
    return text.format(**values) if values else text


def listed(items, lang: str = DEFAULT) -> str:
    """Items of a list in one sentence, separated as the language separates them ("a, b", "a、b")."""
    return t("app.list_separator", lang).join(items)


def fields(text: str) -> set[str]:
    """The formatting fields of a template: {"n", "ms"} for "{n} characters in {ms:.0f} ms"."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


class Said(str):
    """A sentence for the reader, made from a key and its values: as a str it is the English (what the CLI,
    the logs and the API's JSON show); the UI says it in its reader's language with `render(lang)`."""

    def __new__(cls, key: str, **values):
        self = super().__new__(cls, t(key, DEFAULT, **values))
        self.key, self.values = key, values
        return self

    def render(self, lang: str = DEFAULT) -> str:
        return t(self.key, lang, **said_values(self.values, lang))

    def __reduce__(self):                      # copied or pickled, it is the plain English sentence
        return str, (str(self),)


def said(key: str, **values) -> Said:
    """The sentence of `key` with its values, English as a str, any language through render()."""
    return Said(key, **values)


def render(text, lang: str = DEFAULT) -> str:
    """A Said sentence or a UserError in `lang`; any other text as it is."""
    return text.render(lang) if hasattr(text, "render") else str(text)


def said_values(values: dict, lang: str) -> dict:
    """A message's values for `lang`: a setting's name ("learning rate", "top-k") in that language (the
    `names:` section), a Said in that language, anything else as it is."""
    def one(value):
        if hasattr(value, "render"):
            return value.render(lang)
        key = "names." + re.sub(r"\W+", "_", value).strip("_") if isinstance(value, str) else None
        return t(key, lang) if key and has(key) else value
    return {k: one(v) for k, v in values.items()}
