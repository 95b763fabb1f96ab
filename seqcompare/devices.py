"""Where models run (CPU, CUDA or Apple MPS) and data-parallel training across processes.

Data parallelism is plain `torch.distributed` with DistributedDataParallel: `torchrun` starts the
processes and sets RANK / WORLD_SIZE / MASTER_ADDR; `start()` joins them into one process group (gloo
on CPU, NCCL on CUDA), DDP averages the gradients, and only rank 0 prints and writes.
"""

from __future__ import annotations

import contextlib
import os

import torch
import torch.distributed as dist

from seqcompare import UserError, machine

CHOICES = ("auto", "cpu", "cuda", "mps")
ENV_VAR = "SEQCOMPARE_DEVICE"


def _mps() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def resolve(name: str | None = None) -> torch.device:
    """`auto` (the default, or $SEQCOMPARE_DEVICE): CUDA, then Apple MPS, then the CPU."""
    name = (name or os.environ.get(ENV_VAR) or "auto").strip().lower()
    if name not in CHOICES:
        raise UserError(f"unknown device {name!r}; choose one of {', '.join(CHOICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if _mps() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: torch sees no CUDA GPU on this machine; use --device auto or cpu")
    if name == "mps" and not _mps():
        raise UserError("--device mps: Apple's Metal (MPS) is not available here; use --device auto or cpu")
    if name == "cuda" and world_size() > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


PRECISIONS = ("auto", "fp32", "bf16")       # of training


def precision(name: str | None, device: torch.device) -> str:
    """The precision a training runs at, "bf16" or "fp32". `auto` (or None): bf16 on CUDA and on a CPU
    that computes bfloat16 natively (AVX512-BF16 or AMX), fp32 elsewhere; `fp32` forces float32. `bf16` on
    another CPU is refused: emulated there, it is slower than float32 (3× for the output layer's products on
    an AVX2 AMD EPYC), and oneDNN has no bfloat16 LSTM for it (nn.LSTM fails under autocast)."""
    name = (name or "auto").strip().lower()
    if name not in PRECISIONS:
        raise UserError("bf16.unknown_precision", name=name, choices=", ".join(PRECISIONS))
    if name == "auto":
        return "bf16" if device.type == "cuda" or (device.type == "cpu" and machine.native_bf16()) else "fp32"
    if name == "bf16" and device.type not in ("cpu", "cuda"):
        raise UserError("bf16.precision_device", device=device.type)
    if name == "bf16" and device.type == "cpu" and not machine.native_bf16():
        raise UserError("bf16.not_native", cpu=machine.cpu_name())
    return name


def autocast(device: torch.device, precision: str = "fp32"):
    """Mixed precision for `precision` "bf16": matrix products in bfloat16 under torch.autocast (the
    weights, their gradients and the optimiser stay float32); full precision for "fp32"."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to(batch, device: torch.device):
    """Move the tensors of a (nested tuple/list of) batch to `device`; everything else as it is."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to(b, device) for b in batch)
    return batch


def of(model: torch.nn.Module) -> torch.device:
    """The device a model's weights are on (the CPU for a model without weights)."""
    weight = next(model.parameters(), None)
    return weight.device if weight is not None else torch.device("cpu")


# --- many processes -------------------------------------------------------------------------------

def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else int(os.environ.get("WORLD_SIZE", 1))


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else int(os.environ.get("RANK", 0))


def is_main() -> bool:
    """Rank 0 (or the only process): the one that prints and writes checkpoints."""
    return rank() == 0


def start(device: torch.device) -> None:
    """Join the process group torchrun set up (nothing to do for a single process)."""
    if world_size() > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def stop() -> None:
    """Wait for every process, then leave the group."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def gather(obj) -> list:
    """Every rank's `obj`, in rank order, on every rank (`[obj]` for a single process)."""
    if not dist.is_initialized():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def share(obj, source: int = 0):
    """`obj` as rank `source` has it, on every rank (validation results computed once)."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=source)
    return box[0]
