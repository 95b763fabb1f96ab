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

from seqcompare import UserError


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
class Task:
    name: str                       # the command line's name, and the checkpoint folder's
    aliases: tuple[str, ...]        # other names a command or a client may use
    module: str                     # its module: MODELS, build, train, evaluate and the bank class
    bank_class: str                 # its models as the app loads them
    bench_name: str                 # its key in bench.json (and `bench --tasks`)
    bench: Ref                      # (folder, runs) → one request's latency per model
    unit: str                       # what a distance counts in the memory curves
    memory_samples: int             # targets per memory curve, by default
    memory_batch: int               # targets per backward pass
    memory_batches: Ref             # (data_dir, bank, samples, batch) → [(inputs, lengths, targets)]
    influence: Ref                  # (model, batch) → influence norms (B, T)
    explain: Ref                    # `explain`: (folder, inputs) → (result, JSON, input labels)
    predict: Ref | None = None      # `predict`: (folder, inputs, as_json) → prints, UserError if none answers
    evaluate_flags: tuple[str, ...] = ()     # `evaluate` options only this task takes
    gates: Ref | None = None        # `gates`: (bank, input) → (what was read, step labels, model → layer-0 input)

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


MNIST = Task("mnist", ("digits",), "digits", "DigitModels", "digits", Ref("bench", "bench_digits"),
             "rows", 10000, 250, Ref("influence", "digit_targets"), Ref("influence", "digit_norms"),
             Ref("output", "explain_digit"), Ref("output", "predict_digits"),
             gates=Ref("gates", "digit_steps"))
IMDB = Task("imdb", ("reviews", "review"), "reviews", "ReviewModels", "reviews",
            Ref("bench", "bench_reviews"), "tokens", 2000, 16, Ref("influence", "review_targets"),
            Ref("influence", "review_norms"), Ref("output", "explain_review"), Ref("output", "predict_reviews"),
            evaluate_flags=("short",), gates=Ref("gates", "review_steps"))
HOTEL = Task("hotel", ("textgen", "text"), "textgen", "TextModels", "textgen",
             Ref("bench", "bench_textgen"), "characters", 1000, 32, Ref("influence", "text_targets"),
             Ref("influence", "text_norms"), Ref("output", "explain_text"), gates=Ref("gates", "text_steps"))

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
