"""One training loop for every task: epochs of batches, best-validation weights, per-epoch history —
on any device, and data-parallel across processes started by torchrun (see `devices`)."""

from __future__ import annotations

import copy
import itertools
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from seqcompare import UserError, devices

# batch_fn(model, batch) -> (mean loss over the batch, items in it, true labels or None, predictions or None)
BatchFn = Callable[[nn.Module, object], tuple]


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.0
    clip: float = 1.0          # gradient norm clipping
    seed: int = 0
    device: str = "cpu"        # where it was trained
    world_size: int = 1        # processes that trained it together (data parallel)
    precision: str = "fp32"    # "bf16": the training steps under bfloat16 autocast (see devices.precision)


def settings(cfg: TrainConfig, epochs: int | None = None, device: torch.device | None = None,
             precision: str | None = None) -> TrainConfig:
    """A recipe as this run uses it: its epochs overridden, where and by how many processes it trains,
    and at which precision (`precision` as devices.precision reads it; None keeps the recipe's)."""
    device = device or torch.device("cpu")
    return replace(cfg, epochs=epochs or cfg.epochs, device=device.type, world_size=devices.world_size(),
                   precision=devices.precision(precision, device) if precision else cfg.precision)


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0


def run_epoch(model: nn.Module, batches: Iterable, batch_fn: BatchFn, *, optimizer=None,
              scheduler=None, clip: float | None = None, desc: str = "", total: int | None = None,
              device: torch.device | None = None, on_step: Callable[[int, float], None] | None = None,
              stop: Callable[[], bool] | None = None, precision: str = "fp32") -> dict:
    """One pass over `batches`; trains when an optimizer is given. Returns loss and collected labels.
    While training, `on_step(step, loss)` hears of every step and `stop()` can end the pass early.
    The forward passes run at `precision` (devices.autocast); the loss comes back float32."""
    training = optimizer is not None
    model.train(training)
    device = device or torch.device("cpu")
    total_loss, total_n, trues, preds = 0.0, 0, [], []
    quiet = {} if devices.is_main() else {"disable": True}     # else tqdm's own TQDM_DISABLE=1 can turn it off
    bar = tqdm(batches, desc=desc, total=total, leave=False, mininterval=1.0, dynamic_ncols=True, **quiet)
    with torch.set_grad_enabled(training):
        for number, batch in enumerate(bar, 1):
            loss, n, y_true, y_pred = step(model, batch, batch_fn, device, precision, optimizer, scheduler, clip)
            if training:
                if on_step is not None:
                    on_step(number, loss.item())
                if stop is not None and stop():
                    break
            total_loss += loss.item() * n
            total_n += n
            if y_true is not None:
                trues.append(np.asarray(y_true))
                preds.append(np.asarray(y_pred))
            bar.set_postfix(loss=f"{total_loss / max(total_n, 1):.4f}", refresh=False)
    out = {"loss": total_loss / max(total_n, 1), "n": total_n}
    if trues:
        out["y_true"], out["y_pred"] = np.concatenate(trues), np.concatenate(preds)
    return out


def step(model: nn.Module, batch, batch_fn: BatchFn, device: torch.device, precision: str = "fp32",
         optimizer=None, scheduler=None, clip: float | None = None) -> tuple:
    """One batch: batch_fn's forward pass at `precision`, then, given an optimizer, one training step of
    the float32 weights (backward, gradient clipping, optimiser and schedule). batch_fn's answer, the
    loss as float32."""
    with devices.autocast(device, precision):
        loss, n, y_true, y_pred = batch_fn(model, devices.to(batch, device))
    loss = loss.float()
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return loss, n, y_true, y_pred


def fit(model: nn.Module, train_batches: Callable[[int], Iterable], val_batches: Callable[[], Iterable],
        batch_fn: BatchFn, summarize: Callable[[dict], dict], cfg: TrainConfig, *,
        steps_per_epoch: int, select: str = "accuracy", maximize: bool = True, name: str = "",
        device: torch.device | None = None, shard: bool = True,
        callback: Callable[[dict], None] | None = None, stop: Callable[[], bool] | None = None) -> FitResult:
    """Train with AdamW and a one-cycle schedule at cfg.precision (bf16: every step under bfloat16 autocast,
    the weights, loss and optimiser float32; validation float32); keep the best validation epoch's weights.

    `summarize(epoch_output)` turns a run_epoch result into metrics (loss, accuracy, …);
    history rows hold them as train_* and val_*. `select` names the validation metric that decides
    which epoch's weights are kept.

    On `device` (default CPU); the model comes back on the CPU, so checkpoints never depend on it.
    Under torchrun (N processes) the model is wrapped in DistributedDataParallel, which averages the
    gradients: with `shard`, process r takes batches r, r + N, r + 2N, … of every epoch (the recipe's
    batch size is per process, so the global batch is N times larger; the learning rate is the
    recipe's). A task whose batches must stay in order (carried state) shards its data itself and
    passes shard=False. Each process drops out its own units (seed + rank); the training metrics cover
    every process's share. Validation runs once, on rank 0, which alone prints; every rank keeps the same
    epoch's weights.

    For live training, `callback` hears {"epoch", "step", "loss"} after every training step and the
    epoch's history row (with "epoch_done": True) after each validation; `stop()` ends training early
    (the best epoch so far is kept, or the weights as they are when no epoch has finished).
    """
    device = device or torch.device("cpu")
    world, rank = devices.world_size(), devices.rank()
    torch.manual_seed(cfg.seed + rank)            # DDP copies rank 0's weights; dropout differs per process
    steps = steps_per_epoch // world if shard and world > 1 else steps_per_epoch
    if steps < 1 and world > 1:
        raise UserError(f"{steps_per_epoch} training batch{'es' if steps_per_epoch != 1 else ''} per epoch "
                        f"cannot be shared by {world} processes: use more data or fewer processes")
    model.to(device)
    trained = DistributedDataParallel(model) if world > 1 else model
    optimizer, scheduler = optimise(model, cfg, steps)
    result, best, start = FitResult(), Best(maximize), time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        batches = my_share(train_batches(epoch), steps) if shard else train_batches(epoch)
        on_step = None if callback is None else \
            (lambda step, loss, ep=epoch: callback({"epoch": ep, "step": step, "loss": loss}))
        train_out = run_epoch(trained, batches, batch_fn, optimizer=optimizer, scheduler=scheduler,
                              clip=cfg.clip, desc=f"{name} epoch {epoch}/{cfg.epochs}", total=steps, device=device,
                              on_step=on_step, stop=stop, precision=cfg.precision)
        if stop is not None and stop():
            break
        row = validate(model, train_out, val_batches, batch_fn, summarize, epoch=epoch, started=t0,
                       desc=f"{name} validate", device=device)
        result.history.append(row)
        kept = best.offer(model, epoch, row[f"val_{select}"])
        if callback is not None:
            callback({**row, "epoch_done": True})
        if devices.is_main():
            print(f"{name} epoch {epoch}/{cfg.epochs} {shown(row)}{'  *' if kept else ''}", flush=True)
    result.seconds, result.best_epoch = round(time.perf_counter() - start, 1), best.epoch
    if best.state is not None:
        model.load_state_dict(best.state)
    model.cpu()
    return result


def my_share(batches: Iterable, steps: int) -> Iterable:
    """This process's `steps` batches of an epoch under N processes: batches r, r + N, r + 2N, … (all of
    them for a single process)."""
    world = devices.world_size()
    return itertools.islice(batches, devices.rank(), steps * world, world) if world > 1 else batches


def optimise(model: nn.Module, cfg: TrainConfig, steps: int) -> tuple:
    """AdamW over the model's (float32) weights and a one-cycle schedule over cfg.epochs of `steps`."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps, pct_start=0.15)
    return optimizer, scheduler


def shown(row: dict) -> str:
    """An epoch's history row as its printed line: seconds, then the training and validation metrics."""
    metrics = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k.startswith(("train_", "val_")))
    return f"({row['seconds']:.0f}s)  {metrics}"


def validate(model: nn.Module, train_out: dict, val_batches: Callable[[], Iterable], batch_fn: BatchFn,
             summarize: Callable[[dict], dict], *, epoch: int, started: float, desc: str,
             device: torch.device) -> dict:
    """An epoch's history row: its training metrics over every process's share and its validation
    metrics, read once on rank 0 in float32 and shared with every rank."""
    if devices.world_size() > 1:
        train_out = merge(devices.gather(train_out))
    row = None
    if devices.is_main():
        val_out = run_epoch(model, val_batches(), batch_fn, desc=desc, device=device)
        row = {"epoch": epoch, "seconds": round(time.perf_counter() - started, 2)}
        row.update({f"train_{k}": v for k, v in summarize(train_out).items()})
        row.update({f"val_{k}": v for k, v in summarize(val_out).items()})
    return devices.share(row)


class Best:
    """The best validation epoch so far and a copy of its weights."""

    def __init__(self, maximize: bool):
        self.sign, self.score, self.epoch, self.state = (1 if maximize else -1), -math.inf, 0, None

    def offer(self, model: nn.Module, epoch: int, value: float) -> bool:
        """Keep `model`'s weights if `value` beats the best so far; whether it did."""
        if value * self.sign <= self.score:
            return False
        self.score, self.epoch, self.state = value * self.sign, epoch, copy.deepcopy(model.state_dict())
        return True


def merge(outs: list[dict]) -> dict:
    """One run_epoch result from several (the shares of one epoch read by different processes)."""
    n = sum(o["n"] for o in outs)
    out = {"loss": sum(o["loss"] * o["n"] for o in outs) / max(n, 1), "n": n}
    if all("y_true" in o for o in outs):
        out["y_true"] = np.concatenate([o["y_true"] for o in outs])
        out["y_pred"] = np.concatenate([o["y_pred"] for o in outs])
    return out


def classification_batch(model: nn.Module, batch) -> tuple:
    """batch_fn for classifiers: batch is (inputs, labels); inputs may be a tuple of tensors."""
    inputs, labels = batch
    logits = model(*inputs) if isinstance(inputs, tuple) else model(inputs)
    loss = nn.functional.cross_entropy(logits, labels)
    return loss, len(labels), labels.cpu().numpy(), logits.argmax(1).cpu().numpy()


def tensor_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool = False,
                   seed: int = 0, transform: Callable | None = None):
    """Mini-batches of (x, y), optionally shuffled (deterministically per seed) and transformed."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)) if shuffle \
        else torch.arange(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        xb = x[idx]
        yield (transform(xb, seed + start) if transform else xb), y[idx]
