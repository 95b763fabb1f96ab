"""`train TASK --jobs N`: one child process per model, N at a time, each on one torch thread.

Each child is `python -m seqcompare train TASK --models NAME --threads 1 --out OUT` with the run's other
options; the longest models start first (by the training seconds of the checkpoints already in OUT, else
the shipped ones, else in the given order). Each child's lines are echoed with its name, and the run's
wall time and each model's own training time are written to OUT/training_run.json.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from seqcompare import UserError, checkpoints

PASSED = ("epochs", "limit", "device", "precision", "data_dir")      # the options every child gets as they were given


def longest_first(models, folders: list[Path]) -> list[str]:
    """The models by their training seconds in the first folder that records them, longest first."""
    def cost(name):
        for folder in folders:
            try:
                return -float(checkpoints.read_json(folder / f"{name}.json")["train_seconds"])
            except Exception:                   # none or unreadable: the next folder, at last the given order
                continue
        return 0.0

    return sorted(models, key=cost)


def child(task: str, name: str, out: Path, options: dict, lock: threading.Lock) -> None:
    """Train one model in its own process, echoing its lines; UserError with its last line if it fails."""
    passed = [f"--{k.replace('_', '-')}={v}" for k, v in options.items() if k in PASSED and v is not None]
    cmd = [sys.executable, "-m", "seqcompare", "train", task, "--models", name, "--threads", "1",
           "--out", str(out), *passed]
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"}     # epoch lines, no progress bars
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            with lock:
                print(f"[{name}] {line}", end="", flush=True)
    if proc.returncode:
        raise UserError(lines[-1].strip().removeprefix("seqcompare: error: ") if lines else f"exit {proc.returncode}")


def train(task: str, models, out: Path, jobs: int, options: dict, shipped: Path) -> None:
    """Train `models` of `task` into `out`, `jobs` processes at a time (see the module's note)."""
    from seqcompare import data, devices

    if devices.world_size() > 1:
        raise UserError("--jobs starts its own processes: run it without torchrun")
    data.data_dir(options.get("data_dir"))      # a missing data folder: one message, before any process starts
    order = longest_first(models, [out, shipped])
    lock = threading.Lock()
    start = time.perf_counter()
    print(f"training {', '.join(order)}: {min(jobs, len(order))} at a time, one torch thread each")
    with ThreadPoolExecutor(jobs) as pool:
        futures = {name: pool.submit(child, task, name, out, options, lock) for name in order}
    failed = {}                                  # reason → the models that stopped for it
    for name, future in futures.items():
        if future.exception():
            failed.setdefault(str(future.exception()), []).append(name)
    if failed:
        raise UserError("; ".join(f"training {', '.join(names)} failed: {why}" for why, names in failed.items()))
    wall = time.perf_counter() - start
    seconds = {name: checkpoints.read_json(out / f"{name}.json")["train_seconds"] for name in order}
    checkpoints.write_json(out / "training_run.json", {"models": order, "jobs": jobs, "threads": 1,
                                                       "wall_seconds": round(wall, 1), "epochs": options.get("epochs"),
                                                       "limit": options.get("limit"), "train_seconds": seconds})
    print(f"trained {', '.join(order)} in {wall / 60:.1f} min of wall time ({out / 'training_run.json'})")
