"""What a measurement ran on: CPU model, cores, GPU and torch build (for checkpoints, bench and report); and
`take_turns`, how the benchmarks that compare variants in one run time them."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

NOT_RECORDED = "machine not recorded"


# Server CPUs that back 2-core cloud machines, by (vendor, family, model) in /proc/cpuinfo. A virtual
# machine often names every generation alike ("AMD EPYC"), and they differ a lot in speed.
GENERATIONS = {("AuthenticAMD", 23, 49): "Zen 2", ("AuthenticAMD", 25, 1): "Zen 3", ("AuthenticAMD", 25, 17): "Zen 4",
               ("AuthenticAMD", 25, 160): "Zen 4c", ("AuthenticAMD", 26, 2): "Zen 5", ("AuthenticAMD", 26, 17): "Zen 5c",
               ("GenuineIntel", 6, 85): "Skylake/Cascade Lake", ("GenuineIntel", 6, 106): "Ice Lake",
               ("GenuineIntel", 6, 143): "Sapphire Rapids", ("GenuineIntel", 6, 207): "Emerald Rapids",
               ("GenuineIntel", 6, 173): "Granite Rapids"}


def cpuinfo(text: str | None = None) -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo ({} where there is none)."""
    if text is None:
        try:
            text = Path("/proc/cpuinfo").read_text()
        except OSError:
            return {}
    fields = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_name(info: dict | None = None) -> str:
    """The CPU's model name from /proc/cpuinfo with its generation ("AMD EPYC (Zen 3)") or, when not in
    GENERATIONS, its family and model numbers ("AMD EPYC (family 25 model 1)"); else what `platform` knows."""
    info = cpuinfo() if info is None else info
    name = info.get("model name")
    if not name:
        return platform.processor() or platform.machine() or "unknown CPU"
    try:
        family, model = int(info["cpu family"]), int(info["model"])
    except (KeyError, ValueError):
        return name
    return f"{name} ({GENERATIONS.get((info.get('vendor_id'), family, model), f'family {family} model {model}')})"


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    return set(cpuinfo().get("flags", "").split())


def bf16_features() -> dict:
    """The CPU's native bfloat16 support: {"avx512_bf16", "amx_bf16"} (booleans) and torch's kernel level."""
    flags = cpu_flags()
    return {"avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags,
            "torch_capability": torch.backends.cpu.get_cpu_capability()}


def native_bf16() -> bool:
    """Whether the CPU computes in bfloat16 natively (AVX512-BF16 or AMX), so that autocast pays."""
    found = bf16_features()
    return found["avx512_bf16"] or found["amx_bf16"] or "AMX" in found["torch_capability"].upper()


def take_turns(variants, rounds: int, run, warmup: int = 1) -> dict:
    """{variant: [what run(variant, round) returned, round after round]}: every variant once per round, in
    an order reversed every other round (no variant always first, on a CPU warmed by the other), the first
    `warmup` rounds run but not kept. Variants compared so share whatever else the machine is doing."""
    variants = list(variants)
    kept = {v: [] for v in variants}
    for i in range(warmup + rounds):
        for v in variants if i % 2 == 0 else variants[::-1]:
            out = run(v, i)
            if i >= warmup:
                kept[v].append(out)
    return kept


def describe() -> dict:
    """The machine as a checkpoint records it: {"cpu", "cores", "gpu" (None without CUDA), "torch"}."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "gpu": gpu, "torch": torch.__version__}


def machine(threads: bool = True) -> str:
    """CPU model, cores (and this process's torch threads) and torch build, as one line."""
    shown = f", {torch.get_num_threads()} torch thread(s)" if threads else ""
    return f"{cpu_name()}, {os.cpu_count()} cores{shown}, torch {torch.__version__}"


def label(recorded) -> str:
    """A recorded machine (describe()'s dict, or machine()'s line) as one line; NOT_RECORDED without one."""
    if isinstance(recorded, str) and recorded.strip():
        return recorded.strip()
    if isinstance(recorded, dict) and recorded.get("cpu"):
        parts = [recorded["cpu"]]
        if recorded.get("cores"):
            parts[0] += f", {recorded['cores']} cores"
        if recorded.get("gpu"):
            parts.append(recorded["gpu"])
        if recorded.get("torch"):
            parts.append(f"torch {recorded['torch']}")
        return ", ".join(parts)
    return NOT_RECORDED
