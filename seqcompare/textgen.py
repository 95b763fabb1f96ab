"""Text generation: character language models (RNN, LSTM, GRU) trained on ChnSentiCorp hotel reviews."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from seqcompare import CELLS, UserError, checkpoints, data
from seqcompare.metrics import bits_per_char
from seqcompare.models import CharLM, CharLMConfig, count_parameters, detach_state, textbook_parameters
from seqcompare.training import TrainConfig, fit

MODELS = CELLS
END = "\n"                 # ends every review; generation stops there
UNK = "<unk>"
MIN_COUNT = 2              # rarer training characters share the unknown id
BPTT = 100                 # characters per truncated back-propagation window
MAX_LENGTH = 500           # longest generation, in characters
GREEDY_BELOW = 1e-3       # temperatures this low sample as greedy (and cannot overflow the softmax)
MAX_SEED = 200             # seed characters the models read
RECIPE = TrainConfig(epochs=10, batch_size=32, lr=5e-3, weight_decay=1e-2, clip=0.5)
ARCH = {"embed_size": 128, "hidden_size": 256, "dropout": 0.1}     # shared by the cells
VOCAB_FILE = "vocab.json"


# --- corpus and vocabulary ----------------------------------------------------------------------

def split_reviews(reviews: list[str]) -> tuple[list[str], list[str]]:
    """Row index % 10 == 9 is validation, the rest training; empty reviews are dropped."""
    train = [r for i, r in enumerate(reviews) if i % 10 != 9 and r.strip()]
    val = [r for i, r in enumerate(reviews) if i % 10 == 9 and r.strip()]
    return train, val


def corpus(reviews: list[str]) -> str:
    """Reviews joined into one stream, each starting after and ending with END."""
    return END + "".join(r.replace("\r", "").replace(END, " ").strip() + END for r in reviews)


class Vocab:
    """Characters ↔ ids; id 0 is the unknown character."""

    def __init__(self, chars: list[str]):
        self.chars = [UNK] + [c for c in chars if c != UNK]
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        counts = Counter(text)
        return cls(sorted(c for c, n in counts.items() if n >= MIN_COUNT or c == END))

    def encode(self, text: str) -> list[int]:
        return [self.index.get(c, 0) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] if i else "□" for i in ids)

    def __len__(self) -> int:
        return len(self.chars)


def load_vocab(folder: Path) -> Vocab:
    chars = checkpoints.read_json(Path(folder) / VOCAB_FILE)
    if not isinstance(chars, list) or not chars or chars[0] != UNK or END not in chars:
        raise checkpoints.CheckpointError(f"{Path(folder) / VOCAB_FILE} is not a character vocabulary")
    return Vocab(chars)


# --- training and evaluation -------------------------------------------------------------------

def streams(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut one long id sequence into `batch_size` contiguous streams (rows)."""
    per = len(ids) // batch_size
    return ids[:per * batch_size].view(batch_size, per)


def windows(stream: torch.Tensor, bptt: int = BPTT):
    """(inputs, targets) windows marching along the streams; the carried state links them."""
    for t in range(0, stream.shape[1] - 1, bptt):
        n = min(bptt, stream.shape[1] - 1 - t)
        yield stream[:, t:t + n], stream[:, t + 1:t + 1 + n]


class StatefulLoss:
    """batch_fn for fit(): carries the hidden state from window to window, reset at each pass."""

    def __init__(self):
        self.state = None

    def reset(self, batches):
        self.state = None
        yield from batches

    def __call__(self, model: CharLM, batch):
        inputs, targets = batch
        logits, state = model(inputs, detach_state(self.state))
        self.state = detach_state(state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return loss, targets.numel(), None, None


def build(name: str, config: dict | None = None) -> CharLM:
    if name not in CELLS:
        raise ValueError(f"unknown text model {name!r}")
    return CharLM(CharLMConfig(**(config or {"cell": name})))


def train(models, data_dir: Path | None, out: Path, epochs: int | None = None, limit: int | None = None):
    reviews = data.hotel_reviews(data_dir)
    if limit:
        reviews = reviews[:limit]
    train_reviews, val_reviews = split_reviews(reviews)
    train_text, val_text = corpus(train_reviews), corpus(val_reviews)
    vocab = Vocab.from_text(train_text)
    out = Path(out)
    checkpoints.write_json(out / VOCAB_FILE, vocab.chars)
    print(f"hotel reviews: {len(train_reviews)} train ({len(train_text):,} chars), {len(val_reviews)} validation "
          f"({len(val_text):,} chars); vocabulary {len(vocab)} characters (seen ≥ {MIN_COUNT}× in training)")
    cfg = RECIPE if epochs is None else TrainConfig(**{**asdict(RECIPE), "epochs": epochs})
    train_ids, val_ids = torch.tensor(vocab.encode(train_text)), torch.tensor(vocab.encode(val_text))
    train_streams, val_streams = streams(train_ids, cfg.batch_size), streams(val_ids, 16)
    steps = math.ceil((train_streams.shape[1] - 1) / BPTT)
    for name in models:
        torch.manual_seed(cfg.seed)
        model = build(name, {"cell": name, "vocab_size": len(vocab), **ARCH})
        train_loss, val_loss = StatefulLoss(), StatefulLoss()
        print(f"training {name}: {count_parameters(model):,} parameters, {cfg}")
        result = fit(
            model,
            train_batches=lambda ep: train_loss.reset(windows(shift(train_streams, ep))),
            val_batches=lambda: val_loss.reset(windows(val_streams)),
            batch_fn=lambda m, b: (train_loss if m.training else val_loss)(m, b),
            summarize=lambda o: {"loss": o["loss"], "bpc": bits_per_char(o["loss"])},
            cfg=cfg, steps_per_epoch=steps, select="bpc", maximize=False, name=name)
        score = score_text(model, val_ids)
        print(f"{name}: validation {score['bpc']:.3f} bits per character after {result.seconds:.0f}s of training")
        checkpoints.save(out, name, model, {
            "task": "hotel", "config": asdict(model.cfg), "train": asdict(cfg), "bptt": BPTT,
            "vocab_size": len(vocab), "parameters": count_parameters(model),
            "textbook_parameters": textbook_count(model), "train_seconds": result.seconds,
            "best_epoch": result.best_epoch, "history": result.history, "validation": score,
        })


def shift(stream: torch.Tensor, epoch: int) -> torch.Tensor:
    """Start each epoch's windows at a different offset so the cut points move."""
    return stream[:, (epoch * 37) % BPTT:]


def textbook_count(model: CharLM) -> int:
    """Embedding + decoder + the recurrent layers counted with the tutorials' one-bias formula."""
    c = model.cfg
    rec = sum(textbook_parameters(c.cell, c.embed_size if layer == 0 else c.hidden_size, c.hidden_size)
              for layer in range(c.num_layers))
    return count_parameters(model.embed) + rec + count_parameters(model.decoder)


@torch.inference_mode()
def score_text(model: CharLM, ids: torch.Tensor, batch_size: int = 16) -> dict:
    """Bits per character and perplexity over `ids` (every character counts; unseen ones as unknown)."""
    model.eval()
    loss = StatefulLoss()
    total, n = 0.0, 0
    batch_size = max(1, min(batch_size, len(ids) // 2))      # short texts: fewer, still non-empty streams
    for batch in loss.reset(windows(streams(ids, batch_size), 400)):
        value, count, _, _ = loss(model, batch)
        total += value.item() * count
        n += count
    if n == 0:
        raise UserError("too few characters to score")
    bpc = bits_per_char(total / n)
    return {"bpc": round(bpc, 4), "perplexity": round(2 ** bpc, 3), "characters": n}


def load_models(folder: Path, names=MODELS):
    """(vocab, {name: model}, {name: meta}, {name: error})."""
    folder = Path(folder)
    try:
        vocab = load_vocab(folder)
    except checkpoints.CheckpointError as exc:
        return None, {}, {}, {n: str(exc) for n in names}

    def check(name, model, m):
        if model.cfg.vocab_size != len(vocab):
            raise checkpoints.CheckpointError(f"{name} expects {model.cfg.vocab_size} characters, "
                                              f"{VOCAB_FILE} has {len(vocab)}")

    models, meta, errors = checkpoints.load_all(folder, names, build, check,
                                               (*checkpoints.META, "validation", "textbook_parameters"))
    return vocab, models, meta, errors


def evaluate(folder: Path, data_dir: Path | None, limit: int | None = None, models=MODELS) -> dict:
    """bpc, perplexity and characters scored on the validation reviews, recomputed from the checkpoints."""
    vocab, loaded, _, errors = load_models(folder, models)
    result = {n: {"error": e} for n, e in errors.items()}
    if loaded:
        _, val = split_reviews(data.hotel_reviews(data_dir))
        ids = torch.tensor(vocab.encode(corpus(val[:limit] if limit else val)))
        for name, model in loaded.items():
            result[name] = score_text(model, ids)
    return {n: result[n] for n in models}


# --- generation ---------------------------------------------------------------------------------

def check_settings(length, temperature, top_k) -> tuple[int, float, int, list[str]]:
    """Validate generation settings; clamp the length to MAX_LENGTH with a notice."""
    notices = []
    try:
        length, temperature, top_k = int(length), float(temperature), int(top_k or 0)
    except (TypeError, ValueError, OverflowError):
        raise UserError("length and top-k must be whole numbers and temperature a number") from None
    if not math.isfinite(temperature) or temperature < 0:
        raise UserError("temperature must be 0 (greedy) or a positive number")
    if length < 1:
        raise UserError("length must be at least 1 character")
    if top_k < 0:
        raise UserError("top-k must be 0 (no limit) or a positive number")
    if length > MAX_LENGTH:
        notices.append(f"length capped at {MAX_LENGTH} characters (asked for {length})")
        length = MAX_LENGTH
    return length, temperature, top_k, notices


def clean_seed(seed: str | None) -> tuple[str, list[str]]:
    seed = (seed or "").replace("\r", "").replace(END, " ").strip()
    notices = []
    if len(seed) > MAX_SEED:
        notices.append(f"only the last {MAX_SEED} characters of the seed are read")
        seed = seed[-MAX_SEED:]
    return seed, notices


@torch.inference_mode()
def sample(model: CharLM, vocab: Vocab, seed: str, length: int, temperature: float, top_k: int,
           generator: torch.Generator, stop_at_end: bool = True) -> str:
    """Continue `seed` (read after an END, as a fresh review) by up to `length` characters; stops at END
    (or, with stop_at_end=False, writes on into the next review — the benchmark's fixed length)."""
    logits, state = model(torch.tensor([vocab.encode(END + seed)]))
    logits = logits[0, -1]
    out, end_id = [], vocab.index[END]
    logits[0] = -math.inf                                # never write the unknown character
    for _ in range(length):
        if temperature < GREEDY_BELOW:
            nxt = int(logits.argmax())
        else:
            scaled = logits / temperature
            if 0 < top_k < len(scaled):
                cutoff = scaled.topk(top_k).values[-1]
                scaled = scaled.masked_fill(scaled < cutoff, -math.inf)
            nxt = int(torch.multinomial(scaled.softmax(-1), 1, generator=generator))
        if nxt == end_id and stop_at_end:
            break
        out.append(nxt)
        logits, state = model(torch.tensor([[nxt]]), state)
        logits = logits[0, -1]
        logits[0] = -math.inf
    return vocab.decode(out)


class TextModels:
    """The three character models and their vocabulary, loaded once."""

    def __init__(self, folder: Path, names=MODELS):
        self.vocab, self.models, self.meta, self.errors = load_models(folder, names)
        self.names = tuple(names)

    def _unavailable(self) -> dict:
        return {n: {"error": f"unavailable: {e}"} for n, e in self.errors.items()}

    def generate(self, seed: str = "早餐", length: int = 100, temperature: float = 0.8, top_k: int = 20,
                 random_seed: int = 0, stop_at_end: bool = True) -> dict:
        """Each model's continuation of `seed` and the ms it took; the same random seed gives the same text."""
        length, temperature, top_k, notices = check_settings(length, temperature, top_k)
        seed, seed_notices = clean_seed(seed)
        try:
            random_seed = int(random_seed) % 2**63          # any whole number names a generator
        except (TypeError, ValueError, OverflowError):
            raise UserError("the random seed must be a whole number") from None
        unknown = sorted({c for c in seed if c not in self.vocab.index}) if self.vocab else []
        if unknown:
            seed_notices.append(f"characters the models never saw in training are read as unknown: {''.join(unknown[:20])}")
        answers = self._unavailable()
        for name, model in self.models.items():
            gen = torch.Generator().manual_seed(random_seed)
            t0 = time.perf_counter()
            text = sample(model, self.vocab, seed, length, temperature, top_k, gen, stop_at_end)
            answers[name] = {"text": seed + text, "ms": round((time.perf_counter() - t0) * 1000, 2),
                             "characters": len(text)}
        return {"seed": seed, "notices": notices + seed_notices,
                "models": {n: answers[n] for n in self.names if n in answers}}

    @torch.inference_mode()
    def next_chars(self, seed: str, k: int = 10) -> dict[str, list[tuple[str, float]]]:
        """Each model's k most likely next characters after `seed` (END shown as ⏎)."""
        seed, _ = clean_seed(seed)
        out = {}
        for name, model in self.models.items():
            logits, _ = model(torch.tensor([self.vocab.encode(END + seed)]))
            logits[0, -1, 0] = -math.inf                     # the unknown character is never written
            probs = logits[0, -1].softmax(-1)
            top = probs.topk(k)
            out[name] = [("⏎" if self.vocab.chars[i] == END else self.vocab.chars[i], round(float(p), 5))
                         for p, i in zip(top.values, top.indices)]
        return out
