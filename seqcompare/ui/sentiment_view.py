"""The sentiment section of the Text generation tab: each text model's P(positive) for a typed hotel review
from the probe on its state (fitted on ChnSentiCorp's labels, which the models never saw), its sentiment
unit's value under every character, and the shipped probe and fixed-unit tables (`seqcompare.sentiment`)."""

from __future__ import annotations

from html import escape
from pathlib import Path

import gradio as gr

from seqcompare import UserError, checkpoints, plots, sentiment, textgen
from seqcompare.i18n import t
from seqcompare.ui import locale
from seqcompare.ui.common import VIEW_EVENTS, joined, notice_html, table as frame
from seqcompare.ui.locale import of


def shipped(folder: Path) -> dict | None:
    """The probes stored in `folder` (the text models' checkpoints), or None (not computed, or unreadable)."""
    try:
        return sentiment.load(folder)
    except checkpoints.CheckpointError:
        return None


def colour(lean: float) -> str:
    """Red where the unit leans positive, blue where it leans negative (standardised, ±2.5 full)."""
    strength = min(abs(lean) / 2.5, 1.0) * 0.8
    return f"rgba(228,87,86,{strength:.2f})" if lean > 0 else f"rgba(76,120,168,{strength:.2f})"


def unit_html(characters: list[str], values: list[float], lean: list[float]) -> str:
    return "".join(f'<span title="{v:+.3f}" style="background:{colour(s)};border-radius:3px;padding:0 1px">'
                   f"{escape(c)}</span>" for c, v, s in zip(characters, values, lean))


def sentiment_html(bank: textgen.TextModels, text: str, lang: str, probes: dict) -> str:
    """Each model's P(positive) and its sentiment unit under every character (HTML), or the problem; `probes`
    are the shipped ones (`shipped`, read once by the caller)."""
    try:
        result = sentiment.analyse(bank, text, probes)
    except UserError as exc:
        return notice_html(exc.render(lang))
    blocks = []
    for name, a in result["models"].items():
        if "error" in a:
            blocks.append(f"<div><b>{plots.label(name)}</b> <i>{escape(locale.say(a['error'], lang))}</i></div>")
            continue
        title = t("cells.sentiment.unit_value", lang, model=plots.label(name),
                  state=t("cells.sentiment." + a["unit"]["state"], lang), index=a["unit"]["index"], p=a["positive"])
        bar = (f'<div style="height:6px;background:#eee;border-radius:3px;margin:2px 0 4px">'
               f'<div style="width:{a["positive"] * 100:.0f}%;height:6px;background:{plots.COLORS.get(name)};'
               f'border-radius:3px"></div></div>')
        blocks.append(f'<div style="margin-bottom:10px"><b>{escape(title)}</b>{bar}'
                      f'<div style="line-height:1.9;word-break:break-all">'
                      f'{unit_html(result["characters"], a["values"], a["lean"])}</div></div>')
    return notice_html(joined((locale.say(n, lang) for n in result["notices"]), lang)) + "".join(blocks)


def probe_rows(probes: dict, lang: str) -> list[list]:
    """The shipped probe table: model, reading, all units, one unit, the unit."""
    rows = []
    for name, m in probes["models"].items():
        rows.append([plots.label(name), t("cells.sentiment." + m["reading"], lang), m["all_units"], m["single_unit"],
                     f"{t('cells.sentiment.' + m['unit']['state'], lang)} {m['unit']['index']}"])
    rows.append([t("cells.sentiment.ngrams", lang), "", probes["baseline"]["bag_of_ngrams"], "", ""])
    return rows


def fixed_rows(probes: dict, lang: str) -> list[list]:
    """The unit held, and the fraction judged positive (probe / n-grams) with it held positive, negative, and free."""
    return [[plots.label(name), f"{t('cells.sentiment.' + f['unit']['state'], lang)} {f['unit']['index']}"]
            + [f"{f[d]['probe_positive']:.2f} / {f[d]['ngram_positive']:.2f}" for d in ("positive", "negative", "free")]
            for name, f in probes.get("fixed", {}).items()]


def section(bank: textgen.TextModels) -> None:
    """The sentiment section placed where it is called: a review box, the models' answers, the tables."""
    gr.Markdown(locale.L("cells.sentiment.heading"))
    try:
        probes = sentiment.load(bank.folder)
    except checkpoints.CheckpointError as exc:
        gr.Markdown(locale.L("notices.broken", file=bank.folder / sentiment.SENTIMENT_FILE, error=f"CheckpointError: {exc}"))
        return
    if probes is None:
        gr.Markdown(locale.L("cells.sentiment.missing"))
        return
    default = t("cells.sentiment.default", "zh-CN")             # a Chinese hotel review, like the models' data
    review = gr.Textbox(default, label=locale.L("cells.sentiment.review"), lines=2, max_lines=6,
                        elem_id="sentiment-text")
    answers = locale.per_language(gr.HTML(sentiment_html(bank, default, "en", probes), elem_id="sentiment-answers"),
                                  lambda lang: sentiment_html(bank, default, lang, probes))
    gr.Markdown(locale.L("cells.sentiment.note", train=f"{probes['reviews']['train']:,}"))
    tables = [(probe_rows, PROBE_COLUMNS)] + ([(fixed_rows, FIXED_COLUMNS)] if probes.get("fixed") else [])
    for n, (rows, columns) in enumerate(tables):
        if n:
            gr.Markdown(locale.L("cells.sentiment.fixed_note", n=probes["generation"]["reviews"]))
        locale.per_language(gr.Dataframe(table(rows, columns, probes, "en"), interactive=False, show_label=False),
                            lambda lang, rows=rows, columns=columns: table(rows, columns, probes, lang))

    def view(text: str, request: gr.Request) -> str:
        """The callback, in the reader's language."""
        return sentiment_html(bank, text, of(request), probes)

    gr.on([review.change, review.submit], view, review, answers, **VIEW_EVENTS)


PROBE_COLUMNS = ("model", "reading", "all_units", "one_unit", "unit")
FIXED_COLUMNS = ("model", "held_unit", "held_positive", "held_negative", "free")


def table(rows, columns: tuple, probes: dict, lang: str):
    """A probe table with its headers in `lang`, as a Dataframe value."""
    return frame(rows(probes, lang), [t(f"cells.sentiment.{c}", lang) for c in columns])
