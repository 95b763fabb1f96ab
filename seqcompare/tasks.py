"""The three tasks, one description each: MNIST digits, IMDb reviews and hotel-review text.

Commands, the benchmark, the memory measure, the sweep and the dashboard look a task up here by its name
or an alias (`get("digits")` is MNIST) instead of comparing strings. The registry itself is cheap to
import: each task's code (its module, its bank of models, its bench, its command-line output) is named
here and imported on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from seqcompare import CELLS, UserError


@dataclass(frozen=True)
class Ref:
    """A function (or object) of a seqcompare module, imported when it is first used."""

    module: str
    name: str

    def get(self):
        return getattr(importlib.import_module(f"seqcompare.{self.module}"), self.name)

    def __call__(self, *args, **kwargs):
        return self.get()(*args, **kwargs)


@dataclass(frozen=True)
class Card:
    """What a task's model card on the Hub says beside the measured figures (`publish`)."""

    title: str
    dataset: str                    # the Hub data set
    pipeline: str                   # the Hub's task tag
    data: str                       # how the data set is split
    use: str                        # intended use
    limits: str                     # limitations
    shared: str | None = None       # the file every model of the task reads (tokenizer, vocabulary)


@dataclass(frozen=True)
class Task:
    name: str                       # the command line's name, and the checkpoint folder's
    aliases: tuple[str, ...]        # other names a command or a client may use
    title: str                      # its name in the README (the tabs name it in the reader's language)
    module: str                     # its module: MODELS, build, train, evaluate and the bank class
    bank_class: str                 # its models as the app loads them
    ordered: tuple[str, ...]        # its models that read their input in an order (influence, memory)
    metric: str                     # the headline figure in each checkpoint JSON: "accuracy" or "bpc" …
    split: str                      # … of this part of it: "test" or "validation"
    bench_name: str                 # its key in bench.json (and `bench --tasks`)
    bench: Ref                      # (folder, runs) → one request's latency per model
    unit: str                       # what a distance counts in the memory curves
    memory_targets: str             # what the memory curves' targets are
    memory_samples: int             # targets per memory curve, by default
    memory_batch: int               # targets per backward pass
    memory_batches: Ref             # (data_dir, bank, samples, batch) → [(inputs, lengths, targets)]
    influence: Ref                  # (model, batch) → influence norms (B, T)
    influences: Ref                 # (bank, input) → each model's influence of every input (the tab's view, the API)
    explain: Ref                    # `explain`: (folder, inputs) → (result, JSON, input labels)
    gates: Ref                      # `gates`: (bank, input) → (what was read, step labels, model → layer-0 input)
    card: Card
    reads_image: bool = False       # its input is an image (else a text)
    predict: Ref | None = None      # `predict`: (folder, inputs, as_json) → prints, UserError if none answers
    evaluate_flags: tuple[str, ...] = ()     # `evaluate` options only this task takes

    @property
    def code(self):
        """The task's module (imported now, not with the registry)."""
        return importlib.import_module(f"seqcompare.{self.module}")

    @property
    def models(self) -> tuple[str, ...]:
        return self.code.MODELS

    def folder(self, root: Path) -> Path:
        return Path(root) / self.name

    def bank(self, folder: Path, **kwargs):
        """Every model of the task from `folder`, as the app loads them (errors recorded per model)."""
        return getattr(self.code, self.bank_class)(folder, **kwargs)

    def build(self, name: str, config: dict | None = None):
        return self.code.build(name, config)

    def train(self, models, data_dir, out: Path, **kwargs) -> None:
        self.code.train(models, data_dir, out, **kwargs)

    def evaluate(self, folder: Path, data_dir, **kwargs) -> dict:
        return self.code.evaluate(folder, data_dir, **kwargs)


MNIST = Task(
    "mnist", ("digits",), "Digits", "digits", "DigitModels", ordered=CELLS, metric="accuracy", split="test",
    bench_name="digits", bench=Ref("bench", "bench_digits"), unit="rows", memory_targets="test digits",
    memory_samples=10000, memory_batch=250, memory_batches=Ref("influence", "digit_targets"),
    influence=Ref("influence", "digit_norms"), influences=Ref("influence", "explain_digit"),
    explain=Ref("output", "explain_digit"), gates=Ref("gates", "digit_steps"), predict=Ref("output", "predict_digits"),
    reads_image=True,
    card=Card(
        "MNIST digits read row by row", "ylecun/mnist", "image-classification",
        data="MNIST: 55,000 training images, 5,000 held out for validation (choosing the epoch), the 10,000 test "
             "images for the metrics.",
        use="Classifying centred, MNIST-like handwritten digits (28×28, light on dark, normalised with mean 0.1307, "
            "std 0.3081); comparing how RNN, LSTM, GRU and LeNet-5 learn the same task.",
        limits="Trained on MNIST only: digits that are not centred and scaled as MNIST's are (photos, several "
               "digits, letters) get confident but meaningless answers — the seqcompare app brings a drawing to "
               "MNIST's convention first."))
IMDB = Task(
    "imdb", ("reviews", "review"), "Reviews", "reviews", "ReviewModels", ordered=CELLS, metric="accuracy",
    split="test", bench_name="reviews", bench=Ref("bench", "bench_reviews"), unit="tokens",
    memory_targets="test reviews", memory_samples=2000, memory_batch=16,
    memory_batches=Ref("influence", "review_targets"), influence=Ref("influence", "review_norms"),
    influences=Ref("influence", "explain_review"), explain=Ref("output", "explain_review"),
    gates=Ref("gates", "review_steps"), predict=Ref("output", "predict_reviews"), evaluate_flags=("short",),
    card=Card(
        "IMDb movie-review sentiment", "stanfordnlp/imdb", "text-classification", shared="tokenizer.json",
        data="IMDb: 22,500 training reviews, 2,500 held out for validation (blocks of consecutive ids, so that most "
             "films sit on one side), the 25,000 test reviews for the metrics.",
        use="Classifying English movie reviews as positive or negative, word by word (the answer after each word is "
            "what the model would say if the review stopped there); teaching how the three recurrent cells differ.",
        limits="English IMDb movie reviews only; negation is weak (\"Not bad.\" reads as negative) and sarcasm is "
               "not understood. Text beyond 1,000 tokens is not read. Not for decisions about people."))
HOTEL = Task(
    "hotel", ("textgen", "text"), "Text generation", "textgen", "TextModels", ordered=(*CELLS, "transformer"),
    metric="bpc", split="validation", bench_name="textgen", bench=Ref("bench", "bench_textgen"), unit="characters",
    memory_targets="validation characters", memory_samples=1000, memory_batch=32,
    memory_batches=Ref("influence", "text_targets"), influence=Ref("influence", "text_norms"),
    influences=Ref("influence", "explain_text"), explain=Ref("output", "explain_text"),
    gates=Ref("gates", "text_steps"),
    card=Card(
        "Chinese hotel reviews, character language models", "dirtycomputer/ChnSentiCorp_htl_all", "text-generation",
        shared="vocab.json",
        data="ChnSentiCorp hotel reviews: rows whose index % 10 == 9 are the validation reviews, the rest the "
             "training text; every review ends with a newline.",
        use="Generating Chinese hotel-review-like text from a seed, and comparing how far back RNN, LSTM, GRU and a "
            "small Transformer use their context.",
        limits="Small character models: the text is fluent locally but invents facts, and reflects the opinions "
               "and biases of the reviews it was trained on. Not for anything that must be true."))

TASKS = {task.name: task for task in (MNIST, IMDB, HOTEL)}
NAMES = tuple(TASKS)
_BY_ANY_NAME = {name: task for task in TASKS.values() for name in (task.name, *task.aliases)}
BENCH = {task.bench_name: task for task in TASKS.values()}


def get(name: str) -> Task:
    """The task called `name` (or one of its aliases), or a UserError listing the tasks."""
    task = _BY_ANY_NAME.get(str(name).strip().lower())
    if task is None:
        raise UserError(f"unknown task {name!r}; choose from {', '.join(NAMES)}")
    return task


def taking(flag: str) -> list[str]:
    """The tasks whose `evaluate` takes `flag`."""
    return [task.name for task in TASKS.values() if flag in task.evaluate_flags]
