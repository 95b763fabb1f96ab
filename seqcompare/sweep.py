"""Hyperparameter studies with Optuna: the tutorial's one-factor-at-a-time study, or a full grid.

Every trial trains one model (RNN, LSTM or GRU) with one setting of the factors (hidden size, layers,
dropout) through the task's own training code, and keeps its per-epoch history, validation and test
metrics, parameter count and seconds as the trial's user attributes — so the study's storage (SQLite by
default; any database URL lets several machines work on one study) holds everything, and a study run
again runs only the trials not done yet.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqcompare import CELLS, UserError, checkpoints, data, metrics, tasks
from seqcompare.training import settings as run_settings

FACTORS = {"hidden": int, "layers": int, "dropout": float}
ARCH_KEYS = {"hidden": "hidden_size", "layers": "num_layers", "dropout": "dropout"}


@dataclass(frozen=True)
class Study:
    """One task's study: the shipped recipe's values (the baseline), the tutorial's changes around it (it
    tuned its LSTM from hidden 256, two layers and dropout 0.5 to hidden 128, one layer and dropout 0.1),
    and how a trial trains and scores a model of the task."""

    baseline: dict
    changes: dict
    test_items: int                  # test items scored per trial (evenly spaced)
    average: str                     # the precision/recall/F1 average
    one_recipe: bool                 # the task's module has one RECIPE and ARCH for every cell (else RECIPES)
    prepare: dict                    # extra arguments of the module's prepare


STUDIES = {"imdb": Study({"hidden": 128, "layers": 1, "dropout": 0.4}, {"hidden": 256, "layers": 2, "dropout": 0.1},
                         5000, "binary", True, {"cache": True}),    # word2vec once, cached on disk
           "mnist": Study({"hidden": 128, "layers": 2, "dropout": 0.1}, {"hidden": 256, "layers": 1, "dropout": 0.5},
                          10000, "macro", False, {})}
TASKS = tuple(STUDIES)


def parse_grid(items: list[str] | None) -> dict[str, list]:
    """["hidden=128,256", "layers=1,2"] → {"hidden": [128, 256], "layers": [1, 2]}, checked."""
    grid = {}
    for item in items or []:
        name, _, values = item.partition("=")
        name = name.strip().lower()
        if name not in FACTORS or not values.strip():
            raise UserError(f"--grid takes FACTOR=V1,V2,… with FACTOR one of {', '.join(FACTORS)}, not {item!r}")
        try:
            parsed = [FACTORS[name](v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise UserError(f"--grid {item!r}: {name} takes {'whole numbers' if FACTORS[name] is int else 'numbers'}") from None
        bad = [v for v in parsed if (v < 1 if FACTORS[name] is int else not 0 <= v < 1)]
        if bad or not parsed:
            raise UserError(f"--grid {item!r}: {name} must be {'at least 1' if FACTORS[name] is int else 'from 0 to below 1'}")
        if name == "hidden" and max(parsed) > 1024 or name == "layers" and max(parsed) > 4:
            raise UserError(f"--grid {item!r}: at most hidden 1024 and 4 layers")
        grid[name] = sorted(set(parsed))
    return grid


def settings_for(task: str, grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's factors (the others at the baseline); without a grid, the
    baseline and one change of each factor."""
    base = STUDIES[task].baseline
    if grid:
        names = list(grid)
        return [{**base, **dict(zip(names, combo))} for combo in itertools.product(*grid.values())]
    return [dict(base)] + [{**base, name: value} for name, value in STUDIES[task].changes.items()]


class Trainer:
    """Trains one model of a task for one setting, on data prepared once for the whole study."""

    def __init__(self, task: str, data_dir, epochs: int, limit: int | None, device=None, precision=None):
        self.study, self.epochs, self.device, self.precision = STUDIES[task], epochs, device, precision
        self.module = tasks.get(task).code
        self.prepared = self.module.prepare(data_dir, limit, **self.study.prepare)
        items, labels = self.prepared["test"]
        n = len(labels)
        pick = np.linspace(0, n - 1, min(n, self.study.test_items)).round().astype(int)
        take = (lambda xs: xs[pick]) if hasattr(items, "shape") else (lambda xs: [xs[i] for i in pick])
        self.test = (take(items), take(labels))

    def __call__(self, name: str, params: dict) -> dict:
        from seqcompare.models import count_parameters

        arch = {ARCH_KEYS[k]: v for k, v in params.items()}
        t0 = time.perf_counter()
        m, one = self.module, self.study.one_recipe
        cfg = run_settings(m.RECIPE if one else m.RECIPES[name], self.epochs, self.device, self.precision)
        model, result = m.fit_model(name, self.prepared, cfg, {**m.ARCH, **arch} if one else {"cell": name, **arch},
                                    device=self.device)
        test = metrics.classification(np.asarray(self.test[1]), m.predict_labels(model, self.test[0]), m.LABELS,
                                      self.study.average)
        best = result.history[result.best_epoch - 1]
        return {"model": name, "params": params, "history": result.history,
                "metrics": {"val_accuracy": best["val_accuracy"], "val_loss": best["val_loss"],
                            "best_epoch": result.best_epoch, "test_accuracy": test["accuracy"],
                            "test_f1": test["f1"], "test_n": test["n"]},
                "parameters": count_parameters(model), "seconds": round(time.perf_counter() - t0, 1),
                "precision": cfg.precision}


def study_name(task: str, models, grid_settings: list[dict], epochs: int, limit: int | None) -> str:
    """A study per design: the same command finds its study again; another design gets a new one."""
    key = json.dumps([task, list(models), grid_settings, epochs, limit], sort_keys=True)
    return f"seqcompare-{task}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def default_storage(task: str) -> str:
    data.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data.CACHE_DIR / f'sweep-{task}.db'}"


def retry_failed(study, done: set) -> int:
    """Queue once more every grid point whose last trial failed (an interrupted run: Ctrl-C marks its trial
    failed) and that no trial has completed or is running or waiting for. GridSampler counts a failed
    point as visited, so without this a resumed study would repeat a finished point instead. The retry
    keeps the failed trial's grid point, as Optuna's RetryFailedTrialCallback does. Returns how many."""
    import optuna

    TrialState = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    pending = {(t.params.get("model"), t.params.get("setting")) for t in trials
               if t.state in (TrialState.RUNNING, TrialState.WAITING)}
    retried = 0
    for t in reversed(trials):
        key = (t.params.get("model"), t.params.get("setting"))
        if t.state != TrialState.FAIL or None in key or key in done or key in pending:
            continue
        study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, params=t.params,
                                                  distributions=t.distributions,
                                                  system_attrs={**t.system_attrs, "failed_trial": t.number}))
        pending.add(key)
        retried += 1
    return retried


def run(task: str, models=CELLS, grid: dict | None = None, epochs: int = 2, limit: int | None = None,
        storage: str | None = None, data_dir=None, device=None, trainer=None, precision: str | None = None) -> dict:
    """Run the study's missing trials and return every finished one: {"trials": [...], …}."""
    import optuna

    if task not in TASKS:
        raise UserError(f"sweep runs on {', '.join(TASKS)}, not {task!r}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid_settings = settings_for(task, grid or {})
    space = {"model": list(models), "setting": list(range(len(grid_settings)))}
    try:
        study = optuna.create_study(study_name=study_name(task, models, grid_settings, epochs, limit),
                                    storage=storage or default_storage(task), load_if_exists=True,
                                    direction="maximize", sampler=optuna.samplers.GridSampler(space, seed=0))
    except (ValueError, ImportError, optuna.exceptions.OptunaError) as exc:
        raise UserError(f"cannot open the study storage {storage!r} ({str(exc).splitlines()[0][:120]})") from None
    done = {(t.params["model"], t.params["setting"]) for t in study.trials
            if t.state == optuna.trial.TrialState.COMPLETE}
    retried = retry_failed(study, done)
    todo = len(models) * len(grid_settings) - len(done)
    print(f"{task} study {study.study_name}: {len(grid_settings)} settings × {len(models)} models, "
          f"{len(done)} trials done, {todo} to run ({epochs} epochs each"
          + (f"; {retried} interrupted before, run again" if retried else "") + ")", flush=True)
    if todo > 0:           # GridSampler would start a duplicate trial on a finished grid: only run what is left
        trainer = trainer or Trainer(task, data_dir, epochs, limit, device, precision)

        def objective(trial):
            name = trial.suggest_categorical("model", space["model"])
            params = grid_settings[trial.suggest_categorical("setting", space["setting"])]
            record = trainer(name, params)
            trial.set_user_attr("record", record)
            print(f"trial {trial.number}: {name} {params} → validation accuracy "
                  f"{record['metrics']['val_accuracy']:.4f}, test {record['metrics']['test_accuracy']:.4f} "
                  f"({record['seconds']:.0f}s)", flush=True)
            return record["metrics"]["val_accuracy"]

        study.optimize(objective, n_trials=todo)
    trials = [t.user_attrs["record"] for t in study.trials
              if t.state == optuna.trial.TrialState.COMPLETE and "record" in t.user_attrs]
    trials.sort(key=lambda r: (grid_settings.index(r["params"]) if r["params"] in grid_settings else math.inf,
                               list(models).index(r["model"]) if r["model"] in models else math.inf))
    return {"task": task, "study": study.study_name, "epochs": epochs, "limit": limit,
            "baseline": STUDIES[task].baseline, "design": "grid" if grid else "one factor at a time",
            "test_items": STUDIES[task].test_items, "trials": trials}


STUDY_FILE = "study.json"          # a task's shipped study, beside its checkpoints


def save(result: dict, path: Path) -> None:
    checkpoints.write_json(Path(path), result)


def load(path: Path) -> dict | None:
    """A saved study, or None when there is none; CheckpointError when the file cannot be read."""
    return checkpoints.read_json(Path(path)) if Path(path).is_file() else None
