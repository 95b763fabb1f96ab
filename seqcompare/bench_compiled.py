"""A trial, not a serving setting: each text model's float32 decoding step written as one function of tensors and
compiled by `torch.compile` (TorchInductor, which writes and builds C++ for the CPU), against the same function run
eagerly, taking turns in one run. `python -m seqcompare bench --tasks compiled --save` writes the artifact
docs/artifacts/compiled_trial.json (docs/experiments.md, "A compiled decoding step"). It needs a C++ compiler.

Why: at fp32 the Transformer's step takes longer than the LSTM's though both read about the same bytes of
weights: it runs 13 matrix products and, between them, norms, attention and GELUs, where the LSTM runs three
products, two of them inside one fused cell kernel. A compiler fuses the small operations into a few loops and
calls them from one function, so what it saves is what those operations cost beyond their arithmetic.

The functions compute what `CharLM.step` and `TransformerLM.step` compute for one row, with the Transformer's
keys and values concatenated (a compiled function returns new tensors; the served step writes them in place,
`transformer.extend`); `tests/test_precision.py` checks they give the models' own logits."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from seqcompare import UserError
from seqcompare.machine import machine, take_turns
from seqcompare.report import artifact_block

ARTIFACT = Path("docs/artifacts/compiled_trial.json")    # beside the repository root, what `bench --save` writes
SEED = (1, 2, 3)             # the three characters read first (ids), then 100 greedy steps, as `bench.anatomy`
STEPS = 100
# Inductor's two ways of calling what it builds: from Python (its default), or from one C++ function
COMPILED = {"compiled": {}, "compiled, C++ wrapper": {"cpp_wrapper": True}}


def transformer_step(model):
    """(step, empty state) for a TransformerLM: step(token (1,), position (1,), state) → logits (1, vocab), state,
    the state a tuple of each layer's keys and values (1, heads, positions, width / heads)."""
    C, H = model.cfg.width, model.cfg.heads
    layers = [(b.ln1.weight, b.ln1.bias, b.attn.qkv.weight, b.attn.qkv.bias, b.attn.proj.weight, b.attn.proj.bias,
               b.ln2.weight, b.ln2.bias, b.mlp[0].weight, b.mlp[0].bias, b.mlp[2].weight, b.mlp[2].bias)
              for b in model.blocks]
    embed, position, ln_w, ln_b = model.embed.weight, model.position.weight, model.ln.weight, model.ln.bias

    def step(token, at, state):
        x, new = embed[token] + position[at], []
        for (l1w, l1b, qkv_w, qkv_b, proj_w, proj_b, l2w, l2b, fc_w, fc_b, out_w, out_b), (k, v) in zip(layers, state):
            qkv = F.linear(F.layer_norm(x, (C,), l1w, l1b), qkv_w, qkv_b).view(1, 3, H, 1, C // H)
            k, v = torch.cat([k, qkv[:, 1]], 2), torch.cat([v, qkv[:, 2]], 2)
            x = x + F.linear(F.scaled_dot_product_attention(qkv[:, 0], k, v).view(1, C), proj_w, proj_b)
            x = x + F.linear(F.gelu(F.linear(F.layer_norm(x, (C,), l2w, l2b), fc_w, fc_b)), out_w, out_b)
            new.append((k, v))
        return F.linear(F.layer_norm(x, (C,), ln_w, ln_b), embed), tuple(new)

    empty = embed.new_zeros(1, H, 0, C // H)
    return step, tuple((empty, empty) for _ in layers)


def recurrent_step(model):
    """(step, zero state) for a CharLM: step(token (1,), position (unused), state) → logits (1, vocab), state, the
    state a tuple per layer of its hidden state (1, hidden), with the LSTM's cell state beside it."""
    from seqcompare.models.cells import kernel, layer_weights

    rnn = model.rnn
    cell, lstm = kernel(rnn), model.cfg.cell == "lstm"
    layers = [layer_weights(rnn, layer) for layer in range(rnn.num_layers)]
    embed, (out_w, out_b) = model.embed.weight, model.output_weights()

    def step(token, at, state):
        x, new = embed[token], []
        for weights, s in zip(layers, state):
            s = cell(x, s, *weights)
            x = s[0] if lstm else s
            new.append(s)
        return F.linear(x, out_w, out_b), tuple(new)

    zero = embed.new_zeros(1, rnn.hidden_size)
    return step, tuple(((zero, zero) if lstm else zero) for _ in layers)


# Each text model's step as one function of tensors, by the model's name
PURE_STEPS = {"rnn": recurrent_step, "lstm": recurrent_step, "gru": recurrent_step, "transformer": transformer_step}


def pure_step(name: str, model):
    """The step of the text model `name` as one function of tensors, and its first state."""
    return PURE_STEPS[name](model)


def write(step, state) -> tuple[float, list[int]]:
    """Seconds for STEPS greedy steps after reading SEED, and the characters written."""
    for at, token in enumerate(SEED):
        logits, state = step(torch.tensor([token]), torch.tensor([at]), state)
    written = []
    t0 = time.perf_counter()
    for at in range(len(SEED), len(SEED) + STEPS):
        written.append(int(logits[0].argmax()))
        logits, state = step(torch.tensor([written[-1]]), torch.tensor([at]), state)
    return time.perf_counter() - t0, written


def run(root: Path, runs: int) -> dict:
    """{model: eager and compiled ms per 100 characters (medians, taking turns), compile seconds, same text}."""
    import torch._dynamo
    import torch._inductor.utils

    from seqcompare import precision_table, textgen

    bank = textgen.TextModels(Path(root) / precision_table.TASK, precision="fp32")
    rounds, result = max(3, runs // 5), {}
    with torch.inference_mode(), torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
        for name, model in bank.models.items():
            torch._dynamo.reset()           # each model's compilations on their own (the step functions share code)
            eager, state = pure_step(name, model.eval())
            steps, compile_s = {"eager": eager}, {}
            for variant, options in COMPILED.items():
                steps[variant] = torch.compile(eager, dynamic=True, options=options)
                t0 = time.perf_counter()
                try:         # compiles (once per new kind of shape, the first steps), from empty caches, in memory and
                    with torch._inductor.utils.fresh_cache():       # on disk, as on a first start
                        write(steps[variant], state)
                except torch._dynamo.exc.TorchDynamoException as exc:      # no compiler, or one that fails: one line
                    raise UserError(f"torch.compile could not build the {name} step: "
                                    f"{str(exc).strip().splitlines()[0][:200]}") from None
                compile_s[variant] = round(time.perf_counter() - t0, 1)
            kept = take_turns(steps, rounds, lambda variant, _: write(steps[variant], state))
            result[name] = {**{v: round(statistics.median(s for s, _ in r) * 1e3, 1) for v, r in kept.items()},
                            "compile_s": compile_s,
                            "same_text": all(text == kept["eager"][0][1] for r in kept.values() for _, text in r)}
    return {"machine": machine(), "runs": rounds, "ms": result, "load_average": round(os.getloadavg()[0], 2)}


def lines(r: dict) -> list[str]:
    """What `bench --tasks compiled` prints."""
    out = [f"compiled: {r['machine']}; 100 greedy characters at fp32, median of {r['runs']} per variant, taking "
           f"turns (load {r['load_average']})"]
    for n, m in r["ms"].items():
        out.append(f"  {n:11s} eager {m['eager']:.1f} ms  " + "  ".join(
            f"{v} {m[v]:.1f} ms ({m['compile_s'][v]:.1f} s to compile)" for v in m["compile_s"])
            + f"; same text: {'yes' if m['same_text'] else 'no'}")
    return out


# --- the report block ----------------------------------------------------------------------------

@artifact_block("compiled_trial", ARTIFACT,
                "No compiled trial saved yet: `python -m seqcompare bench --tasks compiled --save`.")
def compiled_block(r: dict) -> str:
    from seqcompare.plots import label
    from seqcompare.results import table

    ms = r["ms"]
    variants = list(next(iter(ms.values()))["compile_s"])
    rows = [[label(n), f"{m['eager']:.1f}", *(f"{m[v]:.1f} ({m['compile_s'][v]:.1f} s)" for v in variants),
             "yes" if m["same_text"] else "no"] for n, m in ms.items()]
    caption = (f"100 greedy characters at fp32, ms per model, median of {r['runs']} runs per variant taking turns "
               f"(`python -m seqcompare bench --tasks compiled --save`; {r['machine']}; load average "
               f"{r['load_average']}). In brackets, the seconds the first compilation took, from empty caches (the "
               "first model's includes starting the compiler). The Transformer's functions concatenate its keys and "
               "values, where the served step writes them in place, so its times here are not the served ones.")
    text = caption + "\n\n" + table(["model", "eager", *variants, "same text"], rows)
    if {"transformer", "lstm"} <= set(ms):
        t, lstm = ms["transformer"], ms["lstm"]
        text += (f"\n\nThe Transformer took {t['eager'] / lstm['eager']:.2f}× the LSTM's time eagerly; with both "
                 "compiled, " + " and ".join(f"{t[v] / lstm[v]:.2f}× ({v})" for v in variants)
                 + ". Compiled, the Transformer wrote at "
                 + " and ".join(f"{t['eager'] / t[v]:.2f}×" for v in variants) + " its eager speed.")
    return text
