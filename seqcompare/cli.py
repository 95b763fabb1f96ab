"""Command line: train, evaluate, predict, generate, bench and report; errors are one line, exit 2."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from seqcompare import UserError

CHECKPOINTS = Path(os.environ.get("SEQCOMPARE_CHECKPOINTS", Path(__file__).resolve().parent.parent / "checkpoints"))
TASKS = {"mnist": "digits", "imdb": "reviews", "hotel": "textgen"}


def task_module(task: str):
    import importlib

    return importlib.import_module(f"seqcompare.{TASKS[task]}")


def model_list(text: str | None, task: str) -> tuple[str, ...]:
    known = task_module(task).MODELS
    if not text:
        return known
    names = tuple(n.strip().lower() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in known]
    if not names:
        raise UserError(f"--models names no model; choose from {','.join(known)}")
    if unknown:
        raise UserError(f"unknown model {', '.join(unknown)} for {task}; choose from {','.join(known)}")
    return names


def reasons(errors: dict[str, str]) -> str:
    return "; ".join(dict.fromkeys(errors.values()))


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def device_arg(sp) -> None:
    sp.add_argument("--device", default=None, help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda or mps "
                                                   "(default: $SEQCOMPARE_DEVICE, else auto)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m seqcompare", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def data_args(sp):
        sp.add_argument("--data-dir", help="local data folder (default: $SEQCOMPARE_DATA, else download)")

    t = sub.add_parser("train", help="train models and write their checkpoints")
    t.add_argument("task", choices=TASKS)
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
    data_args(t)

    e = sub.add_parser("evaluate", help="recompute test metrics from the checkpoints")
    e.add_argument("task", choices=TASKS)
    e.add_argument("--models", help="comma-separated subset")
    e.add_argument("--limit", type=positive_int,
                   help="score only N test examples (mnist: the first N; imdb: N spread evenly over both labels; "
                        "hotel: the first N validation reviews)")
    e.add_argument("--checkpoints", type=Path, help="checkpoint folder (default: checkpoints/TASK)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    device_arg(e)
    e.add_argument("--short", action="store_true",
                   help="imdb: score the 40 one-sentence reviews written for the project instead of the test set")
    data_args(e)

    pr = sub.add_parser("predict", help="classify digit images or reviews")
    pr.add_argument("kind", choices=["digits", "review", "reviews"])
    pr.add_argument("inputs", nargs="*", help="image files (digits) or the review text (review)")
    pr.add_argument("--file", help="reviews: one review per line; - for standard input")
    pr.add_argument("--checkpoints", type=Path, help="checkpoint folder")
    pr.add_argument("--json", action="store_true", help="print a JSON list")
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
    g.add_argument("--checkpoints", type=Path, help="checkpoint folder")
    g.add_argument("--json", action="store_true", help="print one JSON object")
    b = sub.add_parser("bench", help="measure latency, generation speed, evaluation throughput and cold start")
    b.add_argument("--tasks", default="digits,reviews,textgen,evaluation,coldstart,explain",
                   help="comma-separated: digits,reviews,textgen,evaluation,coldstart,explain (the memory views)")
    b.add_argument("--runs", type=positive_int, default=50, help="timed requests per task")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--save", action="store_true", help="also write checkpoints/bench.json (the README's table)")
    data_args(b)

    lt = sub.add_parser("loadtest", help="concurrent API calls against a running app on this machine")
    lt.add_argument("url", help="e.g. http://127.0.0.1:7860/")
    lt.add_argument("--calls", type=positive_int, default=30, help="calls per endpoint")
    lt.add_argument("--threads", type=positive_int, default=30, help="client threads")
    lt.add_argument("--save", action="store_true", help="also write checkpoints/loadtest.json (the README's line)")
    lt.add_argument("--while-training", action="store_true",
                    help="run one live training (train_models) at the same time")

    x = sub.add_parser("explain", help="each model's input influence on one prediction (gradient norms)")
    x.add_argument("kind", choices=["hotel", "review", "digits"])
    x.add_argument("inputs", nargs="*", help="the text (hotel: its last character is explained; review: the "
                                             "answer after its last token) or one image file (digits)")
    x.add_argument("--checkpoints", type=Path, help="checkpoint folder")
    x.add_argument("--json", action="store_true", help="print one JSON object")

    m = sub.add_parser("memory", help="how far back each model looks: influence by distance, trained and untrained")
    m.add_argument("task", choices=TASKS)
    m.add_argument("--samples", type=positive_int,
                   help="targets averaged over (default: hotel 1000, imdb 2000, mnist 10000)")
    m.add_argument("--checkpoints", type=Path, help="checkpoint folder (default: checkpoints/TASK)")
    m.add_argument("--json", action="store_true", help="print one JSON object")
    m.add_argument("--save", action="store_true", help="also write memory.json in the checkpoint folder (the app's plot)")
    data_args(m)

    sw = sub.add_parser("sweep", help="hyperparameter study with Optuna (grid, resumable through its storage)")
    sw.add_argument("task", choices=["imdb", "mnist"])
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
    data_args(sw)

    d = sub.add_parser("deploy", help="create or update a Hugging Face Space with the app (huggingface_hub)")
    d.add_argument("space_id", help="OWNER/NAME of the Space")
    d.add_argument("--private", action="store_true", help="create the Space private")
    d.add_argument("--dry-run", action="store_true", help="list what would be uploaded and its size; no network")

    pb = sub.add_parser("publish", help="upload one task's models to a Hugging Face model repository, with a model card")
    pb.add_argument("task", choices=TASKS)
    pb.add_argument("repo_id", help="OWNER/NAME of the model repository")
    pb.add_argument("--checkpoints", type=Path, help="checkpoint folder (default: checkpoints/TASK)")
    pb.add_argument("--private", action="store_true", help="create the repository private")
    pb.add_argument("--dry-run", action="store_true", help="print the model card and the files; no network")

    from seqcompare import baselines, report, tutorial
    for module in (report, tutorial, baselines):          # each adds its subcommand, with `func` to run it
        module.add_parser(sub)
    return p


def run_bench(args) -> None:
    from seqcompare import bench

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    known = [*bench.TASKS, *bench.EXTRA]
    unknown = [t for t in tasks if t not in known]
    if unknown or not tasks:
        raise UserError(f"unknown bench task {', '.join(unknown) or args.tasks}; choose from {','.join(known)}")
    from seqcompare import data

    result = bench.run(CHECKPOINTS, tasks, args.runs, data.data_dir(args.data_dir) if "evaluation" in tasks else None)
    if args.save:
        from seqcompare import checkpoints

        checkpoints.write_json(CHECKPOINTS / "bench.json", result)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print(result["machine"])
    for task in tasks:
        r = result[task]
        if task == "coldstart":
            print(f"cold start: python app.py → first HTTP 200 in {r['seconds']} s" if r["seconds"] else r["error"])
            continue
        if task == "evaluation":
            for part, unit in r["units"].items():
                print(f"evaluation, {unit}: " + ", ".join(f"{n} {v:,.0f}" for n, v in r[part].items()))
            continue
        if task == "explain":
            for part in ("textgen", "reviews", "digits"):
                e = r[part]
                print(f"explain {part}: {e['request']} — total median {e['total_ms']['median']:.1f} ms, p95 "
                      f"{e['total_ms']['p95']:.1f} ms (bar {r['bar_ms']} ms); " +
                      ", ".join(f"{n} {m['median']:.1f}" for n, m in e["model_ms"].items()))
            continue
        print(f"{task}: {r['request']} — total median {r['total_ms']['median']:.1f} ms, p95 {r['total_ms']['p95']:.1f} ms")
        for name, s in r["model_ms"].items():
            extra = f", {r['chars_per_second'][name]} chars/s" if "chars_per_second" in r else ""
            print(f"  {name:6s} median {s['median']:.2f} ms  p95 {s['p95']:.2f} ms{extra}")


def run_loadtest(args) -> None:
    from seqcompare import loadtest

    result = loadtest.run(args.url, args.calls, args.threads, while_training=args.while_training)
    if args.save:
        from seqcompare import bench, checkpoints

        name = "loadtest_training.json" if args.while_training else "loadtest.json"
        checkpoints.write_json(CHECKPOINTS / name, {"machine": bench.machine(threads=False), **result})
    print(json.dumps(result))


def run_sweep(args) -> None:
    from seqcompare import data, devices, sweep

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    models = tuple(n for n in model_list(args.models, args.task) if n in sweep.CELLS)
    if not models:
        raise UserError("sweep compares rnn, lstm and gru")
    result = sweep.run(args.task, models, sweep.parse_grid(args.grid), args.epochs, args.limit, args.storage,
                       data.data_dir(args.data_dir), devices.resolve(args.device))
    out = args.out or CHECKPOINTS / args.task / "study.json"
    sweep.save(result, out)
    print(f"{out}: {len(result['trials'])} trials")


def run_publish(args) -> None:
    from seqcompare import deploy, publish

    folder = args.checkpoints or CHECKPOINTS / args.task
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


def run_train(args) -> None:
    models = model_list(args.models, args.task)
    if args.jobs > 1 and len(models) > 1:
        return train_in_parallel(args, models)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from seqcompare import data, devices

    device = devices.resolve(args.device)
    folder = data.data_dir(args.data_dir)
    devices.start(device)                  # under torchrun: join the other processes (gloo on CPU)
    try:
        with contextlib.redirect_stdout(sys.stdout if devices.is_main() else open(os.devnull, "w")):
            task_module(args.task).train(models, folder, args.out or CHECKPOINTS / args.task,
                                         epochs=args.epochs, limit=args.limit, device=device)
    finally:
        devices.stop()


def train_in_parallel(args, models) -> None:
    """`train --jobs N`: one child process per model (`train TASK --models NAME --threads 1`), N at a time,
    the longest first by the training seconds of the checkpoints already in --out (else in the given
    order); each child's epoch lines are echoed with its name, and the wall time is printed at the end."""
    import subprocess
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from seqcompare import checkpoints, data, devices

    if devices.world_size() > 1:
        raise UserError("--jobs starts its own processes: run it without torchrun")
    data.data_dir(args.data_dir)                # a missing data folder: one message, before any process starts
    out = args.out or CHECKPOINTS / args.task

    def cost(name):
        for folder in (out, CHECKPOINTS / args.task):          # this run's earlier checkpoints, else the shipped
            try:
                return -float(checkpoints.read_json(folder / f"{name}.json")["train_seconds"])
            except Exception:                   # none or unreadable: the next folder, at last the given order
                continue
        return 0.0

    order = sorted(models, key=cost)
    passed = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
              if k in ("epochs", "limit", "device", "data_dir") and v is not None]
    lock = threading.Lock()

    def one(name):
        cmd = [sys.executable, "-m", "seqcompare", "train", args.task, "--models", name, "--threads", "1",
               "--out", str(out), *passed]
        env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"}     # epoch lines, no progress bars
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as child:
            lines = []
            for line in child.stdout:
                lines.append(line)
                with lock:
                    print(f"[{name}] {line}", end="", flush=True)
        if child.returncode:
            last = lines[-1].strip().removeprefix("seqcompare: error: ") if lines else f"exit {child.returncode}"
            raise UserError(last)

    start = time.perf_counter()
    print(f"training {', '.join(order)}: {min(args.jobs, len(order))} at a time, one torch thread each")
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {name: pool.submit(one, name) for name in order}
    failed = {}                                  # reason → the models that stopped for it
    for name, future in futures.items():
        if future.exception():
            failed.setdefault(str(future.exception()), []).append(name)
    if failed:
        raise UserError("; ".join(f"training {', '.join(names)} failed: {why}" for why, names in failed.items()))
    wall = time.perf_counter() - start
    seconds = {name: checkpoints.read_json(out / f"{name}.json")["train_seconds"] for name in order}
    checkpoints.write_json(out / "training_run.json", {"models": order, "jobs": args.jobs, "threads": 1,
                                                       "wall_seconds": round(wall, 1), "epochs": args.epochs,
                                                       "limit": args.limit, "train_seconds": seconds})
    print(f"trained {', '.join(order)} in {wall / 60:.1f} min of wall time ({out / 'training_run.json'})")


def run_evaluate(args) -> None:
    from seqcompare import data, devices

    models = model_list(args.models, args.task)
    device = devices.resolve(args.device)
    if args.short and args.task != "imdb":
        raise UserError("--short applies to imdb only")
    extra = {"short": True} if args.short else {}
    result = task_module(args.task).evaluate(args.checkpoints or CHECKPOINTS / args.task,
                                             None if args.short else data.data_dir(args.data_dir),
                                             limit=args.limit, models=models, device=device, **extra)
    if all("error" in m for m in result.values()):
        raise UserError("no model could be loaded: " + reasons({n: m["error"] for n, m in result.items()}))
    if args.json:
        print(json.dumps(result))
        return
    for name, m in result.items():
        if "error" in m:
            print(f"{name:6s} unavailable: {m['error']}")
        else:
            print(f"{name:6s} " + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                            for k, v in m.items() if k != "confusion_matrix"))


def run_predict(args) -> None:
    if args.kind == "digits":
        from seqcompare import digits

        if not args.inputs:
            raise UserError("name at least one image file")
        bank = digits.DigitModels(args.checkpoints or CHECKPOINTS / "mnist")
        if not bank.models:
            raise UserError("no digit model could be loaded: " + reasons(bank.errors))
        results = []
        for path in args.inputs:
            try:
                answer = bank.predict(path)["models"]
                results.append({"image": path, "models": {k: {f: v[f] for f in v if f != "rows"}
                                                          for k, v in answer.items()}})
            except UserError as exc:
                results.append({"image": path, "error": str(exc)})
        if args.json:
            print(json.dumps(results))
        else:
            for r in results:
                print(r["image"] + ("  error: " + r["error"] if "error" in r else ""))
                for name, a in r.get("models", {}).items():
                    print(f"  {name:6s} " + (a["error"] if "error" in a else
                                              f"{a['label']}  confidence {a['confidence']:.3f}  {a['ms']:.2f} ms"))
        if all("error" in r for r in results):
            raise UserError("no image could be used")
        return
    from seqcompare import reviews

    if args.kind == "review":
        if args.file:
            raise UserError("use 'predict reviews --file F' for a file of reviews")
        texts = [" ".join(args.inputs)]
    else:
        if not args.file or args.inputs:
            raise UserError("predict reviews takes --file F (one review per line; - for standard input)")
        texts = read_lines(args.file)
    bank = reviews.ReviewModels(args.checkpoints or CHECKPOINTS / "imdb")
    if not bank.models:
        raise UserError("no review model could be loaded: " + reasons(bank.errors))
    results = []
    for text in texts:
        try:
            answer = bank.predict(text, trace=False)
            entry = {"text": text, "models": answer["models"]}
            if answer["notices"]:
                entry["notices"] = answer["notices"]
        except UserError as exc:
            entry = {"text": text, "error": str(exc)}
        results.append(entry)
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        for r in results:
            print(shorten(r["text"]) + ("  error: " + r["error"] if "error" in r else ""))
            for note in r.get("notices", []):
                print(f"  note: {note}")
            for name, a in r.get("models", {}).items():
                print(f"  {name:6s} " + (a["error"] if "error" in a else
                                          f"{reviews.CLASS_NAMES[a['label']]:8s} P(positive) {a['positive']:.3f}  {a['ms']:.2f} ms"))
    if all("error" in r for r in results):
        raise UserError(results[0]["error"] if len(results) == 1 else "no review could be classified")


def shorten(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


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


def run_generate(args) -> None:
    from seqcompare import textgen

    bank = textgen.TextModels(args.checkpoints or CHECKPOINTS / "hotel", model_list(args.models, "hotel"))
    if not bank.models:
        raise UserError("no text model could be loaded: " + reasons(bank.errors))
    result = bank.generate(args.seed, args.length, args.temperature, args.top_k, args.random_seed,
                           args.top_p, args.beams)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    for note in result["notices"]:
        print(f"note: {note}")
    for name, a in result["models"].items():
        print(f"[{name}] " + (a["error"] if "error" in a else f"({a['ms']:.0f} ms) {a['text']}"))


def _strongest(labels: list[str], influence: list[float], k: int = 5) -> str:
    """The k most influential inputs: label, distance back from the prediction, share of the total."""
    total = sum(influence) or 1.0
    top = sorted(range(len(influence)), key=lambda i: -influence[i])[:k]
    return ", ".join(f"{labels[i]!r} (d={len(influence) - i}) {influence[i] / total:.0%}" for i in top)


EXPLAINED = ("target", "influence", "attention", "error")     # what `explain --json` shows per model


def run_explain(args) -> None:
    from seqcompare import influence

    if args.kind == "digits":
        if len(args.inputs) != 1:
            raise UserError("explain digits takes one image file")
        bank = influence.load_bank("mnist", args.checkpoints or CHECKPOINTS / "mnist")
        result = influence.explain_digit(bank, args.inputs[0])
        out = {"image": args.inputs[0], "models": {n: {k: v for k, v in a.items() if k in EXPLAINED}
                                                   for n, a in result["models"].items()}}
        labels = [f"row {i}" for i in range(1, 29)]
    elif args.kind == "review":
        bank = influence.load_bank("imdb", args.checkpoints or CHECKPOINTS / "imdb")
        result = influence.explain_review(bank, " ".join(args.inputs))
        out = {"text": result["text"], "tokens": result["tokens"],
               "models": {n: {k: v for k, v in a.items() if k in EXPLAINED} for n, a in result["models"].items()}}
        labels = result["tokens"]
    else:
        bank = influence.load_bank("hotel", args.checkpoints or CHECKPOINTS / "hotel")
        result = influence.explain_text(bank, " ".join(args.inputs))
        out = {"text": result["text"], "target": result["target"],
               "models": {n: {k: v for k, v in a.items() if k in EXPLAINED} for n, a in result["models"].items()}}
        labels = ["⏎" if c == "\n" else c for c in result["inputs"]]
    for note in result.get("notices", []):
        print(f"seqcompare: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return
    if "target" in out:
        print(f"predicting {out['target']!r} from the {len(labels)} inputs before it")
    for name, a in out["models"].items():
        target = f"answer {a['target']}  " if "target" in a else ""
        print(f"{name:11s} " + (a["error"] if "error" in a else target + "strongest inputs: " + _strongest(labels, a["influence"])))


def run_memory(args) -> None:
    from seqcompare import data, influence

    folder = args.checkpoints or CHECKPOINTS / args.task
    result = influence.memory(args.task, folder, data.data_dir(args.data_dir), args.samples,
                              progress=None if args.json else influence.stderr_progress)
    if args.save:
        path = influence.save_memory(folder, result)
        print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
        return
    unit, shown = result["unit"], (1, 2, 5, 10, 20, 50, 100)
    print(f"{args.task}: {result['targets']} targets; memory length = first distance (in {unit}) whose relative "
          f"influence is below {result['threshold']:.0%}, trained / untrained")
    for name, m in result["models"].items():
        u = result["untrained"]["models"][name]
        ds = sorted({d for d in shown if d <= len(m["distance"])} | {len(m["distance"])})
        curve = ", ".join(f"d={d}: {m['relative_influence'][d - 1]:.3g}" for d in ds)
        print(f"  {name:11s} {influence.fmt_length(m['memory_length'], len(m['distance'])):>5s} / "
              f"{influence.fmt_length(u['memory_length'], len(u['distance'])):>5s}   {curve}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in ("predict", "generate", "bench", "explain", "memory"):
        import torch

        torch.set_num_threads(1)          # single requests are faster on one thread, as in the app
    try:
        (getattr(args, "func", None) or {"train": run_train, "evaluate": run_evaluate, "predict": run_predict,
         "generate": run_generate,
         "bench": run_bench, "loadtest": run_loadtest, "explain": run_explain,
         "memory": run_memory, "deploy": run_deploy, "publish": run_publish,
         "sweep": run_sweep}[args.command])(args)
    except UserError as exc:
        print(f"seqcompare: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqcompare: interrupted", file=sys.stderr)
        return 130
    return 0
