"""The tutorials this project builds on: their published figures (quotations, with their source) and their
own recipes, rerun as they wrote them at a size that runs here (`python -m seqcompare tutorial TASK`).

A rerun measures seconds per epoch and the tutorial's metric (test accuracy; bits per character for the
text) and writes `checkpoints/tutorial/TASK.json`, which `report` reads. The recipes are deliberately the
tutorials', not this project's: MNIST resized to 32×32, IMDb padded to 500 tokens with the last state read
after the pads, and a char-rnn trained on 10,000 characters one random window at a time.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from seqcompare import UserError, checkpoints, data, machine
from seqcompare.models import make_rnn

SOURCE = ("the Chinese tutorials “循环神经网络 RNN、LSTM、GRU 对比” and “从 RNN 到 Transformer” "
          "(their MNIST, IMDb and hotel-review experiments)")

# Figures the tutorials publish. Quotations, not measurements: nothing here reruns them.
QUOTES = {
    "mnist": {"accuracy": {"rnn": 0.9644, "lstm": 0.9890, "lenet": 0.9908}},
    "imdb": {"accuracy": {"rnn": 0.6548, "lstm": 0.8850},
             "train_seconds": {"lstm": 2054, "rnn": 804}, "hardware": "a GPU"},
    "hotel": {"generation_ms": 48.2, "generation_characters": 50, "model": "lstm"},
}


@dataclass
class Recipe:
    """A tutorial's recipe as it wrote it; `epochs` is the tutorial's own count (None: not restated here)."""
    models: tuple
    batch_size: int
    lr: float
    epochs: int | None
    arch: dict = field(default_factory=dict)
    words: str = ""


RECIPES = {
    "mnist": Recipe(("rnn", "lstm", "gru", "lenet"), 64, 1e-3, 20,
                    {"size": 32, "hidden_size": 128, "num_layers": 2},
                    "images resized to 32×32 and read as 32 rows of 32 pixels by a 2-layer cell of 128 units "
                    "(the last state classified) or by the classic LeNet-5; batch 64, Adam 1e-3, 20 epochs"),
    "imdb": Recipe(("rnn", "lstm"), 64, 1e-3, None,
                   {"vocab": 25000, "length": 500, "embed_size": 128, "hidden_size": 256, "num_layers": 2,
                    "dropout": 0.5},
                   "a 25,000-word vocabulary, every review padded or cut to 500 tokens and the last state "
                   "read after the pads; embeddings of 128, 2 layers of 256, dropout 0.5; batch 64, Adam 1e-3"),
    "hotel": Recipe(("lstm",), 1, 5e-3, 2000,
                    {"characters": 10000, "window": 50, "hidden_size": 512, "num_layers": 2},
                    "a 2-layer LSTM of 512 trained on the first 10,000 characters of the training reviews, "
                    "one random window of 50 at a time (batch 1), Adam 5e-3, 2,000 steps; bits per character "
                    "on the validation reviews, counting only the characters its vocabulary knows"),
}
UNIT = {"mnist": "epoch", "imdb": "epoch", "hotel": "step"}


# --- the tutorials' models ------------------------------------------------------------------------------

class RowModel(nn.Module):
    """A cell over the rows of an image, or over token embeddings; the last output is classified."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int, classes: int,
                 vocab: int = 0, dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab, input_size, padding_idx=0) if vocab else None
        self.rnn = make_rnn(cell, input_size, hidden_size, num_layers, dropout)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x) if self.embed is not None else x.squeeze(1)
        out, _ = self.rnn(x)
        return self.fc(self.drop(out[:, -1]))            # the last step, pads and all


class LeNet32(nn.Module):
    """LeNet-5 as LeCun wrote it, on 32×32 input."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                                 nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                                 nn.ReLU(), nn.Linear(84, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# --- one loop for the classifiers -------------------------------------------------------------------

def subset(n: int, limit: int | None, seed: int = 0) -> torch.Tensor:
    """A fixed random slice of `limit` indices (all of them without a limit)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:limit] if limit else order


def fit_classifier(model: nn.Module, x, y, prep, recipe: Recipe, epochs: int, test) -> dict:
    """Adam and cross-entropy, as the tutorials train: seconds per epoch, then test accuracy."""
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    seconds = []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        t0 = time.perf_counter()
        for i in range(0, len(x), recipe.batch_size):
            idx = order[i:i + recipe.batch_size]
            loss = F.cross_entropy(model(prep(x[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        seconds.append(round(time.perf_counter() - t0, 1))
        print(f"  epoch {epoch + 1}/{epochs}: {seconds[-1]:.1f} s, last batch loss {loss.item():.3f}", flush=True)
    return {"seconds_per_epoch": seconds, "test": accuracy(model, *test, prep)}


@torch.inference_mode()
def accuracy(model: nn.Module, x, y, prep, batch_size: int = 256) -> dict:
    model.eval()
    right = sum((model(prep(x[i:i + batch_size])).argmax(1) == y[i:i + batch_size]).sum().item()
                for i in range(0, len(x), batch_size))
    return {"accuracy": round(right / len(x), 4), "n": len(x)}


def run_models(task: str, build, x, y, prep, epochs: int, test) -> dict:
    out = {}
    for name in RECIPES[task].models:
        torch.manual_seed(0)
        print(f"{task} {name}", flush=True)
        out[name] = fit_classifier(build(name), x, y, prep, RECIPES[task], epochs, test)
    return out


# --- the three tasks -----------------------------------------------------------------------------------

def mnist(data_dir: Path | None, epochs: int, limit: int | None) -> dict:
    arch = RECIPES["mnist"].arch
    x, y = data.mnist(data_dir, train=True)
    keep = subset(len(x), limit)
    tx, ty = data.mnist(data_dir, train=False)

    def prep(images):                                   # the tutorial's transforms: Resize(32), ToTensor, Normalize
        images = F.interpolate(images.float()[:, None] / 255, size=arch["size"], mode="bilinear")
        return (images - 0.1307) / 0.3081

    def build(name):
        if name == "lenet":
            return LeNet32()
        return RowModel(name, arch["size"], arch["hidden_size"], arch["num_layers"], 10)

    return run_models("mnist", build, x[keep], y[keep], prep, epochs, (tx, ty))


def imdb_tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("<br />", " "))


def imdb_encode(texts: list[str], index: dict, length: int) -> torch.Tensor:
    """Ids (1 = unknown, 0 = pad) padded after each review or cut, all to `length`."""
    rows = [[index.get(w, 1) for w in imdb_tokens(t)][:length] for t in texts]
    return torch.tensor([r + [0] * (length - len(r)) for r in rows])


def imdb(data_dir: Path | None, epochs: int, limit: int | None) -> dict:
    arch = RECIPES["imdb"].arch
    texts, labels, _ = data.imdb(data_dir, "train")
    test_texts, test_labels, _ = data.imdb(data_dir, "test")
    keep, test_keep = subset(len(texts), limit).tolist(), subset(len(test_texts), limit).tolist()
    counts = Counter(w for i in keep for w in imdb_tokens(texts[i]))
    index = {w: i + 2 for i, (w, _) in enumerate(counts.most_common(arch["vocab"] - 2))}
    x = imdb_encode([texts[i] for i in keep], index, arch["length"])
    y = torch.tensor([labels[i] for i in keep])
    test = (imdb_encode([test_texts[i] for i in test_keep], index, arch["length"]),
            torch.tensor([test_labels[i] for i in test_keep]))

    def build(name):
        return RowModel(name, arch["embed_size"], arch["hidden_size"], arch["num_layers"], 2,
                        vocab=arch["vocab"], dropout=arch["dropout"])

    return run_models("imdb", build, x, y, lambda ids: ids, epochs, test)


class CharRNN(nn.Module):
    def __init__(self, vocab: int, hidden: int, layers: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embed(ids), state)
        return self.out(out), state


def hotel(data_dir: Path | None, epochs: int, limit: int | None) -> dict:
    """The char-rnn recipe; `epochs` counts its steps (one random window each), as the tutorial does."""
    from seqcompare import textgen

    recipe, arch = RECIPES["hotel"], RECIPES["hotel"].arch
    train, val = textgen.split_reviews(data.hotel_reviews(data_dir))
    text = textgen.corpus(train)[:arch["characters"]]
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text])
    torch.manual_seed(0)
    model = CharRNN(len(chars), arch["hidden_size"], arch["num_layers"])
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    t0 = time.perf_counter()
    for step in range(epochs):
        start = torch.randint(0, len(ids) - arch["window"] - 1, (1,)).item()
        chunk = ids[start:start + arch["window"] + 1][None]
        logits, _ = model(chunk[:, :-1])
        loss = F.cross_entropy(logits[0], chunk[0, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 500 == 0:
            print(f"  step {step + 1}/{epochs}: loss {loss.item():.3f}", flush=True)
    seconds = time.perf_counter() - t0
    val_text = textgen.corpus(val)[:limit] if limit else textgen.corpus(val)
    known = [index[c] for c in val_text if c in index]
    return {"lstm": {"train_seconds": round(seconds, 1), "seconds_per_step": round(seconds / epochs, 4),
                     "validation": {**bits_per_character(model, torch.tensor(known)),
                                    "characters_total": len(val_text) - 1}}}


@torch.inference_mode()
def bits_per_character(model: CharRNN, ids: torch.Tensor, streams: int = 16, chunk: int = 500) -> dict:
    """Every character after the first, read as `streams` contiguous streams with the state carried."""
    model.eval()
    n = (len(ids) - 1) // streams * streams
    inputs, targets = ids[:n].view(streams, -1), ids[1:n + 1].view(streams, -1)
    nats, state = 0.0, None
    for i in range(0, inputs.shape[1], chunk):
        logits, state = model(inputs[:, i:i + chunk], state)
        nats += F.cross_entropy(logits.flatten(0, 1), targets[:, i:i + chunk].flatten(), reduction="sum").item()
    return {"bpc": round(nats / n / math.log(2), 3), "characters": n}


TASKS = {"mnist": mnist, "imdb": imdb, "hotel": hotel}


def run_task(task: str, data_dir: Path | None, epochs: int, limit: int | None) -> dict:
    """Rerun one tutorial recipe; the result as `checkpoints/tutorial/TASK.json` holds it."""
    load = os.getloadavg()[0]                             # how busy the CPU was: timings on a shared one are noisy
    models = TASKS[task](data_dir, epochs, limit)
    return {"task": task, "source": SOURCE, "recipe": asdict(RECIPES[task]), "unit": UNIT[task],
            "ran": {"epochs": epochs, "limit": limit, "threads": torch.get_num_threads(),
                    "load_average": [round(load, 2), round(os.getloadavg()[0], 2)], "cpus": os.cpu_count()},
            "models": models, "machine": machine.describe(), "versions": checkpoints.versions()}


# --- command line -------------------------------------------------------------------------------------

def add_parser(sub) -> None:
    t = sub.add_parser("tutorial", help="rerun a tutorial's own recipe (timed) and write checkpoints/tutorial/TASK.json")
    t.add_argument("task", choices=TASKS)
    t.add_argument("--epochs", type=int, default=None, help="epochs to run, default 1 (hotel: steps, default its 2,000)")
    t.add_argument("--limit", type=int, default=None, help="examples per split (hotel: validation characters)")
    t.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    t.add_argument("--data-dir", help="local data folder (default: $SEQCOMPARE_DATA, else download)")
    t.add_argument("--out", type=Path, default=None, help="JSON file (default: checkpoints/tutorial/TASK.json)")
    t.set_defaults(func=run)


def run(args) -> None:
    epochs = args.epochs or (RECIPES[args.task].epochs if UNIT[args.task] == "step" else 1)
    if epochs < 1 or args.epochs == 0 or (args.limit is not None and args.limit < 2) or args.threads < 1:
        raise UserError("--epochs and --threads must be at least 1, --limit at least 2")
    torch.set_num_threads(args.threads)
    out = checkpoints.writable_file(args.out or Path(__file__).resolve().parent.parent / "checkpoints" / "tutorial"
                                    / f"{args.task}.json")
    result = run_task(args.task, data.data_dir(args.data_dir), epochs, args.limit)
    checkpoints.write_json(out, result)
    print(f"wrote {out}")
