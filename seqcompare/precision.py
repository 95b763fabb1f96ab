"""Serving precision: the weights a served model computes with, chosen once (`--precision`, or
$SEQCOMPARE_PRECISION) and applied at load time to a copy of the fp32 model. Checkpoints stay as they are.

Plans, per model:
- ``fp32``: the checkpoint's weights as they are.
- ``bf16``: every weight and activation in bfloat16.
- ``int8``: every matrix product in weight-only int8: the output layer, the cell's input and recurrent
  matrices (`models.int8.Int8Cells`), the Transformer blocks' linear layers. The embeddings, norms, biases
  and the state stay fp32.
- ``w8a8``: ``int8`` with int8 activations too in the large products (the output layer, the cells'
  matrices), each row of a product's input scaled by its own largest magnitude
  (`models.int8.DynamicInt8Linear`, `torch._int_mm`: exact integer sums); the Transformer blocks' narrow
  layers stay weight-only (`TransformerLM.int8`).
- ``int8-head``: the output layer alone in int8 (the largest matrix: 384 → 3,073 characters for the
  recurrent models, the tied 192 → 3,073 embedding for the Transformer), the rest in fp32 (the recurrent
  cells keep PyTorch's fused kernels).
- ``int8+bf16``: the output layer in int8 and the rest (the cell, the Transformer blocks) in bfloat16.
- ``int4+int8``: ``int8`` with the output layer in weight-only int4 instead (`models.int8.Int4Linear`: groups of
  64 inputs, each with a scale and an offset), half its bytes again: the output layer is most of what a step
  reads, and on a CPU whose cache about holds a step's int8 weights, half of it is what makes them fit.

``auto`` reads a table shipped beside the checkpoints (checkpoints/precision.json, written by
``python -m seqcompare bench --tasks precision --save``): for each CPU kind (`cpu_key`) the fastest plan
of each model whose validation metric stays within the limits (bits per character at most
BPC_LIMIT above fp32, accuracy at most ACCURACY_LIMIT below, and the model's own quality bar); a model
that crosses one is served at fp32. A model without an output layer to quantise (the digit and review
classifiers, whose matrices are small: `precision_table.classifier_text`) is served at fp32 whatever the setting.

Why weight-only int8 through ``torch._weight_int8pack_mm`` (int8 weights, one bf16 scale per output
channel, bf16 activations): each row of a batch is computed from that row alone, so a batched request
equals the same request alone and a cached step equals a full re-read. ``torch.ao.quantization.
quantize_dynamic`` is deprecated (its warning points to torchao, which is not installed here) and scales
the activations per tensor, so a row's logits depend on the other rows of its batch (0.056 logits apart in
a batch of 8, measured here). It is faster on large batches (one step of 8 rows, 107 µs against 354 µs), as
fast on one row (93 µs against 102 µs; fp32 183 µs, under load on the AMD EPYC). ``w8a8`` scales the
activations per row instead, which keeps each row to itself, and multiplies in integers with
``torch._int_mm``, whose sums are exact: it is the faster kernel on the large matrices, one row or many
(docs/precision.md).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

from seqcompare import UserError

CHOICES = ("auto", "fp32", "bf16", "int8")
ENV_VAR = "SEQCOMPARE_PRECISION"


@dataclass(frozen=True)
class Plan:
    """What a plan changes in a served copy: which matrices go int8 (None, the output layer "head", or "all"
    of them), whether their activations go int8 too (`dynamic`), and whether the rest goes bfloat16."""
    int8: str | None = None
    dynamic: bool = False
    bf16: bool = False
    head4: bool = False          # the output layer in int4 instead


PLAN = {"fp32": Plan(), "bf16": Plan(bf16=True), "int8": Plan("all"), "w8a8": Plan("all", dynamic=True),
        "int8-head": Plan("head"), "int8+bf16": Plan("head", bf16=True), "int4+int8": Plan("all", head4=True)}
PLANS = tuple(PLAN)
TABLE = "precision.json"
BPC_LIMIT, ACCURACY_LIMIT = 0.02, 0.002
CPU_KEYS = ("amx_bf16", "avx512_bf16", "AVX512", "AVX2")     # from the most capable; a table entry for a
                                                              # more capable kind is not used on a lesser CPU


def add_argument(sp) -> None:
    """`--precision` on an argparse (sub)parser; checked by `resolve` (one-line error, exit 2)."""
    sp.add_argument("--precision", default=None, metavar="|".join(CHOICES),
                    help=f"serving precision: {', '.join(CHOICES)} (default: ${ENV_VAR}, else auto; analysis "
                         "views and gradients always run in fp32)")


def resolve(value: str | None = None) -> str:
    """The setting: `value`, else $SEQCOMPARE_PRECISION, else auto; anything else is a UserError."""
    chosen = (value or os.environ.get(ENV_VAR) or "auto").strip().lower()
    if chosen not in CHOICES:
        raise UserError("precision.errors.unknown", value=repr(chosen), choices=", ".join(CHOICES))
    return chosen


# --- the machine ---------------------------------------------------------------------------------

def cpu_key(features: dict | None = None) -> str:
    """The kind of CPU a table entry is measured on (`machine.bf16_features`, this CPU's by default): amx_bf16,
    avx512_bf16, else torch's kernel level."""
    from seqcompare import machine

    f = features or machine.bf16_features()
    return "amx_bf16" if f["amx_bf16"] else "avx512_bf16" if f["avx512_bf16"] else f["torch_capability"]


# --- the table -----------------------------------------------------------------------------------

def load_table(root: Path) -> dict:
    """checkpoints/precision.json ({} when absent or unreadable)."""
    from seqcompare import checkpoints

    try:
        return checkpoints.read_json(Path(root) / TABLE)
    except checkpoints.CheckpointError:
        return {}


def auto_plans(table: dict, key: str | None = None) -> dict[str, str]:
    """{"task/model": plan} for this CPU: its own entry, else that of the nearest lesser kind of CPU."""
    key = key or cpu_key()
    entries = table.get("auto", {})
    later = CPU_KEYS[CPU_KEYS.index(key):] if key in CPU_KEYS else (key,)
    for k in later:
        if k in entries:
            return entries[k]
    return {}


def plans_for(setting: str, task: str, names, root: Path | None = None) -> dict[str, str]:
    """{name: the plan it is served at} under `setting` (auto reads the table in `root`, once)."""
    if setting != "auto":
        return dict.fromkeys(names, setting)
    auto = auto_plans(load_table(root)) if root else {}
    return {name: auto.get(f"{task}/{name}", "fp32") for name in names}


def served_metric(table: dict, task: str, name: str, plan: str, fp32: float, key: str = "bpc") -> float | None:
    """A model's validation metric at the plan it is served at: the checkpoint's (`fp32`) at fp32, else the
    table's measurement (None if it has none)."""
    return fp32 if plan == "fp32" else table.get("quality", {}).get(f"{task}/{name}", {}).get(plan, {}).get(key)


def within_limits(fp32: dict, served: dict, bar: float | None = None) -> bool:
    """Whether the served metric keeps to the limits (and under the bar, for bits per character)."""
    if "bpc" in fp32:
        return served["bpc"] <= fp32["bpc"] + BPC_LIMIT and (bar is None or served["bpc"] <= bar)
    return served["accuracy"] >= fp32["accuracy"] - ACCURACY_LIMIT and (bar is None or served["accuracy"] >= bar)


# --- converting a model --------------------------------------------------------------------------

def convert(model, plan: str) -> tuple:
    """(the model to serve at `plan`, the plan it got): `model` itself at fp32, else an evaluation copy.
    A model with no `output_weights` (nothing worth quantising), or not on the CPU (the int8 kernel is
    the CPU's), is served at fp32."""
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}; one of {', '.join(PLANS)}")
    if plan == "fp32" or not hasattr(model, "output_weights") or next(model.parameters()).device.type != "cpu":
        return model, "fp32"
    import torch

    served, spec = copy.deepcopy(model).eval().requires_grad_(False), PLAN[plan]
    if spec.int8:
        served.int8(everything=spec.int8 == "all", dynamic=spec.dynamic, head4=spec.head4)
    if spec.bf16:
        served.to(torch.bfloat16)
        served.min_rows = 2              # a lone row's bf16 products round unlike a batch's: decode pads it
    return served, plan


def serve_all(models: dict, setting: str | None, task: str, root: Path | None = None) -> tuple[dict, dict]:
    """({name: served model}, {name: plan}) for a bank's models under `setting` (None: resolved)."""
    chosen = plans_for(resolve(setting), task, models, root)
    served, plans = {}, {}
    for name, model in models.items():
        served[name], plans[name] = convert(model, chosen[name])
    return served, plans
