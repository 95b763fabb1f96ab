"""The command line of the views inside the cells: `gates` (the gates at work on one input) and `sentiment`
(the probes of the sentiment the text models learned without labels)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from seqcompare import UserError, checkpoints, data, tasks


def add_parser(sub) -> None:
    g = sub.add_parser("gates", help="the LSTM's and GRU's gates (and the RNN's hidden state) at every step of one input")
    g.add_argument("kind", choices=["hotel", "review", "digits"])
    g.add_argument("inputs", nargs="*", help="the text (hotel), the review (review) or one image file (digits)")
    g.add_argument("--checkpoints", type=Path, default=None, help="checkpoint folder (default: the task's)")
    g.add_argument("--json", action="store_true", help="print JSON")
    g.add_argument("--saturation", action="store_true",
                   help="hotel: measure how often each gate unit is < 0.1 or > 0.9 over the validation text, trained "
                        "and untrained, and write saturation.json in the checkpoint folder")
    g.add_argument("--data-dir", help="local data folder (default: $SEQCOMPARE_DATA, else download)")
    g.set_defaults(func=run_gates)
    s = sub.add_parser("sentiment", help="how well each text model's state knows a review's sentiment (probes)")
    s.add_argument("task", choices=["hotel"])
    s.add_argument("--generate", action="store_true",
                   help="also write 200 reviews per model with the sentiment unit held positive, negative and free")
    s.add_argument("--models", default=None, help="comma-separated text models (default: all)")
    s.add_argument("--checkpoints", type=Path, default=None, help="checkpoint folder (default: checkpoints/hotel)")
    s.add_argument("--save", action="store_true", help="also write sentiment.json in the checkpoint folder (the app's)")
    s.add_argument("--data-dir", help="local data folder (default: $SEQCOMPARE_DATA, else download)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=run_sentiment)


def run_gates(args) -> None:
    from seqcompare import gates

    task = tasks.get(args.kind)
    folder = args.checkpoints or task.folder(checkpoints.CHECKPOINTS)
    if args.saturation:
        run_saturation(args, task, folder)
        return
    result = gates.explain(task.name, folder, args.inputs)
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False)
        print()
        return
    print(gates.describe(result))


def run_sentiment(args) -> None:
    from seqcompare import sentiment, textgen

    import torch
    torch.set_num_threads(1)
    names = tuple(n.strip() for n in args.models.split(",")) if args.models else textgen.MODELS
    unknown = [n for n in names if n not in textgen.MODELS]
    if unknown:
        raise UserError(f"unknown text model {', '.join(unknown)}; choose from {','.join(textgen.MODELS)}")
    folder = args.checkpoints or tasks.HOTEL.folder(checkpoints.CHECKPOINTS)
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    if args.save:
        checkpoints.writable(folder, create=False)
    result = sentiment.compute(folder, data.data_dir(args.data_dir), names, args.generate, log)
    if args.save:
        checkpoints.write_json(folder / sentiment.SENTIMENT_FILE, result)
        log(f"wrote {folder / sentiment.SENTIMENT_FILE}")
    if args.json:
        json.dump(sentiment.table(result), sys.stdout, ensure_ascii=False)
        print()
        return
    print(sentiment.describe(result))


def run_saturation(args, task, folder: Path) -> None:
    from seqcompare import gates

    if task.name != "hotel" or args.inputs:
        raise UserError("--saturation measures the hotel models over the validation text: "
                        "python -m seqcompare gates hotel --saturation")
    checkpoints.writable(folder, create=False)
    result = gates.saturation(folder, data.data_dir(args.data_dir),
                              log=lambda line: print(line, file=sys.stderr, flush=True))
    checkpoints.write_json(folder / gates.SATURATION_FILE, result)
    print(f"wrote {folder / gates.SATURATION_FILE}", file=sys.stderr)
    if args.json:
        json.dump(result, sys.stdout)
        print()
        return
    print(f"{'model':6s}{'gate':8s}  trained <0.1  >0.9   untrained <0.1  >0.9")
    for name, gate, tl, tr, ul, ur in gates.saturation_summary(result):
        print(f"{name:6s}{gate:8s}  {tl:12.3f} {tr:5.3f}   {ul:14.3f} {ur:5.3f}")
