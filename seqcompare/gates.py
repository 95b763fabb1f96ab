"""The gates at work: the LSTM's and GRU's gates at every step of one input, recomputed from the weights.

Each layer of an nn.LSTM / nn.GRU / nn.RNN is stepped again in float32 (whatever precision serves the
model) from its own `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}` with PyTorch's cell
kernels, and the gates of every step are computed from those weights with PyTorch's conventions:

- LSTM, gate order i, f, g, o in the weights: i = σ(·), f = σ(·), g = tanh(·), o = σ(·),
  c = f ⊙ c₋₁ + i ⊙ g, h = o ⊙ tanh(c);
- GRU, order r, z, n: r = σ(·), z = σ(·), n = tanh(W_in x + b_in + r ⊙ (W_hn h₋₁ + b_hn)),
  h = (1 − z) ⊙ n + z ⊙ h₋₁. PyTorch's z keeps the old state; the tutorial's update gate
  (h = (1 − z) ⊙ h₋₁ + z ⊙ h̃) is PyTorch's 1 − z. The views show PyTorch's values;
- RNN: h = tanh(W_ih x + b_ih + W_hh h₋₁ + b_hh), no gates (its hidden state is shown instead).

The steps: hotel reads END then each character of the text (S = len(TEXT) + 1), a review its tokens, a
digit its 28 pixel rows. The saturation measure (Karpathy, Johnson & Fei-Fei, 2015) is the fraction of
steps a gate unit spends below LEFT or above RIGHT over the validation text, trained and untrained.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from seqcompare import CELLS, UserError, checkpoints, data, digits, reviews, tasks, textgen
from seqcompare.i18n import said
from seqcompare.models.cells import CELL_KERNELS, layer_weights as named_weights, step_through

SHOWN = {"lstm": ("input", "forget", "output", "cell"), "gru": ("reset", "update"), "rnn": ("hidden",)}
GATES = {"lstm": ("input", "forget", "output"), "gru": ("reset", "update")}
LEFT, RIGHT = 0.1, 0.9               # saturation thresholds
SATURATION_FILE = "saturation.json"
SATURATION_ROWS = 16                  # the validation stream cut into rows read side by side


# --- the recurrence, step by step ------------------------------------------------------------------

def layer_weights(rnn: torch.nn.RNNBase, layer: int) -> list[torch.Tensor]:
    """weight_ih, weight_hh, bias_ih, bias_hh of one layer, in float32."""
    return [w.detach().float() for w in named_weights(rnn, layer)]


def lstm_values(from_x, from_h, cells, hidden) -> dict[str, torch.Tensor]:
    """An LSTM layer's gates (PyTorch's order i, f, g, o), its cell states, the candidate and the hidden states."""
    i, f, g, o = (from_x + from_h).chunk(4, -1)
    return {"input": i.sigmoid(), "forget": f.sigmoid(), "output": o.sigmoid(), "cell": cells,
            "candidate": g.tanh(), "hidden": hidden}


def gru_values(from_x, from_h, cells, hidden) -> dict[str, torch.Tensor]:
    """A GRU layer's reset and update gates (PyTorch's z), the candidate and the hidden states."""
    (xr, xz, xn), (hr, hz, hn) = from_x.chunk(3, -1), from_h.chunk(3, -1)
    r = (xr + hr).sigmoid()
    return {"reset": r, "update": (xz + hz).sigmoid(), "candidate": (xn + r * hn).tanh(), "hidden": hidden}


def rnn_values(from_x, from_h, cells, hidden) -> dict[str, torch.Tensor]:
    """An Elman RNN layer has no gates: its hidden states."""
    return {"hidden": hidden}


# by cell: a layer's shown values from W_ih·x + b_ih and W_hh·h₋₁ + b_hh at every step and its stepped states
VALUES = {"lstm": lstm_values, "gru": gru_values, "rnn": rnn_values}


def step_layer(cell: str, weights: list[torch.Tensor], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """One layer over x (B, T, input) from a zero state: every gate, the cell state (LSTM), the candidate and
    the hidden state, (B, T, hidden) each, with PyTorch's conventions (module docstring). The recurrence is
    stepped with PyTorch's own cell kernels on the float32 weights; the gates of every step then follow from
    the weights, the step's input and the hidden state before it, all steps at once (`VALUES`)."""
    w_ih, w_hh, b_ih, b_hh = weights
    H, B, x = w_hh.shape[1], x.shape[0], x.float()
    hidden, cells = step_through(CELL_KERNELS[cell], weights, x)
    before = torch.cat([hidden.new_zeros(B, 1, H), hidden[:, :-1]], 1)       # h₋₁ of every step
    return VALUES[cell](x @ w_ih.T + b_ih, before @ w_hh.T + b_hh, cells, hidden)


def with_cells(bank) -> dict:
    """The loaded models of a bank that have a recurrent cell (RNN, LSTM, GRU), by name, in the bank's order:
    the models the gates are shown for (LeNet-5 and the Transformer have none)."""
    return {n: m for n, m in bank.models.items() if n in CELLS}


def model_gates(cell: str, rnn: torch.nn.RNNBase, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Every layer's `step_layer` values; each layer reads the hidden states of the one below (evaluation:
    no dropout between layers)."""
    layers = []
    for layer in range(rnn.num_layers):
        values = step_layer(cell, layer_weights(rnn, layer), x)
        layers.append(values)
        x = values["hidden"]
    return layers


# --- one input, every recurrent model -------------------------------------------------------------

def text_steps(bank: textgen.TextModels, inputs) -> tuple[dict, list[str], callable]:
    """A typed hotel text: (what was read, the steps' labels, model → layer-0 input (1, S, embed))."""
    if bank.vocab is None:
        raise UserError("cells.errors.no_models")
    text, notices = textgen.read_text(" ".join(inputs) if isinstance(inputs, (list, tuple)) else inputs, bank.vocab)
    ids = torch.tensor([bank.vocab.encode(textgen.END + text)])
    return ({"text": text, "notices": notices}, textgen.shown(textgen.END + text),
            lambda model: model.embed(ids.to(next(model.parameters()).device)))


def review_steps(bank: reviews.ReviewModels, inputs) -> tuple[dict, list[str], callable]:
    """A typed review: its tokens (S = the token count)."""
    if bank.tokenizer is None:
        raise UserError("cells.errors.no_models")
    text = " ".join(inputs) if isinstance(inputs, (list, tuple)) else inputs
    ids, tokens, notices = bank.tokenize(text)
    ids = torch.tensor([ids])
    return ({"text": text, "tokens": tokens, "notices": notices}, tokens,
            lambda model: model.embed(ids.to(next(model.parameters()).device)))


def digit_steps(bank: digits.DigitModels, inputs) -> tuple[dict, list[str], callable]:
    """A drawn or uploaded digit: its 28 rows as the models read them."""
    image = inputs[0] if isinstance(inputs, (list, tuple)) and len(inputs) == 1 else inputs
    if isinstance(inputs, (list, tuple)) and len(inputs) != 1:
        raise UserError("cells.errors.one_image")
    x = digits.normalize(digits.to_mnist(image))[None]
    return {"rows": 28}, [str(r) for r in range(1, 29)], lambda model: x.to(next(model.parameters()).device)


def gates_of(bank, read: tuple[dict, list[str], callable], full: bool = False) -> dict:
    """Each recurrent model's shown values per layer ({"layers": [{gate: S×H}]}) and its ms; `full` keeps
    them as tensors instead of lists (the views), else as lists rounded to 6 decimals."""
    result, steps, inputs = read
    answers = {n: {"error": said("errors.unavailable", reason=e)} for n, e in bank.errors.items() if n in CELLS}
    for name, model in with_cells(bank).items():
        t0 = time.perf_counter()
        with torch.no_grad():
            layers = model_gates(model.cfg.cell, model.rnn, inputs(model))
        answers[name] = {"layers": [{k: (v[0] if full else torch.round(v[0].double(), decimals=6).tolist())
                                     for k, v in layer.items()
                                     if k in SHOWN[model.cfg.cell]} for layer in layers],
                         "ms": round((time.perf_counter() - t0) * 1000, 2)}
    return {**result, "steps": steps, "models": {n: answers[n] for n in CELLS if n in answers}}


def explain_bank(task: str, bank, inputs, full: bool = False) -> dict:
    """`gates_of` for one input of a task (its text, review or image), with the task's own reading."""
    return gates_of(bank, tasks.get(task).gates(bank, inputs), full)


def explain(task: str, folder: Path, inputs) -> dict:
    """`explain_bank` with the task's models loaded from `folder` (the command line)."""
    from seqcompare import influence
    return explain_bank(task, influence.load_bank(task, folder), inputs)


def describe(result: dict) -> str:
    """Each model's gates as text: per layer and gate, the mean over units and steps and the saturated shares."""
    lines = [f"{len(result['steps'])} steps"]
    for name, a in result["models"].items():
        if "error" in a:
            lines.append(f"{name:5s} {a['error']}")
            continue
        for k, layer in enumerate(a["layers"]):
            parts = []
            for gate, values in layer.items():
                v = torch.tensor(values)
                parts.append(f"{gate} mean {v.mean():.3f}" + (
                    f" (<{LEFT}: {(v < LEFT).float().mean():.0%}, >{RIGHT}: {(v > RIGHT).float().mean():.0%})"
                    if gate not in ("cell", "hidden") else ""))
            lines.append(f"{name:5s} layer {k + 1}: " + "; ".join(parts))
    return "\n".join(lines)


# --- saturation over the validation text ----------------------------------------------------------

def fractions(gates: dict[str, torch.Tensor], cell: str) -> dict:
    """Per gate, each unit's fraction of steps below LEFT and above RIGHT."""
    out = {}
    for gate in GATES[cell]:
        g = gates[gate].reshape(-1, gates[gate].shape[-1])
        out[gate] = {"left": [round(v, 4) for v in (g < LEFT).float().mean(0).tolist()],
                     "right": [round(v, 4) for v in (g > RIGHT).float().mean(0).tolist()]}
    return out


def saturation(folder: Path, data_dir, limit: int | None = None, log=print) -> dict:
    """The hotel LSTM's and GRU's gate saturation over the validation text (the first `limit` characters),
    trained and untrained (the same config at initialisation, `influence.untrained`), every layer."""
    from seqcompare import influence
    bank = influence.load_bank("hotel", folder)
    _, val = textgen.split_reviews(data.hotel_reviews(data_dir))
    ids = torch.tensor(bank.vocab.encode(textgen.corpus(val)))[:limit]
    rows = textgen.streams(ids, SATURATION_ROWS)
    from seqcompare.machine import machine
    result = {"thresholds": [LEFT, RIGHT], "characters": rows.numel(), "layer_rows": SATURATION_ROWS,
              "untrained_seed": influence.UNTRAINED_SEED, "machine": machine(), "models": {}}
    for name, model in with_cells(bank).items():
        cell = model.cfg.cell
        if cell not in GATES:                               # the RNN has no gates
            continue
        result["models"][name] = {}
        for kind, m in (("trained", model), ("untrained", influence.untrained("hotel", name, model))):
            t0 = time.perf_counter()
            with torch.no_grad():
                layers = model_gates(cell, m.rnn, m.embed(rows))
            result["models"][name][kind] = [fractions(layer, cell) for layer in layers]
            log(f"{name} {kind}: {time.perf_counter() - t0:.0f} s")
    return result


def load_saturation(folder: Path) -> dict | None:
    path = Path(folder) / SATURATION_FILE
    return checkpoints.read_json(path) if path.is_file() else None


def saturation_summary(result: dict) -> list[list]:
    """Rows [model, gate, trained left, trained right, untrained left, untrained right]: the mean over the
    first layer's units of the fraction of steps below LEFT / above RIGHT."""
    rows = []
    for name, m in result["models"].items():
        for gate in m["trained"][0]:
            row = [name, gate]
            for kind in ("trained", "untrained"):
                f = m[kind][0][gate]
                row += [round(sum(f["left"]) / len(f["left"]), 3), round(sum(f["right"]) / len(f["right"]), 3)]
            rows.append(row)
    return rows
