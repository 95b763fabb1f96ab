"""Training and scoring the character models: the recipes, the fit, the bits per character."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from seqcompare import CELLS, UserError, checkpoints, data, devices
from seqcompare.metrics import bits_per_char
from seqcompare.models import (CharLM, CharLMConfig, TransformerLM, TransformerLMConfig, count_parameters,
                               detach_state, textbook_parameters)
from seqcompare.textgen.corpus import (BPTT, MIN_COUNT, VOCAB_FILE, Vocab, corpus, random_windows, shift,
                                       split_reviews, streams, windows)
from seqcompare.training import TrainConfig, fit, settings

MODELS = (*CELLS, "transformer")
RECIPE = TrainConfig(epochs=20, batch_size=32, lr=2e-3, weight_decay=1e-2, clip=0.5)
ARCH = {"embed_size": 128, "hidden_size": 384, "dropout": 0.25, "tie": False}    # shared by the cells
# The Transformer: batches of random windows of its context (no state carried between them)
TRANSFORMER_RECIPE = TrainConfig(epochs=20, batch_size=32, lr=2e-3, weight_decay=1e-2, clip=1.0)
TRANSFORMER_ARCH = {"context": 128, "width": 192, "layers": 3, "heads": 6, "dropout": 0.2}


class StatefulLoss:
    """batch_fn for fit(): carries the hidden state from window to window, reset at each pass."""

    def __init__(self):
        self.state = None

    def reset(self, batches):
        self.state = None
        yield from batches

    def __call__(self, model: CharLM, batch):
        inputs, targets = devices.to(batch, devices.of(model))
        logits, state = model(inputs, detach_state(self.state))
        self.state = detach_state(state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return loss, targets.numel(), None, None


def build(name: str, config: dict | None = None) -> CharLM | TransformerLM:
    if name == "transformer":
        return TransformerLM(TransformerLMConfig(**(config or {})))
    if name not in CELLS:
        raise ValueError(f"unknown text model {name!r}")
    return CharLM(CharLMConfig(**(config or {"cell": name})))


def architecture(name: str, vocab_size: int) -> dict:
    """The config a model of the shipped recipe is built from."""
    arch = TRANSFORMER_ARCH if name == "transformer" else {"cell": name, **ARCH}
    return {"vocab_size": vocab_size, **arch}


def recipe(name: str, epochs: int | None = None, device: torch.device | None = None) -> TrainConfig:
    return settings(TRANSFORMER_RECIPE if name == "transformer" else RECIPE, epochs, device)


def window_loss(model, batch):
    """batch_fn for fit(): the Transformer reads each window on its own."""
    inputs, targets = batch
    logits, _ = model(inputs)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return loss, targets.numel(), None, None


def fit_model(name: str, config: dict, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig,
              bptt: int = BPTT, device: torch.device | None = None, **hooks):
    """Train one character model built from `config` on the id streams; returns (model on the CPU with
    its best validation weights, FitResult). Recurrent models read cfg.batch_size contiguous streams in
    windows of `bptt`, the state carried; the Transformer reads random windows of its context.
    `hooks` (callback, stop) go to training.fit."""
    torch.manual_seed(cfg.seed)
    model = build(name, config)
    print(f"training {name}: {count_parameters(model):,} parameters, {cfg}")
    if isinstance(model, TransformerLM):
        context = model.cfg.context
        val_windows = streams(val_ids, max(1, (len(val_ids) - 1) // (context + 1)))[:, :context + 1]
        batches = dict(
            train_batches=lambda ep: random_windows(train_ids, context, cfg.batch_size, cfg.seed * 1000 + ep),
            val_batches=lambda: ((w[:, :-1], w[:, 1:]) for w in val_windows.split(64)),
            batch_fn=window_loss, steps_per_epoch=max(1, math.ceil(len(train_ids) // context / cfg.batch_size)))
    else:
        # carried state needs its windows in order: under N processes each reads its own 32 of 32·N streams
        world, rank = devices.world_size(), devices.rank()
        train_streams = streams(train_ids, cfg.batch_size * world)[rank::world]
        val_streams = streams(val_ids, min(16, max(1, len(val_ids) // (bptt + 1))))
        train_loss, val_loss = StatefulLoss(), StatefulLoss()
        batches = dict(
            train_batches=lambda ep: train_loss.reset(windows(shift(train_streams, ep, bptt), bptt)),
            val_batches=lambda: val_loss.reset(windows(val_streams, bptt)),
            batch_fn=lambda m, b: (train_loss if m.training else val_loss)(m, b),
            steps_per_epoch=math.ceil((train_streams.shape[1] - 1) / bptt), shard=False)
    result = fit(model, **batches, summarize=lambda o: {"loss": o["loss"], "bpc": bits_per_char(o["loss"])},
                 cfg=cfg, select="bpc", maximize=False, name=name, device=device, **hooks)
    return model, result


def train(models, data_dir: Path | None, out: Path, epochs: int | None = None, limit: int | None = None,
          device: torch.device | None = None):
    reviews = data.hotel_reviews(data_dir)
    if limit:
        reviews = reviews[:limit]
    train_reviews, val_reviews = split_reviews(reviews)
    train_text, val_text = corpus(train_reviews), corpus(val_reviews)
    need = (RECIPE.batch_size * (BPTT + 1), BPTT + 1)      # a window per stream; one validation window
    if len(train_text) < need[0] or len(val_text) < need[1]:
        raise UserError(f"too little text to train on: {len(train_text):,} training and {len(val_text):,} validation "
                        f"characters, at least {need[0]:,} and {need[1]:,} needed" + (" (raise --limit)" if limit else ""))
    vocab = Vocab.from_text(train_text)
    out = Path(out)
    if devices.is_main():                            # rank 0 alone writes
        checkpoints.write_json(out / VOCAB_FILE, vocab.chars)
    print(f"hotel reviews: {len(train_reviews)} train ({len(train_text):,} chars), {len(val_reviews)} validation "
          f"({len(val_text):,} chars); vocabulary {len(vocab)} characters (seen ≥ {MIN_COUNT}× in training)")
    train_ids, val_ids = torch.tensor(vocab.encode(train_text)), torch.tensor(vocab.encode(val_text))
    for name in models:
        cfg = recipe(name, epochs, device)
        model, result = fit_model(name, architecture(name, len(vocab)), train_ids, val_ids, cfg, device=device)
        if not devices.is_main():                    # rank 0 measures and writes
            continue
        checkpoints.round_to_half(model)                  # stored as float16; scored after the rounding
        score = score_text(model, val_ids)
        print(f"{name}: validation {score['bpc']:.3f} bits per character after {result.seconds:.0f}s of training")
        checkpoints.save(out, name, model, {
            "task": "hotel", "config": asdict(model.cfg), "train": asdict(cfg),
            "bptt": model.cfg.context if isinstance(model, TransformerLM) else BPTT,
            "vocab_size": len(vocab), "parameters": count_parameters(model),
            "textbook_parameters": textbook_count(model), "train_seconds": result.seconds,
            "train_characters": epoch_characters(model, len(train_ids)) * len(result.history),
            "best_epoch": result.best_epoch, "history": result.history, "validation": score,
        }, dtype=torch.float16)


def epoch_characters(model, n: int) -> int:
    """Characters one training epoch predicts: every one for the recurrent models (32 streams, so up to
    31 are left over), a window of the context for each of n // context random windows for the Transformer."""
    if isinstance(model, TransformerLM):
        return n // model.cfg.context * model.cfg.context
    return n // RECIPE.batch_size * RECIPE.batch_size - RECIPE.batch_size


def textbook_count(model: CharLM | TransformerLM) -> int:
    """Embedding + decoder + the recurrent layers counted with the tutorials' one-bias formula (the
    Transformer has no other count than PyTorch's)."""
    if isinstance(model, TransformerLM):
        return count_parameters(model)
    c = model.cfg
    rec = sum(textbook_parameters(c.cell, c.embed_size if layer == 0 else c.hidden_size, c.hidden_size)
              for layer in range(c.num_layers))
    decoder = model.decoder.bias.numel() if c.tie else count_parameters(model.decoder)   # tied: its weight is the embedding
    return count_parameters(model.embed) + rec + count_parameters(model.proj) + decoder


@torch.inference_mode()
def score_text(model: CharLM | TransformerLM, ids: torch.Tensor, batch_size: int = 16) -> dict:
    """Bits per character and perplexity over `ids` (every character counts; unseen ones as unknown).

    Recurrent models read `batch_size` contiguous streams, the state carried all along. The Transformer
    reads windows of its context that advance by half a context: each window scores its second half, so
    every character is predicted from at least half a context of history (the first window scores all
    of itself: those characters have all the history the text has)."""
    model.eval()
    if isinstance(model, TransformerLM):
        return _score_windows(model, ids)
    loss = StatefulLoss()
    total, n = 0.0, 0
    batch_size = max(1, min(batch_size, len(ids) // 2))      # short texts: fewer, still non-empty streams
    for batch in loss.reset(windows(streams(ids, batch_size), 400)):
        value, count, _, _ = loss(model, batch)
        total += value.item() * count
        n += count
    return _bpc(total, n)


def _bpc(total_nats: float, n: int) -> dict:
    if n == 0:
        raise UserError("too few characters to score")
    bpc = bits_per_char(total_nats / n)
    return {"bpc": round(bpc, 4), "perplexity": round(2 ** bpc, 3), "characters": n}


def _score_windows(model: TransformerLM, ids: torch.Tensor, batch_size: int = 64) -> dict:
    context, half = model.cfg.context, model.cfg.context // 2
    targets = len(ids) - 1
    if targets < 1:
        raise UserError("too few characters to score")
    # window w reads ids[s : s + context] with s = w·half and scores targets from max(s + half, 1st) on
    starts = list(range(0, max(targets - half, 1), half))
    total, n = 0.0, 0
    for i in range(0, len(starts), batch_size):
        group = starts[i:i + batch_size]
        width = min(context, targets - group[0])
        rows = [ids[s:s + width + 1] for s in group]
        inputs = torch.zeros(len(rows), width, dtype=torch.long)
        target = torch.full((len(rows), width), -100, dtype=torch.long)
        for r, (s, row) in enumerate(zip(group, rows)):
            first = 0 if s == 0 else half                 # positions before this were scored already
            inputs[r, :len(row) - 1] = row[:-1]
            target[r, first:len(row) - 1] = row[1 + first:]
        logits, _ = model(inputs.to(devices.of(model)))
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1).to(logits.device),
                              reduction="sum",
                              ignore_index=-100)
        total += nll.item()
        n += int((target != -100).sum())
    return _bpc(total, n)
