"""Text generation: character language models (RNN, LSTM, GRU and a causal Transformer) trained on
ChnSentiCorp hotel reviews."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from seqcompare import CELLS, UserError, checkpoints, data, devices
from seqcompare.metrics import bits_per_char
from seqcompare.models import (CharLM, CharLMConfig, TransformerLM, TransformerLMConfig, count_parameters,
                               detach_state, textbook_parameters)
from seqcompare.training import TrainConfig, fit, settings

MODELS = (*CELLS, "transformer")
END = "\n"                 # ends every review; generation stops there
UNK = "<unk>"
MIN_COUNT = 2              # rarer training characters share the unknown id
BPTT = 50                  # characters per truncated back-propagation window
MAX_LENGTH = 500           # longest generation, in characters
GREEDY_BELOW = 1e-3       # temperatures this low sample as greedy (and cannot overflow the softmax)
MAX_SEED = 200             # seed characters the models read
RECIPE = TrainConfig(epochs=20, batch_size=32, lr=2e-3, weight_decay=1e-2, clip=0.5)
ARCH = {"embed_size": 128, "hidden_size": 384, "dropout": 0.25, "tie": False}    # shared by the cells
# The Transformer: batches of random windows of its context (no state carried between them)
TRANSFORMER_RECIPE = TrainConfig(epochs=20, batch_size=32, lr=2e-3, weight_decay=1e-2, clip=1.0)
TRANSFORMER_ARCH = {"context": 128, "width": 192, "layers": 3, "heads": 6, "dropout": 0.2}
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


def random_windows(ids: torch.Tensor, context: int, batch_size: int, seed: int):
    """(inputs, targets) batches of random windows of `context` characters, about one pass over `ids`."""
    g = torch.Generator().manual_seed(seed)
    if len(ids) <= context:
        raise UserError(f"too little text to train on: a window is {context + 1} characters, the text has {len(ids)}")
    starts = torch.randint(0, len(ids) - context, (len(ids) // context,), generator=g)   # last start: len - context - 1
    offsets = torch.arange(context + 1)
    for i in range(0, len(starts), batch_size):
        chunk = ids[starts[i:i + batch_size, None] + offsets]
        yield chunk[:, :-1], chunk[:, 1:]


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


def shift(stream: torch.Tensor, epoch: int, bptt: int = BPTT) -> torch.Tensor:
    """Start each epoch's windows at a different offset so the cut points move."""
    return stream[:, (epoch * 37) % bptt:]


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


def load_models(folder: Path, names=MODELS, device: torch.device | str = "cpu"):
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
                                               (*checkpoints.META, "validation", "textbook_parameters"), device)
    return vocab, models, meta, errors


def evaluate(folder: Path, data_dir: Path | None, limit: int | None = None, models=MODELS,
             device: torch.device | str = "cpu") -> dict:
    """bpc, perplexity and characters scored on the validation reviews, recomputed from the checkpoints."""
    vocab, loaded, _, errors = load_models(folder, models, device)
    result = {n: {"error": e} for n, e in errors.items()}
    if loaded:
        _, val = split_reviews(data.hotel_reviews(data_dir))
        ids = torch.tensor(vocab.encode(corpus(val[:limit] if limit else val)))
        for name, model in loaded.items():
            result[name] = score_text(model, ids)
    return {n: result[n] for n in models}


# --- generation ---------------------------------------------------------------------------------

MAX_BEAMS = 8


def whole(value, what: str) -> int:
    """A whole number, or a UserError naming the setting (2.5, inf, "two" and True are refused)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool) or not number.is_integer():
        raise UserError(f"{what} must be a whole number, not {value!r}")
    return int(number)


def check_settings(length, temperature, top_k, top_p=1.0, beams=1) -> tuple[int, float, int, float, int, list[str]]:
    """Validate generation settings; clamp the length to MAX_LENGTH with a notice."""
    notices = []
    length, top_k = whole(length, "length"), whole(top_k or 0, "top-k")
    beams = whole(1 if beams is None else beams, "beams")
    try:
        if isinstance(temperature, bool) or isinstance(top_p, bool):
            raise TypeError
        temperature, top_p = float(temperature), float(1.0 if top_p is None else top_p)
    except (TypeError, ValueError, OverflowError):
        raise UserError("temperature and top-p must be numbers") from None
    if not math.isfinite(temperature) or temperature < 0:
        raise UserError("temperature must be 0 (greedy) or a positive number")
    if length < 1:
        raise UserError("length must be at least 1 character")
    if top_k < 0:
        raise UserError("top-k must be 0 (no limit) or a positive number")
    if not 0 < top_p <= 1:                                 # NaN fails this too
        raise UserError("top-p must be above 0 and at most 1 (1 keeps every character)")
    if not 1 <= beams <= MAX_BEAMS:
        raise UserError(f"beams must be a whole number from 1 to {MAX_BEAMS} (1: no beam search)")
    if length > MAX_LENGTH:
        notices.append(f"length capped at {MAX_LENGTH} characters (asked for {length})")
        length = MAX_LENGTH
    if beams > 1:
        notices.append(f"beam search with {beams} beams is deterministic: temperature, top-k, top-p and the "
                       "random seed are not used")
    return length, temperature, top_k, top_p, beams, notices


def clean_seed(seed: str | None) -> tuple[str, list[str]]:
    seed = (seed or "").replace("\r", "").replace(END, " ").strip()
    notices = []
    if len(seed) > MAX_SEED:
        notices.append(f"only the last {MAX_SEED} characters of the seed are read")
        seed = seed[-MAX_SEED:]
    return seed, notices


def candidates(logits: torch.Tensor, temperature: float, top_k: int = 0, top_p: float = 1.0):
    """The characters sampling may pick and their probabilities (renormalised, likeliest first): the
    logits scaled by the temperature, cut to the top k, then to the nucleus — the smallest set of
    likeliest characters whose probability reaches top_p. Returns (probabilities, ids)."""
    probs, ids, keep = cut(logits[None], temperature, top_k, top_p)
    probs, ids = probs[0][keep[0]], ids[0][keep[0]]
    return probs / probs.sum(), ids


def cut(logits: torch.Tensor, temperature: float, top_k: int, top_p: float):
    """`candidates` for each row of logits (B, V): the top k per row, likeliest first, their probabilities
    and which of them the nucleus keeps (B, k) — the rows keep sets of different sizes."""
    k = top_k if 0 < top_k < logits.shape[-1] else logits.shape[-1]
    values, ids = logits.topk(k)                           # sorted, likeliest first
    probs = (values / temperature).softmax(-1)
    keep = probs.cumsum(-1) - probs < top_p                 # the likelier ones have not reached top_p yet
    return probs, ids, keep


def pick(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, generator: torch.Generator) -> int:
    """The next character: the likeliest at temperature 0, else a draw from `candidates`."""
    return pick_rows(logits[None], temperature, top_k, top_p, [generator])[0]


def pick_rows(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, generators: list) -> list[int]:
    """`pick` for each row of logits (B, V), with the same settings, each row drawing from its own
    generator (one uniform number per draw, so a row's text does not depend on the other rows)."""
    if temperature < GREEDY_BELOW:
        return logits.argmax(-1).tolist()
    u = torch.cat([torch.rand(1, generator=g, device=logits.device) for g in generators])[:, None]
    if not 0 < top_k < logits.shape[-1] and top_p >= 1:   # nothing cut off: no sort of the whole vocabulary
        cdf = (logits / temperature).softmax(-1).cumsum(-1)
        # inverse transform: the first character whose cumulative probability passes u (right: never a p = 0)
        return torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp_(max=cdf.shape[-1] - 1)[:, 0].tolist()
    probs, ids, keep = cut(logits, temperature, top_k, top_p)
    cdf = (probs * keep).cumsum(-1)                        # what the nucleus drops adds nothing
    at = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)
    at = torch.minimum(at, keep.sum(-1, keepdim=True) - 1)   # rounding at the very top stays in the set
    return ids.gather(1, at)[:, 0].tolist()


def prompt(model, vocab: Vocab, seed: str):
    """Read END + seed (a fresh review); the log-probabilities of the next character (the unknown
    character never written) and the state after it."""
    logits, state = model(torch.tensor([vocab.encode(END + seed)], device=devices.of(model)))
    logits = logits[0, -1].float()
    logits[0] = -math.inf
    return logits, state


@dataclass
class Draw:
    """One continuation to write: its seed, its (checked) sampling settings and its own random generator."""
    seed: str
    length: int
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    generator: torch.Generator | None = None


def sample(model, vocab: Vocab, seed: str, length: int, temperature: float, top_k: int,
           generator: torch.Generator, stop_at_end: bool = True, top_p: float = 1.0) -> str:
    """Continue `seed` (read after an END, as a fresh review) by up to `length` characters; stops at END
    (or, with stop_at_end=False, writes on into the next review — the benchmark's fixed length)."""
    return sample_many(model, vocab, [Draw(seed, length, temperature, top_k, top_p, generator)], stop_at_end)[0]


@torch.inference_mode()
def sample_many(model, vocab: Vocab, draws: list[Draw], stop_at_end: bool = True) -> list[str]:
    """Several continuations at once, each the text `sample` writes for it alone (the same settings and
    generator give the same text, up to float rounding in the batched products). Each step runs the
    model once for a whole batch, reading its weights once for all the sequences in it."""
    prompts = {seed: prompt(model, vocab, seed) for seed in dict.fromkeys(d.seed for d in draws)}
    groups: dict[int, list[int]] = {}
    for i, d in enumerate(draws):
        groups.setdefault(model.batch_key(prompts[d.seed][1]), []).append(i)
    texts = [""] * len(draws)
    for rows in groups.values():
        ids = decode(model, [draws[i] for i in rows], [prompts[draws[i].seed] for i in rows], vocab.index[END],
                     stop_at_end)
        for i, chars in zip(rows, ids):
            texts[i] = vocab.decode(chars)
    return texts


def pick_each(logits: torch.Tensor, draws: list[Draw]) -> list[int]:
    """Each row's next character, drawn with its own settings (rows that share them are picked together)."""
    picked, groups = [0] * len(draws), {}
    for row, d in enumerate(draws):
        groups.setdefault((d.temperature, d.top_k, d.top_p), []).append(row)
    for (temperature, top_k, top_p), rows in groups.items():
        some = logits if len(rows) == len(draws) else logits[rows]
        for row, nxt in zip(rows, pick_rows(some, temperature, top_k, top_p, [draws[r].generator for r in rows])):
            picked[row] = nxt
    return picked


def decode(model, draws: list[Draw], prompts: list, end_id: int, stop_at_end: bool) -> list[list[int]]:
    """The sampling loop over a batch: each sequence draws its next character from its own row of
    logits with its own settings, and leaves the batch at END (with stop_at_end) or at its length."""
    logits = torch.stack([first for first, _ in prompts])
    state = prompts[0][1] if len(prompts) == 1 else model.merge_states([s for _, s in prompts])
    out = [[] for _ in draws]
    live = list(range(len(draws)))                         # the sequences in the batch, in its row order
    while live:
        going, chars = [], []
        for row, (i, nxt) in enumerate(zip(live, pick_each(logits, [draws[i] for i in live]))):
            if nxt == end_id and stop_at_end:
                continue
            out[i].append(nxt)
            if len(out[i]) < draws[i].length:
                going.append(row)
                chars.append(nxt)
        if not going:
            break
        if len(going) < len(live):
            state = model.reorder_state(state, torch.tensor(going, device=logits.device))
        live = [live[row] for row in going]
        logits, state = model(torch.tensor(chars, device=logits.device)[:, None], state)
        logits = logits[:, -1].float()
        logits[:, 0] = -math.inf
    return out


@torch.inference_mode()
def beam_search(model, vocab: Vocab, seed: str, length: int, beams: int) -> tuple[str, float]:
    """The continuation with the highest total log-probability divided by its length (deterministic).
    Each step keeps the `beams` likeliest continuations that go on; one that ends at END (its
    log-probability counts, and END counts in its length) while among the `beams` likeliest is finished.
    The search runs to `length` characters, then ranks the finished and the unfinished ones alike.
    Returns (text, score)."""
    logits, state = prompt(model, vocab, seed)
    end_id = vocab.index[END]
    live = [([], 0.0)]                                     # (characters, total log-probability)
    logp = logits.log_softmax(-1)[None]                    # (live, vocab)
    finished = []
    for step in range(length):
        totals = torch.tensor([t for _, t in live], device=logp.device)[:, None] + logp
        top = totals.flatten().topk(min(2 * beams, totals.numel()))
        keep, rows = [], []
        for rank, (total, flat) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
            row, char = divmod(flat, logp.shape[1])
            if total == -math.inf or len(keep) == beams:
                break
            if char != end_id:
                keep.append((live[row][0] + [char], total))
                rows.append(row)
            elif rank < beams:                             # an ending among the best: a finished hypothesis
                finished.append((live[row][0], total, len(live[row][0]) + 1))
        live = keep
        if not live:
            break
        if step == length - 1:
            break
        state = model.reorder_state(state, torch.tensor(rows, device=logits.device))
        logits, state = model(torch.tensor([[chars[-1]] for chars, _ in live], device=logits.device), state)
        logits = logits[:, -1]
        logits[:, 0] = -math.inf
        logp = logits.log_softmax(-1)
    finished += [(chars, total, len(chars)) for chars, total in live]
    chars, total, n = max(finished, key=lambda f: f[1] / f[2])
    return vocab.decode(chars), total / n


class TextModels:
    """The character models (RNN, LSTM, GRU, Transformer) and their vocabulary, loaded once."""

    def __init__(self, folder: Path, names=MODELS, device: torch.device | str = "cpu"):
        self.vocab, self.models, self.meta, self.errors = load_models(folder, names, device)
        self.names = tuple(names)

    def _unavailable(self) -> dict:
        return {n: {"error": f"unavailable: {e}"} for n, e in self.errors.items()}

    def generate(self, seed: str = "早餐", length: int = 100, temperature: float = 0.8, top_k: int = 20,
                 random_seed: int = 0, top_p: float = 1.0, beams: int = 1, stop_at_end: bool = True) -> dict:
        """Each model's continuation of `seed` and the ms it took; the same random seed gives the same text.
        With beams > 1, beam search (deterministic) instead of sampling."""
        answer = self.generate_many([(seed, length, temperature, top_k, random_seed, top_p, beams)], stop_at_end)[0]
        if isinstance(answer, UserError):
            raise answer
        return answer

    def generate_many(self, requests: list[tuple], stop_at_end: bool = True) -> list[dict | UserError]:
        """`generate` for several requests at once — a server's concurrent users, each a tuple of `generate`'s
        arguments. Every model writes all the sampled continuations in one batch (see `sample_many`), so
        each request gets the text it gets alone, and `ms` is the batch's time for that model (`"batch"`
        says how many shared it). A request with bad settings gets its UserError in its place."""
        checked = []
        for request in requests:
            try:
                checked.append(self.check(*request))
            except UserError as exc:
                checked.append(exc)
        good = [i for i, c in enumerate(checked) if not isinstance(c, UserError)]
        sampled = [i for i in good if checked[i]["beams"] == 1]
        answers = {i: self._unavailable() for i in good}
        for name, model in self.models.items():
            if sampled:
                # every model draws from a fresh generator seeded alike, so the columns compare
                draws = [Draw(c["seed"], c["length"], c["temperature"], c["top_k"], c["top_p"],
                              torch.Generator().manual_seed(c["random_seed"])) for c in (checked[i] for i in sampled)]
                t0 = time.perf_counter()
                texts = sample_many(model, self.vocab, draws, stop_at_end)
                ms = round((time.perf_counter() - t0) * 1000, 2)
                for i, text in zip(sampled, texts):
                    answers[i][name] = {"text": checked[i]["seed"] + text, "ms": ms, "characters": len(text)}
            for i in good:
                if checked[i]["beams"] > 1:
                    t0 = time.perf_counter()
                    text, score = beam_search(model, self.vocab, checked[i]["seed"], checked[i]["length"],
                                              checked[i]["beams"])
                    answers[i][name] = {"text": checked[i]["seed"] + text, "characters": len(text),
                                        "ms": round((time.perf_counter() - t0) * 1000, 2),
                                        "score": round(score, 4)}    # mean log-probability per character
        results = []
        for i, c in enumerate(checked):
            if isinstance(c, UserError):
                results.append(c)
                continue
            results.append({"seed": c["seed"], "notices": c["notices"],
                            "models": {n: answers[i][n] for n in self.names if n in answers[i]}})
            if i in sampled and len(sampled) > 1:
                results[-1]["batch"] = len(sampled)
        return results

    def check(self, seed, length=100, temperature=0.8, top_k=20, random_seed=0, top_p=1.0, beams=1) -> dict:
        """One request's settings, checked (a UserError for what cannot be used), with its notices."""
        length, temperature, top_k, top_p, beams, notices = check_settings(length, temperature, top_k, top_p, beams)
        seed, seed_notices = clean_seed(seed)
        try:
            random_seed = int(random_seed) % 2**63          # any whole number names a generator
        except (TypeError, ValueError, OverflowError):
            raise UserError("the random seed must be a whole number") from None
        unknown = sorted({c for c in seed if c not in self.vocab.index}) if self.vocab else []
        if unknown:
            seed_notices.append(f"characters the models never saw in training are read as unknown: {''.join(unknown[:20])}")
        return {"seed": seed, "length": length, "temperature": temperature, "top_k": top_k, "top_p": top_p,
                "beams": beams, "random_seed": random_seed, "notices": notices + seed_notices}

    @torch.inference_mode()
    def next_chars(self, seed: str, k: int = 10) -> dict[str, list[tuple[str, float]]]:
        """Each model's k most likely next characters after `seed` (END shown as ⏎)."""
        seed, _ = clean_seed(seed)
        out = {}
        for name, model in self.models.items():
            logits, _ = model(torch.tensor([self.vocab.encode(END + seed)], device=devices.of(model)))
            logits[0, -1, 0] = -math.inf                     # the unknown character is never written
            probs = logits[0, -1].float().softmax(-1).cpu()
            top = probs.topk(k)
            out[name] = [("⏎" if self.vocab.chars[i] == END else self.vocab.chars[i], round(float(p), 5))
                         for p, i in zip(top.values, top.indices)]
        return out
