"""The README's paragraph on the text models: what their measured numbers show (English, or any language
of the dashboard)."""

from __future__ import annotations

from seqcompare.i18n import listed, t


def summary(meta: dict[str, dict], bench: dict | None = None, lang: str = "en") -> str:
    """One paragraph of what the measured numbers show, side by side: bits per character, parameters,
    training speed, generation speed and one float32 step taken apart. Only what the checkpoints and the
    benchmark measured."""
    if not meta:
        return ""
    from seqcompare.plots import label

    bpc = {n: m["validation"]["bpc"] for n, m in meta.items()}
    best = min(bpc, key=bpc.get)
    parts = [t("textgen.summary.bpc", lang, values=listed(
        (f"{label(n)} {v:.3f}" for n, v in sorted(bpc.items(), key=lambda kv: kv[1])), lang), best=label(best))]
    if "transformer" in meta and "lstm" in meta:
        tr, ls = meta["transformer"]["parameters"], meta["lstm"]["parameters"]
        parts.append(t("textgen.summary.more" if tr >= ls else "textgen.summary.fewer", lang, t=f"{tr:,}",
                       ratio=f"{abs(tr / ls - 1):.0%}", l=f"{ls:,}"))
    speed = {n: m["train_characters"] / m["train_seconds"] for n, m in meta.items()
             if m.get("train_characters") and m.get("train_seconds")}
    if speed:
        speeds = listed((f"{label(n)} {v:,.0f}" for n, v in speed.items()), lang)
        parts.append(t("textgen.summary.speed", lang, speeds=speeds,
                       times=listed((t("textgen.summary.minutes", lang, model=label(n),
                                       m=f"{meta[n]['train_seconds'] / 60:.0f}") for n in speed), lang)))
    gen = (bench or {}).get("textgen", {}).get("model_ms", {})
    if gen:
        parts.append(t("textgen.summary.writing", lang, times=listed(
            (t("textgen.summary.model_ms", lang, model=label(n), ms=v["median"]) for n, v in gen.items() if n in meta),
            lang)))
    steps = (bench or {}).get("textgen", {}).get("fp32_step", {})
    if "transformer" in steps and "lstm" in steps:                 # one float32 step taken apart (`bench.anatomy`)
        tr, ls = steps["transformer"], steps["lstm"]
        parts.append(t("textgen.summary.step", lang, tp=tr["products"], tpu=f"{tr['products_us']:.0f}",
                       tr=f"{tr['rest_us']:.0f}", lp=ls["products"], lpu=f"{ls['products_us']:.0f}",
                       lr=f"{ls['rest_us']:.0f}"))
    return t("textgen.summary.joiner", lang).join(parts)
