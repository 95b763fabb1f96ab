"""Non-neural baselines for scale (`python -m seqcompare baseline bigram`).

The interpolated character bigram model: fitted on the training reviews, scored in bits per character on
the validation reviews, with the text models' split, corpus and vocabulary (`textgen.split_reviews`,
`corpus`, `Vocab`), every character counted, unseen ones as the unknown id. The bigram estimate is
interpolated with the unigram one by Witten–Bell weights, λ(p) = n(p) / (n(p) + t(p)), where n(p) counts
the characters that follow p in training and t(p) how many different ones; the unigram is add-one smoothed.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from seqcompare import checkpoints, data, machine


class Bigram:
    def __init__(self, ids: np.ndarray, vocab_size: int):
        self.v = vocab_size
        unigram = np.bincount(ids, minlength=vocab_size) + 1.0
        self.unigram = unigram / unigram.sum()
        codes, counts = np.unique(ids[:-1].astype(np.int64) * vocab_size + ids[1:], return_counts=True)
        self.pairs = dict(zip(codes.tolist(), counts.tolist()))
        prev = codes // vocab_size
        self.follow = np.bincount(prev, weights=counts, minlength=vocab_size)       # n(p)
        self.kinds = np.bincount(prev, minlength=vocab_size).astype(float)          # t(p)

    def probability(self, prev: int, cur: int) -> float:
        n, t = self.follow[prev], self.kinds[prev]
        if n == 0:
            return float(self.unigram[cur])
        lam = n / (n + t)
        return float(lam * self.pairs.get(prev * self.v + cur, 0) / n + (1 - lam) * self.unigram[cur])

    def bits_per_character(self, ids: np.ndarray) -> dict:
        """Every character after the first, predicted from the one before it."""
        bits = -sum(math.log2(self.probability(p, c)) for p, c in zip(ids[:-1].tolist(), ids[1:].tolist()))
        return {"bpc": round(bits / (len(ids) - 1), 3), "characters": len(ids) - 1}


def bigram(data_dir: Path | None) -> dict:
    from seqcompare import textgen

    t0 = time.perf_counter()
    train, val = textgen.split_reviews(data.hotel_reviews(data_dir))
    text = textgen.corpus(train)
    vocab = textgen.Vocab.from_text(text)
    model = Bigram(np.array(vocab.encode(text)), len(vocab))
    scored = model.bits_per_character(np.array(vocab.encode(textgen.corpus(val))))
    return {"model": "interpolated character bigram (Witten–Bell)", "task": "hotel",
            "validation": scored, "vocab_size": len(vocab), "train_characters": len(text),
            "seconds": round(time.perf_counter() - t0, 1), "machine": machine.describe()}


BASELINES = {"bigram": bigram}


def add_parser(sub) -> None:
    b = sub.add_parser("baseline", help="fit a non-neural baseline and write checkpoints/baselines/NAME.json")
    b.add_argument("name", choices=BASELINES)
    b.add_argument("--data-dir", help="local data folder (default: $SEQCOMPARE_DATA, else download)")
    b.add_argument("--out", type=Path, default=None, help="JSON file (default: checkpoints/baselines/NAME.json)")
    b.set_defaults(func=run)


def run(args) -> None:
    out = checkpoints.writable_file(args.out or Path(__file__).resolve().parent.parent / "checkpoints" / "baselines"
                                    / f"{args.name}.json")
    result = BASELINES[args.name](data.data_dir(args.data_dir))
    checkpoints.write_json(out, result)
    print(f"{args.name}: {result['validation']['bpc']} bits per character on "
          f"{result['validation']['characters']:,} validation characters; wrote {out}")
