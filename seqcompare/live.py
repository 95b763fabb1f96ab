"""Training in the browser: RNN, LSTM and GRU (and the Transformer, for text) trained side by side on the
same data with the same settings, streaming their curves — through the package's one training loop.

`check` validates and clamps the settings (server-side caps no input can lift); `train` is a generator of
JSON-able updates, the last with "done": True and every model's history. It trains the models one after
another in a worker thread, each with an equal share of the time budget, and stops when told to.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from seqcompare import CELLS, UserError, data, devices, digits, textgen
from seqcompare.i18n import said
from seqcompare.models import count_parameters
from seqcompare.training import TrainConfig
from seqcompare.validate import finite, random_seed, whole

# Caps no input can lift: a request asking for more is clamped, with a notice.
CAPS = {"hidden": 256, "layers": 3, "epochs": 30, "seconds": 180, "images": 10_000, "characters": 200_000,
        "lr": 0.05}
MIN_LR = 1e-5
MIN_CHARACTERS = 500
DEFAULTS = {"task": "digits", "models": "rnn,lstm,gru", "hidden": 64, "layers": 1, "dropout": 0.0, "lr": 0.005,
            "epochs": 6, "seconds": 60, "text": "", "images": 5000}
HOTEL_CHARACTERS = 60_000     # the default corpus: the start of the hotel reviews' training text
UPDATE_EVERY = 1.0            # seconds between streamed updates (epoch ends are always sent)
NICE = 15                     # the training thread's niceness: requests from other users come first
BPTT = 64                     # text: characters per training window (the Transformer's context)


@dataclass
class Settings:
    task: str
    models: tuple
    hidden: int
    layers: int
    dropout: float
    lr: float
    epochs: int
    seconds: float
    text: str
    images: int
    seed: int = 0
    precision: str = "auto"       # of the training steps, as devices.precision reads it


def _capped(value, name: str, label: str, notices: list[str], is_whole: bool = True, low=1):
    """A number at least `low`, lowered to its cap (with a notice) when it asks for more."""
    number = whole(value, label) if is_whole else finite(value, label)
    if number < low:
        raise UserError("errors.at_least", what=label, low=low)
    if name in CAPS and number > CAPS[name]:
        notices.append(said("notices.capped", what=label, number=f"{number:g}", cap=f"{CAPS[name]:g}"))
        number = CAPS[name]
    return number


# --- what each kind of run trains on --------------------------------------------------------------

def _digit_data(images, text: str, notices: list[str]) -> tuple[int, str]:
    images = images if images not in (None, "") else DEFAULTS["images"]
    return _capped(images, "images", "number of images", notices, low=100), text


def _text_data(images, text: str, notices: list[str]) -> tuple[int, str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise UserError("errors.no_text")
    if len(text) > CAPS["characters"]:
        notices.append(said("notices.text_cut", n=f"{len(text):,}", limit=f"{CAPS['characters']:,}"))
        text = text[:CAPS["characters"]]
    if len(text.strip()) < MIN_CHARACTERS:
        raise UserError("errors.text_short", n=MIN_CHARACTERS)
    return 0, text


def _digit_prepare(s: Settings, data_dir) -> dict:
    sets = digits.splits(data.data_dir(data_dir))
    n_val = min(1000, max(200, s.images // 5))
    return {"train": tuple(t[:s.images] for t in sets["train"]), "val": tuple(t[:n_val] for t in sets["val"])}


def _text_prepare(s: Settings, data_dir) -> dict:
    cut = int(len(s.text) * 0.9)
    train_text, val_text = s.text[:cut], s.text[cut:]
    vocab = textgen.Vocab(sorted(set(train_text) | {textgen.END}))
    return {"vocab": vocab, "train": torch.tensor(vocab.encode(train_text)), "val": torch.tensor(vocab.encode(val_text))}


def _digit_config(s: Settings, name: str, prepared: dict) -> dict:
    return {"cell": name, "hidden_size": s.hidden, "num_layers": s.layers, "dropout": s.dropout}


def _text_config(s: Settings, name: str, prepared: dict) -> dict:
    return textgen.SPECS[name].sized(len(prepared["vocab"]), s.hidden, s.layers, s.dropout, context=BPTT)


def _digit_fit(name: str, config: dict, prepared: dict, cfg: TrainConfig, hooks: dict):
    return digits.fit_model(name, prepared, cfg, config, **hooks)


def _text_fit(name: str, config: dict, prepared: dict, cfg: TrainConfig, hooks: dict):
    return textgen.fit_model(name, config, prepared["train"], prepared["val"], cfg, bptt=BPTT, **hooks)


@dataclass(frozen=True)
class Kind:
    """What the Train tab trains for one task: its models, the metric its curves show, its batch size,
    and how it reads the user's inputs, prepares the data, configures and fits one model."""

    name: str                # the `task` a client sends
    models: tuple[str, ...]
    metric: str
    batch_size: int
    inputs: Callable         # (images, text, notices) → (images, text), checked
    prepare: Callable        # (settings, data_dir) → the data every model shares
    config: Callable         # (settings, name, prepared) → the model's config
    fit: Callable            # (name, config, prepared, TrainConfig, hooks) → (model, result)


DIGITS = Kind("digits", CELLS, "accuracy", 128, _digit_data, _digit_prepare, _digit_config, _digit_fit)
TEXT = Kind("text", textgen.MODELS, "bpc", 32, _text_data, _text_prepare, _text_config, _text_fit)
KINDS = {kind.name: kind for kind in (DIGITS, TEXT)}


def check(task, models, hidden, layers, dropout, lr, epochs, seconds, text="", images=DEFAULTS["images"],
          seed=0) -> tuple[Settings, list[str]]:
    """Settings from what a user or a client sent: nonsense refused with a sentence, too much clamped."""
    notices = []
    kind = KINDS.get(str(task or "").strip().lower())
    if kind is None:
        raise UserError("errors.task", tasks=", ".join(KINDS))
    names = tuple(dict.fromkeys(n.strip().lower() for n in str(models or "").split(",") if n.strip()))
    unknown = [n for n in names if n not in kind.models]
    if not names or unknown:
        from seqcompare.plots import label                # the names the page shows (any case is read)
        raise UserError("errors.models_not" if unknown else "errors.models",
                        models=", ".join(label(n) for n in kind.models), unknown=", ".join(unknown))
    hidden = _capped(hidden, "hidden", "hidden size", notices)
    layers = _capped(layers, "layers", "layers", notices)
    epochs = _capped(epochs, "epochs", "epochs", notices)
    seconds = _capped(seconds, "seconds", "time budget (seconds)", notices, is_whole=False, low=1)
    dropout = finite(dropout, "dropout")
    if not 0 <= dropout < 1:
        raise UserError("errors.dropout")
    lr = finite(lr, "learning rate")
    if lr <= 0:
        raise UserError("errors.lr")
    if lr > CAPS["lr"] or lr < MIN_LR:
        bound = min(max(lr, MIN_LR), CAPS["lr"])
        notices.append(said("notices.lr", lr=f"{lr:g}", low=f"{MIN_LR:g}", high=f"{CAPS['lr']:g}", used=f"{bound:g}"))
        lr = bound
    seed = whole(random_seed(seed, notices), "random seed") % 2**31
    images, text = kind.inputs(images, text if isinstance(text, str) else "", notices)
    return Settings(kind.name, names, hidden, layers, dropout, lr, epochs, seconds, text, images, seed), notices


def hotel_text(data_dir=None, characters: int = HOTEL_CHARACTERS) -> str:
    """The default corpus: the start of the hotel reviews' training text (the data folder or the download)."""
    train, _ = textgen.split_reviews(data.hotel_reviews(data.data_dir(data_dir)))
    return textgen.corpus(train)[:characters]


def read_upload(path, limit_bytes: int = 4 * CAPS["characters"]) -> str:
    """A user's uploaded text file as a string, or a UserError saying what is wrong with it."""
    from pathlib import Path

    if not path:
        raise UserError("errors.no_upload")
    path = Path(path)
    if not path.is_file():
        raise UserError("errors.no_file", path=path.name)
    size = path.stat().st_size
    if size == 0:
        raise UserError("errors.empty_file", name=path.name)
    with open(path, "rb") as f:
        raw = f.read(limit_bytes + 4)
    if b"\0" in raw[:4096]:
        raise UserError("errors.not_text", name=path.name)
    try:
        text = raw[:limit_bytes].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < limit_bytes - 4:                       # not just a character cut at the limit
            raise UserError("errors.not_utf8", name=path.name) from None
        text = raw[:exc.start].decode("utf-8")
    return text


# --- training, one model after another in a worker thread ---------------------------------------

def prepare(s: Settings, data_dir=None) -> dict:
    """The data every model of the run shares."""
    return KINDS[s.task].prepare(s, data_dir)


def _fit(s: Settings, name: str, prepared: dict, hooks: dict):
    kind = KINDS[s.task]
    cfg = TrainConfig(epochs=s.epochs, batch_size=kind.batch_size, lr=s.lr, weight_decay=1e-4, clip=1.0, seed=s.seed,
                      precision=devices.precision(s.precision, torch.device("cpu")))
    return kind.fit(name, kind.config(s, name, prepared), prepared, cfg, hooks)


def _work(s: Settings, prepared: dict, events: queue.Queue, stop: threading.Event) -> None:
    """The worker thread: each model for its epochs or its share of the time budget, events on the queue."""
    torch.set_num_threads(1)                 # the inference tabs keep the other core …
    try:                                     # … and, on Linux, first call on both: the trainer runs at low priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (AttributeError, OSError):
        pass
    share = s.seconds / len(s.models)
    try:
        for name in s.models:
            deadline = time.monotonic() + share
            last, updates = [0.0], [0]

            def callback(info, name=name):
                if info.get("epoch_done"):
                    events.put(("epoch", name, info))
                    return
                updates[0] += 1                      # optimiser steps so far, over all epochs
                if time.monotonic() - last[0] > UPDATE_EVERY / 4:
                    last[0] = time.monotonic()
                    events.put(("step", name, {**info, "updates": updates[0]}))

            events.put(("start", name, None))
            torch.manual_seed(s.seed)
            model, result = _fit(s, name, prepared, {"callback": callback, "device": None, "stop":
                                                      lambda d=deadline: stop.is_set() or time.monotonic() > d})
            events.put(("model", name, (model, result, stop.is_set())))      # whether Stop ended it, as it ended
            if stop.is_set():
                break
    except Exception as exc:                 # a bad setting the checks did not foresee: say it, never crash
        events.put(("error", None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"))
    finally:
        events.put(("end", None, None))


class _Progress:
    """The run as the updates show it: each model's latest state and the epochs it finished."""

    def __init__(self, s: Settings, notices: list[str] | None, stop: threading.Event):
        self.s, self.notices, self.stop, self.start = s, list(notices or []), stop, time.monotonic()
        self.state = {n: {"epoch": 0, "step": 0, "updates": 0, "loss": None, "status": "waiting"} for n in s.models}
        self.histories = {n: [] for n in s.models}

    def apply(self, kind: str, name: str, info, keep: dict | None) -> None:
        state = self.state.get(name)
        if kind == "start":
            state["status"] = "training"
        elif kind == "step":
            state.update(epoch=info["epoch"], step=info["step"], updates=info["updates"], loss=round(info["loss"], 5))
        elif kind == "epoch":
            row = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in info.items() if k != "epoch_done"}
            self.histories[name].append(row)
            state.update({k: v for k, v in row.items() if k.startswith(("val_", "train_"))}, epoch=row["epoch"])
        elif kind == "model":                # done: all its epochs; else Stop or its share of the time ended it
            model, result, stopped = info
            ended = "done" if len(result.history) == self.s.epochs else "stopped" if stopped else "out_of_time"
            state.update(status=ended, parameters=count_parameters(model), seconds=result.seconds,
                         best_epoch=result.best_epoch, epochs_run=len(result.history))
            if keep is not None:
                keep[name] = model.eval()

    def update(self, done: bool = False, error: str | None = None) -> dict:
        s, elapsed = self.s, time.monotonic() - self.start
        finished = done and not self.stop.is_set()         # a run that was stopped shows how far its time went
        if done:                                 # what a Stop or an error left waiting never started; the one
            for state in self.state.values():    # an error ended while it trained failed
                state["status"] = {"waiting": "not_started", "training": "failed"}.get(state["status"], state["status"])
        settings = asdict(s)
        del settings["text"]                    # the updates carry the settings, not the user's text
        out = {"done": done, "task": s.task, "settings": settings,
               "notices": list(self.notices), "elapsed": round(elapsed, 1), "metric": KINDS[s.task].metric,
               "progress": 1.0 if finished else round(min(1.0, elapsed / max(s.seconds, 1e-9)), 3),
               "models": {n: dict(self.state[n]) for n in s.models}}
        if error:
            out["error"] = error
        for n in s.models:                      # the epochs finished so far (a few rows)
            out["models"][n]["history"] = list(self.histories[n])
        if done:
            out["stopped"] = self.stop.is_set()
        return out


def train(s: Settings, notices: list[str] | None = None, stop: threading.Event | None = None,
          keep: dict | None = None, data_dir=None):
    """Train the models of `s`, one after another, each for its epochs or its share of the time budget;
    yield updates as they learn. `stop` ends the run early; `keep`, if given, receives the trained models
    (and the vocabulary, for text) — the updates themselves stay JSON."""
    stop = stop or threading.Event()
    prepared = prepare(s, data_dir)
    events: queue.Queue = queue.Queue()
    progress = _Progress(s, notices, stop)
    worker = threading.Thread(target=_work, args=(s, prepared, events, stop), name="seqcompare-live-training",
                              daemon=True)
    worker.start()
    error, last_sent = None, 0.0
    try:
        while True:
            try:
                kind, name, info = events.get(timeout=0.25)
            except queue.Empty:
                kind = name = info = None
            if kind == "end":
                break
            if kind == "error":
                error = info
            elif kind is not None:
                progress.apply(kind, name, info, keep)
            if kind in ("epoch", "model") or time.monotonic() - last_sent >= UPDATE_EVERY:
                last_sent = time.monotonic()
                yield progress.update()
        if keep is not None and "vocab" in prepared:
            keep["vocab"] = prepared["vocab"]
        yield progress.update(done=True, error=error)
    finally:                                      # the client went away or pressed Stop: end the worker too
        stop.set()
        worker.join(timeout=30)


def curves_csv(final: dict) -> str:
    """Every model's per-epoch history as CSV (model, epoch, then each metric)."""
    rows = [(name, row) for name, m in final["models"].items() for row in m.get("history", [])]
    keys = sorted({k for _, row in rows for k in row if k != "epoch"})
    lines = [",".join(["model", "epoch", *keys])]
    lines += [",".join([name, str(row["epoch"]), *(f"{row[k]}" if k in row else "" for k in keys)]) for name, row in rows]
    return "\n".join(lines) + "\n"


@torch.inference_mode()
def classify(models: dict, image) -> dict:
    """The freshly trained digit models' answers for a drawing: {name: {label, confidence}}."""
    x = digits.normalize(digits.to_mnist(image))[None]
    out = {}
    for name, model in models.items():
        probs = model(x)[0].softmax(-1)
        out[name] = {"label": int(probs.argmax()), "confidence": round(float(probs.max()), 4),
                     "probabilities": [round(float(p), 4) for p in probs]}
    return out


def generate(models: dict, vocab, seed: str, length: int = 120, temperature: float = 0.8, random_seed: int = 0) -> dict:
    """The freshly trained text models' continuations of `seed`, read as the shipped models read it (one line,
    its last textgen.MAX_SEED characters: `textgen.clean_seed`)."""
    length, temperature, top_k, top_p, _, _ = textgen.check_settings(length, temperature, 0)
    seed, _ = textgen.clean_seed(seed)
    return {name: seed + textgen.sample(model, vocab, seed, length, temperature, top_k,
                                        torch.Generator().manual_seed(random_seed), stop_at_end=False, top_p=top_p)
            for name, model in models.items()}
