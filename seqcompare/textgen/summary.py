"""The README's paragraph on the text models: what their measured numbers show."""

from __future__ import annotations


def summary(meta: dict[str, dict], bench: dict | None = None) -> str:
    """One paragraph of what the measured numbers show, side by side: bits per character, parameters,
    training speed and generation speed. Only what the checkpoints and the benchmark measured."""
    if not meta:
        return ""
    from seqcompare.plots import label

    bpc = {n: m["validation"]["bpc"] for n, m in meta.items()}
    best = min(bpc, key=bpc.get)
    parts = ["**What the numbers show.** Bits per character on the validation reviews: " +
             ", ".join(f"{label(n)} {v:.3f}" for n, v in sorted(bpc.items(), key=lambda kv: kv[1])) +
             f" — {label(best)} predicts the next character best."]
    if "transformer" in meta and "lstm" in meta:
        t, l = meta["transformer"]["parameters"], meta["lstm"]["parameters"]
        parts.append(f"The Transformer has {t:,} parameters, {abs(t / l - 1):.0%} {'more' if t >= l else 'fewer'} "
                     f"than the LSTM ({l:,}).")
    speed = {n: m["train_characters"] / m["train_seconds"] for n, m in meta.items()
             if m.get("train_characters") and m.get("train_seconds")}
    if speed:
        parts.append("Training speed, characters per second on one CPU thread (validation passes included): " +
                     ", ".join(f"{label(n)} {v:,.0f}" for n, v in speed.items()) + "; training time: " +
                     ", ".join(f"{label(n)} {meta[n]['train_seconds'] / 60:.0f} min" for n in speed) + ".")
    gen = (bench or {}).get("textgen", {}).get("model_ms", {})
    if gen:
        parts.append("Writing 100 characters (median, one request at a time): " +
                     ", ".join(f"{label(n)} {v['median']:.0f} ms" for n, v in gen.items() if n in meta) + ".")
    return " ".join(parts)
