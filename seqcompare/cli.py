"""Command line: train, evaluate, predict, generate, bench and report; errors are one line, exit 2."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from seqcompare import UserError, checkpoints, output, precision, tasks
from seqcompare.checkpoints import CHECKPOINTS


def model_list(text: str | None, task: str) -> tuple[str, ...]:
    known = tasks.get(task).models
    if not text:
        return known
    names = tuple(n.strip().lower() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in known]
    if not names:
        raise UserError(f"--models names no model; choose from {','.join(known)}")
    if unknown:
        raise UserError(f"unknown model {', '.join(unknown)} for {task}; choose from {','.join(known)}")
    return names


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


# --- the parser, one function per command ---------------------------------------------------------

def device_arg(sp) -> None:
    sp.add_argument("--device", default=None, help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda or mps "
                                                   "(default: $SEQCOMPARE_DEVICE, else auto)")


def training_precision_arg(sp) -> None:
    sp.add_argument("--precision", default="auto", metavar="{auto,fp32,bf16}",
                    help="training precision: auto (bfloat16 autocast on CUDA and on a CPU with AVX512-BF16 or AMX, "
                         "else fp32), fp32, or bf16 (refused on a CPU without native bfloat16); the weights, the loss and the "
                         "optimiser stay float32")


def data_arg(sp) -> None:
    sp.add_argument("--data-dir", help="local data folder (default: $SEQCOMPARE_DATA, else download)")


def folder_arg(sp, task_default: bool = False) -> None:
    sp.add_argument("--checkpoints", type=Path,
                    help="checkpoint folder (default: checkpoints/TASK)" if task_default else "checkpoint folder")


def json_arg(sp, what: str = "print one JSON object") -> None:
    sp.add_argument("--json", action="store_true", help=what)


def task_command(sub, name: str, what: str) -> argparse.ArgumentParser:
    """A subcommand whose first argument is the task."""
    sp = sub.add_parser(name, help=what)
    sp.add_argument("task", choices=tasks.NAMES)
    return sp


def train_parser(sub) -> None:
    t = task_command(sub, "train", "train models and write their checkpoints")
    t.add_argument("--models", help="comma-separated subset, e.g. rnn,lstm")
    t.add_argument("--epochs", type=positive_int, help="override the recipe's number of epochs")
    t.add_argument("--limit", type=positive_int, help="smoke runs: mnist, the first N images of each split; imdb, N "
                                                      "reviews spread evenly over each (the test slice is the one "
                                                      "evaluate --limit N scores); hotel, the first N reviews")
    t.add_argument("--out", type=Path, help="checkpoint folder (default: checkpoints/TASK)")
    t.add_argument("--threads", type=positive_int, help="torch threads (1 lets two trainings share 2 cores)")
    t.add_argument("--jobs", type=positive_int, default=1,
                   help="train up to N models at once, each in its own process on one torch thread, the longest "
                        "first (2 on a 2-core CPU)")
    device_arg(t)
    training_precision_arg(t)
    data_arg(t)


def evaluate_parser(sub) -> None:
    e = task_command(sub, "evaluate", "recompute test metrics from the checkpoints")
    e.add_argument("--models", help="comma-separated subset")
    e.add_argument("--limit", type=positive_int,
                   help="score only N test examples (mnist: the first N; imdb: N spread evenly over both labels; "
                        "hotel: the first N validation reviews)")
    folder_arg(e, task_default=True)
    json_arg(e)
    device_arg(e)
    precision.add_argument(e)
    e.add_argument("--short", action="store_true",
                   help="imdb: score the 40 one-sentence reviews written for the project instead of the test set")
    data_arg(e)


def predict_parser(sub) -> None:
    pr = sub.add_parser("predict", help="classify digit images or reviews")
    pr.add_argument("kind", choices=list(PREDICT_INPUTS),
                    help="digits (or mnist): image files; review: one review; reviews: --file; imdb: either")
    pr.add_argument("inputs", nargs="*", help="image files (digits, mnist) or the review text (review, imdb)")
    pr.add_argument("--file", help="reviews or imdb: one review per line; - for standard input")
    folder_arg(pr)
    json_arg(pr, "print a JSON list")
    precision.add_argument(pr)


def generate_parser(sub) -> None:
    g = sub.add_parser("generate", help="write hotel-review text from a seed with every model (RNN, LSTM, GRU, Transformer)")
    g.add_argument("seed", nargs="?", default="", help="start of the review (empty: a fresh review)")
    g.add_argument("--length", type=int, default=100, help="characters to write (capped at 500)")
    g.add_argument("--temperature", type=float, default=0.8, help="0 is greedy; higher is more random")
    g.add_argument("--top-k", type=int, default=20, help="sample among the k likeliest characters (0: all)")
    g.add_argument("--seed", dest="random_seed", type=int, default=0, help="random seed")
    g.add_argument("--top-p", type=float, default=1.0,
                   help="nucleus sampling: the smallest set of likeliest characters whose probability reaches P (1: all)")
    g.add_argument("--beams", type=int, default=1, help="beam search with N beams, 1–8 (deterministic; 1: sample)")
    g.add_argument("--models", help="comma-separated subset")
    folder_arg(g)
    json_arg(g)
    precision.add_argument(g)


def bench_parser(sub) -> None:
    b = sub.add_parser("bench", help="measure latency, generation speed, evaluation throughput and cold start")
    b.add_argument("--tasks", default="precision,digits,reviews,textgen,evaluation,coldstart,explain,cells",
                   help="comma-separated: precision (each text model at every serving precision, taking turns: "
                        "auto's table), digits,reviews,textgen,evaluation,coldstart,explain (the memory views), "
                        "cells (the gates and sentiment views), training (20 training steps of each text model in fp32 and in bf16), "
                        "layout (a trial: the text models with column-major weights), "
                        "kernels (the serving plans' products, the GELU and the key/value cache, one at a time), "
                        "compiled (a trial: the text models' fp32 steps under torch.compile; needs a C++ compiler)")
    b.add_argument("--runs", type=positive_int, default=50, help="timed requests per task")
    json_arg(b)
    b.add_argument("--save", action="store_true", help="also write checkpoints/bench.json (the README's table), "
                   "checkpoints/precision.json (precision), and training's and each trial's docs/artifacts/*.json")
    data_arg(b)
    precision.add_argument(b)


def loadtest_parser(sub) -> None:
    lt = sub.add_parser("loadtest", help="concurrent API calls against a running app on this machine")
    lt.add_argument("url", help="e.g. http://127.0.0.1:7860/")
    lt.add_argument("--calls", type=positive_int, default=30, help="calls per endpoint")
    lt.add_argument("--threads", type=positive_int, default=30, help="users calling at once (a thread and a session each)")
    lt.add_argument("--save", action="store_true", help="also write checkpoints/loadtest.json (the README's line)")
    lt.add_argument("--while-training", action="store_true",
                    help="run one live training (train_models) at the same time")


def explain_parser(sub) -> None:
    x = sub.add_parser("explain", help="each model's input influence on one prediction (gradient norms)")
    x.add_argument("kind", choices=["hotel", "review", "digits"])
    x.add_argument("inputs", nargs="*", help="the text (hotel: its last character is explained; review: the "
                                             "answer to the whole review) or one image file (digits)")
    folder_arg(x)
    json_arg(x)


def memory_parser(sub) -> None:
    m = task_command(sub, "memory", "how far back each model looks: influence by distance, trained and untrained")
    m.add_argument("--samples", type=positive_int,
                   help="targets averaged over (default: hotel 1000, imdb 2000, mnist 10000)")
    folder_arg(m, task_default=True)
    json_arg(m)
    m.add_argument("--save", action="store_true", help="also write memory.json in the checkpoint folder (the app's plot)")
    data_arg(m)


def sweep_parser(sub) -> None:
    sw = sub.add_parser("sweep", help="hyperparameter study with Optuna (grid, resumable through its storage)")
    from seqcompare import sweep

    sw.add_argument("task", choices=sweep.TASKS)
    sw.add_argument("--grid", nargs="+", metavar="FACTOR=V1,V2",
                    help="full grid, e.g. hidden=128,256 layers=1,2 dropout=0.1,0.5 (default: the tutorial's "
                         "one-factor-at-a-time study around the shipped recipe)")
    sw.add_argument("--models", help="comma-separated subset of rnn,lstm,gru")
    sw.add_argument("--epochs", type=positive_int, default=2, help="epochs per trial (default 2)")
    sw.add_argument("--limit", type=positive_int, help="use only N examples of each split")
    sw.add_argument("--storage", help="Optuna storage URL (default: SQLite in ~/.cache/seqcompare)")
    sw.add_argument("--out", type=Path, help="results JSON (default: checkpoints/TASK/study.json)")
    sw.add_argument("--threads", type=positive_int, help="torch threads")
    device_arg(sw)
    training_precision_arg(sw)
    data_arg(sw)


def deploy_parser(sub) -> None:
    d = sub.add_parser("deploy", help="create or update a Hugging Face Space with the app (huggingface_hub)")
    d.add_argument("space_id", help="OWNER/NAME of the Space")
    d.add_argument("--private", action="store_true", help="create the Space private")
    d.add_argument("--dry-run", action="store_true", help="list what would be uploaded and its size; no network")


def publish_parser(sub) -> None:
    pb = task_command(sub, "publish", "upload one task's models to a Hugging Face model repository, with a model card")
    pb.add_argument("repo_id", help="OWNER/NAME of the model repository")
    folder_arg(pb, task_default=True)
    pb.add_argument("--private", action="store_true", help="create the repository private")
    pb.add_argument("--dry-run", action="store_true", help="print the model card and the files; no network")


class Parser(argparse.ArgumentParser):
    """argparse, with a refused command line said as every other error is: one line on stderr, exit status 2
    (the command's --help gives its usage)."""

    def error(self, message: str):
        self.exit(2, f"seqcompare: error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m seqcompare", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    from seqcompare import baselines, cells_cli, report, tutorial
    for module in (report, tutorial, baselines, cells_cli):          # each adds its subcommand, with `func` to run it
        module.add_parser(sub)
    return p


# --- the commands ---------------------------------------------------------------------------------

def set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def run_train(args) -> None:
    task, models = tasks.get(args.task), model_list(args.models, args.task)
    out = checkpoints.writable(args.out or task.folder(CHECKPOINTS))
    if args.jobs > 1 and len(models) > 1:
        from seqcompare import parallel

        return parallel.train(task.name, models, out, args.jobs, vars(args), task.folder(CHECKPOINTS))
    set_threads(args.threads)
    from seqcompare import data, devices

    device = devices.resolve(args.device)
    precision = devices.precision(args.precision, device)
    folder = data.data_dir(args.data_dir)
    devices.start(device)                  # under torchrun: join the other processes (gloo on CPU)
    try:
        with contextlib.redirect_stdout(sys.stdout if devices.is_main() else open(os.devnull, "w")):
            task.train(models, folder, out, epochs=args.epochs, limit=args.limit, device=device,
                       precision=precision)
    finally:
        devices.stop()


def run_evaluate(args) -> None:
    from seqcompare import data, devices

    task, models = tasks.get(args.task), model_list(args.models, args.task)
    device = devices.resolve(args.device)
    if args.short and "short" not in task.evaluate_flags:
        raise UserError(f"--short applies to {' and '.join(tasks.taking('short'))} only")
    extra = {"short": True} if args.short else {}
    result = task.evaluate(args.checkpoints or task.folder(CHECKPOINTS),
                           None if args.short else data.data_dir(args.data_dir), limit=args.limit, models=models,
                           device=device, precision=precision.resolve(args.precision), **extra)
    output.evaluation(result, args.json)


def read_lines(name: str) -> list[str]:
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except FileNotFoundError:
        raise UserError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{name} is a folder, not a file") from None
    except OSError as exc:
        raise UserError(f"{name}: cannot read it ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{name} is not UTF-8 text") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise UserError(f"{name} holds no reviews (one review per line)")
    return lines


def image_files(args) -> list[str]:
    if not args.inputs:
        raise UserError("name at least one image file")
    return args.inputs


def one_review(args) -> list[str]:
    if args.file is not None:
        raise UserError("use 'predict reviews --file F' for a file of reviews")
    if not (review := " ".join(args.inputs)).strip():              # said before any model is loaded
        raise UserError("errors.empty_review")
    return [review]


def review_file(args) -> list[str]:
    if not args.file or args.inputs:
        raise UserError("predict reviews takes --file F (one review per line; - for standard input)")
    return read_lines(args.file)


def review_or_file(args) -> list[str]:       # the task's own name takes either
    if (args.file is None) == (not args.inputs):
        raise UserError("give a review or --file F (one review per line; - for standard input)"
                        + (", not both" if args.inputs else ""))
    return one_review(args) if args.file is None else review_file(args)


# kind → its inputs; the task names (mnist, imdb) as other commands take them, beside the kinds of input
PREDICT_INPUTS = {"digits": image_files, "mnist": image_files, "review": one_review, "reviews": review_file,
                  "imdb": review_or_file}


def run_predict(args) -> None:
    task, inputs = tasks.get(args.kind), PREDICT_INPUTS[args.kind](args)
    task.predict(args.checkpoints or task.folder(CHECKPOINTS), inputs, args.json, precision.resolve(args.precision))


def run_generate(args) -> None:
    task = tasks.get("hotel")
    bank = task.bank(args.checkpoints or task.folder(CHECKPOINTS), names=model_list(args.models, task.name),
                     precision=precision.resolve(args.precision))
    if not bank.models:
        raise checkpoints.none_loaded(bank.errors, "text")
    output.generation(bank.generate(args.seed, args.length, args.temperature, args.top_k, args.random_seed,
                                    args.top_p, args.beams), args.json)


def run_explain(args) -> None:
    task = tasks.get(args.kind)
    output.explained(*task.explain(args.checkpoints or task.folder(CHECKPOINTS), args.inputs), args.json)


def run_memory(args) -> None:
    from seqcompare import data, influence

    folder = args.checkpoints or tasks.get(args.task).folder(CHECKPOINTS)
    if args.save:
        checkpoints.writable(folder, create=False)
    result = influence.memory(args.task, folder, data.data_dir(args.data_dir), args.samples,
                              progress=None if args.json else influence.stderr_progress)
    if args.save:
        print(f"wrote {influence.save_memory(folder, result)}", file=sys.stderr)
    output.memory(args.task, result, args.json)


def run_bench(args) -> None:
    from seqcompare import bench, data

    names = [t.strip() for t in args.tasks.split(",") if t.strip()]
    known = [*tasks.BENCH, *bench.EXTRA]
    unknown = [t for t in names if t not in known]
    if unknown or not names:
        raise UserError(f"unknown bench task {', '.join(unknown) or args.tasks}; choose from {','.join(known)}")
    setting = precision.resolve(args.precision)
    if args.save:                          # bench.json beside the checkpoints, the trials' artifacts in docs
        checkpoints.writable(CHECKPOINTS)
        checkpoints.writable(CHECKPOINTS.parent / bench.ARTIFACTS, create=False)
    result = bench.run(CHECKPOINTS, names, args.runs, data.data_dir(args.data_dir) if bench.NEEDS_DATA & {*names}
                       else None, setting, save=args.save)
    output.bench(result, names, args.json)


def run_loadtest(args) -> None:
    import json

    from seqcompare import loadtest
    from seqcompare.machine import machine

    if args.save:
        checkpoints.writable(CHECKPOINTS)
    result = loadtest.run(args.url, args.calls, args.threads, while_training=args.while_training)
    if args.save:
        name = "loadtest_training.json" if args.while_training else "loadtest.json"
        checkpoints.write_json(CHECKPOINTS / name, {"machine": machine(threads=False), **result})
    print(json.dumps(result))


def run_sweep(args) -> None:
    from seqcompare import data, devices, sweep

    set_threads(args.threads)
    models = tuple(n for n in model_list(args.models, args.task) if n in sweep.CELLS)
    if not models:
        raise UserError("sweep compares rnn, lstm and gru")
    device = devices.resolve(args.device)
    out = checkpoints.writable_file(args.out or tasks.get(args.task).folder(CHECKPOINTS) / sweep.STUDY_FILE)
    result = sweep.run(args.task, models, sweep.parse_grid(args.grid), args.epochs, args.limit, args.storage,
                       data.data_dir(args.data_dir), device, precision=devices.precision(args.precision, device))
    sweep.save(result, out)
    print(f"{out}: {len(result['trials'])} trials")


def run_publish(args) -> None:
    from seqcompare import deploy, publish

    folder = args.checkpoints or tasks.get(args.task).folder(CHECKPOINTS)
    if args.dry_run:
        text = publish.card(args.task, folder)
        print(text)
        print(deploy.listing([("README.md", len(text.encode())), *publish.files(args.task, folder)]))
        return
    print(f"published: {publish.publish(args.task, args.repo_id, folder, args.private)}")


def run_deploy(args) -> None:
    from seqcompare import deploy

    if args.dry_run:
        print(deploy.listing(deploy.files()))
        return
    print(f"deployed: {deploy.deploy(args.space_id, args.private)}")


COMMANDS = {"train": (train_parser, run_train), "evaluate": (evaluate_parser, run_evaluate),
            "predict": (predict_parser, run_predict), "generate": (generate_parser, run_generate),
            "bench": (bench_parser, run_bench), "loadtest": (loadtest_parser, run_loadtest),
            "explain": (explain_parser, run_explain), "memory": (memory_parser, run_memory),
            "sweep": (sweep_parser, run_sweep), "deploy": (deploy_parser, run_deploy),
            "publish": (publish_parser, run_publish)}
ONE_THREAD = ("predict", "generate", "bench", "explain", "memory")   # single requests: faster on one thread


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in ONE_THREAD:
        import torch

        torch.set_num_threads(1)          # as in the app
    try:
        (getattr(args, "func", None) or COMMANDS[args.command][1])(args)
    except UserError as exc:
        print(f"seqcompare: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqcompare: interrupted", file=sys.stderr)
        return 130
    return 0
