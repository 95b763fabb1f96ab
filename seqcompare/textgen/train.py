"""Training and scoring the character models: each model's recipe, how it reads its training text, the
fit, and the bits per character."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from seqcompare import CELLS, UserError, checkpoints, data, devices
from seqcompare.metrics import bits_per_char
from seqcompare.models import CharLM, CharLMConfig, TransformerLM, TransformerLMConfig, count_parameters, detach_state
from seqcompare.textgen.corpus import (BPTT, MIN_COUNT, VOCAB_FILE, Vocab, corpus, random_windows, shift,
                                       split_reviews, streams, windows)
from seqcompare.training import TrainConfig, fit, settings

RECIPE = TrainConfig(epochs=20, batch_size=32, lr=2e-3, weight_decay=1e-2, clip=0.5)
ARCH = {"embed_size": 128, "hidden_size": 384, "dropout": 0.25}    # shared by the cells
# The Transformer: batches of random windows of its context (no state carried between them)
TRANSFORMER_RECIPE = TrainConfig(epochs=20, batch_size=32, lr=2e-3, weight_decay=1e-2, clip=1.0)
TRANSFORMER_ARCH = {"context": 128, "width": 192, "layers": 3, "heads": 6, "dropout": 0.2}


def _char_lm(config: dict) -> CharLM:
    return CharLM(CharLMConfig(**config))


def _cell_sized(cell: str) -> Callable[..., dict]:
    def sized(vocab_size: int, width: int, layers: int, dropout: float, context: int) -> dict:
        return {"cell": cell, "vocab_size": vocab_size, "embed_size": width, "hidden_size": width,
                "num_layers": layers, "dropout": dropout}      # reads text of any length: no context
    return sized


def _transformer_sized(vocab_size: int, width: int, layers: int, dropout: float, context: int) -> dict:
    heads = next(h for h in (4, 2, 1) if width % h == 0)
    return {"vocab_size": vocab_size, "context": context, "width": width, "layers": layers, "heads": heads,
            "dropout": dropout}


@dataclass(frozen=True)
class TextModel:
    """One text model: how it is built from its config, the shipped one's config and training settings, and
    the config of one of a given size (`sized(vocab_size, width, layers, dropout, context)`: the Train tab's)."""
    build: Callable[[dict], nn.Module]
    arch: dict
    recipe: TrainConfig
    sized: Callable[..., dict]


SPECS = {**{cell: TextModel(_char_lm, {"cell": cell, **ARCH}, RECIPE, _cell_sized(cell)) for cell in CELLS},
         "transformer": TextModel(lambda c: TransformerLM(TransformerLMConfig(**c)), TRANSFORMER_ARCH, TRANSFORMER_RECIPE,
                                  _transformer_sized)}
MODELS = tuple(SPECS)


def build(name: str, config: dict) -> CharLM | TransformerLM:
    if name not in SPECS:
        raise ValueError(f"unknown text model {name!r}")
    return SPECS[name].build(config)


def architecture(name: str, vocab_size: int) -> dict:
    """The config a model of the shipped recipe is built from."""
    return {"vocab_size": vocab_size, **SPECS[name].arch}


def recipe(name: str, epochs: int | None = None, device: torch.device | None = None,
           precision: str | None = None) -> TrainConfig:
    return settings(SPECS[name].recipe, epochs, device, precision)


# --- how a model reads its training text ------------------------------------------------------------

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


def window_loss(model, batch):
    """batch_fn for fit(): the Transformer reads each window on its own."""
    inputs, targets = batch
    logits, _ = model(inputs)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    return loss, targets.numel(), None, None


@dataclass
class StreamReading:
    """A model that carries its state (no `context`): cfg.batch_size contiguous streams read in windows
    of `window` characters, the state carried from one to the next (truncated back-propagation)."""
    window: int = BPTT

    def fit_batches(self, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig) -> dict:
        """The batches and batch_fn of training.fit."""
        # carried state needs its windows in order: under N processes each reads its own 32 of 32·N streams
        world, rank, bptt = devices.world_size(), devices.rank(), self.window
        train_streams = streams(train_ids, cfg.batch_size * world)[rank::world]
        val_streams = streams(val_ids, min(16, max(1, len(val_ids) // (bptt + 1))))
        train_loss, val_loss = StatefulLoss(), StatefulLoss()
        return dict(train_batches=lambda ep: train_loss.reset(windows(shift(train_streams, ep, bptt), bptt)),
                    val_batches=lambda: val_loss.reset(windows(val_streams, bptt)),
                    batch_fn=lambda m, b: (train_loss if m.training else val_loss)(m, b),
                    steps_per_epoch=math.ceil((train_streams.shape[1] - 1) / bptt), shard=False)

    @staticmethod
    def epoch_characters(n: int, batch_size: int) -> int:
        """Characters one epoch over n predicts: all but each stream's first (up to batch_size - 1 left over)."""
        return n // batch_size * batch_size - batch_size


@dataclass
class WindowReading:
    """A model with a bounded `context`: batches of random windows of it, each read on its own."""
    window: int

    def fit_batches(self, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig) -> dict:
        """The batches and batch_fn of training.fit."""
        context = self.window
        val_windows = streams(val_ids, max(1, (len(val_ids) - 1) // (context + 1)))[:, :context + 1]
        return dict(
            train_batches=lambda ep: random_windows(train_ids, context, cfg.batch_size, cfg.seed * 1000 + ep),
            val_batches=lambda: ((w[:, :-1], w[:, 1:]) for w in val_windows.split(64)),
            batch_fn=window_loss, steps_per_epoch=max(1, math.ceil(len(train_ids) // context / cfg.batch_size)))

    def epoch_characters(self, n: int, batch_size: int) -> int:
        """Characters one epoch over n predicts: a whole window for each of n // context random windows."""
        return n // self.window * self.window


def reading_of(model, bptt: int = BPTT) -> StreamReading | WindowReading:
    """How `model` reads its training text: random windows of its context, or streams with its state carried."""
    return WindowReading(model.context) if model.context else StreamReading(bptt)


# --- training --------------------------------------------------------------------------------------

def fit_model(name: str, config: dict, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig,
              bptt: int = BPTT, device: torch.device | None = None, **hooks):
    """Train one character model built from `config` on the id streams; returns (model on the CPU with
    its best validation weights, FitResult). It reads its text as `reading_of` says (`bptt`: the
    window of a model that carries its state). `hooks` (callback, stop) go to training.fit."""
    torch.manual_seed(cfg.seed)
    model = build(name, config)
    print(f"training {name}: {count_parameters(model):,} parameters, {cfg}")
    result = fit(model, **reading_of(model, bptt).fit_batches(train_ids, val_ids, cfg),
                 summarize=lambda o: {"loss": o["loss"], "bpc": bits_per_char(o["loss"])},
                 cfg=cfg, select="bpc", maximize=False, name=name, device=device, **hooks)
    return model, result


def train(models, data_dir: Path | None, out: Path, epochs: int | None = None, limit: int | None = None,
          device: torch.device | None = None, precision: str | None = None):
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
        cfg = recipe(name, epochs, device, precision)
        model, result = fit_model(name, architecture(name, len(vocab)), train_ids, val_ids, cfg, device=device)
        reading = reading_of(model)
        if not devices.is_main():                    # rank 0 measures and writes
            continue
        checkpoints.round_to_half(model)                  # stored as float16; scored after the rounding
        score = score_text(model, val_ids)
        print(f"{name}: validation {score['bpc']:.3f} bits per character after {result.seconds:.0f}s of training")
        checkpoints.save(out, name, model, {
            "task": "hotel", "config": asdict(model.cfg), "train": asdict(cfg),
            "bptt": reading.window, "vocab_size": len(vocab), "parameters": count_parameters(model),
            "textbook_parameters": model.textbook_count(), "train_seconds": result.seconds,
            "train_characters": reading.epoch_characters(len(train_ids), cfg.batch_size) * len(result.history),
            "best_epoch": result.best_epoch, "history": result.history, "validation": score,
        }, dtype=torch.float16)


# --- scoring ---------------------------------------------------------------------------------------

@torch.inference_mode()
def score_text(model: CharLM | TransformerLM, ids: torch.Tensor, batch_size: int = 16) -> dict:
    """Bits per character and perplexity over `ids` (unseen characters as unknown), on the same
    characters for every model: the text is cut into `batch_size` contiguous streams (`streams`: the
    last len(ids) % batch_size characters dropped) and every character of a stream after its first is
    scored, batch_size · (len(ids) // batch_size − 1) of them. Each model reads the streams its own way
    (`stream_nll`): a recurrent model carries its state along each; the Transformer reads windows of
    its context advancing by half, so each character has at least half a context of its stream."""
    model.eval()
    batch_size = max(1, min(batch_size, len(ids) // 2))      # short texts: fewer, still non-empty streams
    total, n = model.stream_nll(streams(ids, batch_size).to(devices.of(model))) if len(ids) > 1 else (0.0, 0)
    if n == 0:
        raise UserError("too few characters to score")
    bpc = bits_per_char(total / n)
    return {"bpc": round(bpc, 4), "perplexity": round(2 ** bpc, 3), "characters": n}
