"""Data sources: MNIST, IMDb and ChnSentiCorp hotel reviews, from a local folder or online.

Every loader takes a data folder (``--data-dir`` or ``SEQCOMPARE_DATA``); without one it falls back
to the online source (torchvision download, ``datasets.load_dataset``).
"""

from __future__ import annotations

import os
from pathlib import Path

from seqcompare import UserError

ENV_VAR = "SEQCOMPARE_DATA"
CACHE_DIR = Path(os.environ.get("SEQCOMPARE_CACHE", Path.home() / ".cache" / "seqcompare"))
HINT = f"set --data-dir or {ENV_VAR} to a folder that holds it, or run where the internet is reachable"


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The local data folder chosen by argument or environment, or None for the online source."""
    chosen = explicit or os.environ.get(ENV_VAR) or None
    if chosen is None:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise UserError(f"data folder {path} {'is a file, not a folder' if path.exists() else 'does not exist'}; {HINT}")
    return path


def mnist(root: Path | None, train: bool):
    """MNIST as (images uint8 N×28×28, labels int64 N) tensors, via torchvision."""
    from torchvision.datasets import MNIST

    split = "train" if train else "test"
    if root is not None:
        try:
            ds = MNIST(str(root), train=train, download=False)
        except RuntimeError:
            raise UserError(f"no MNIST {split} set in {root} (expected {root}/MNIST/raw/*-ubyte); {HINT}") from None
    else:
        try:
            ds = MNIST(str(CACHE_DIR), train=train, download=True)
        except Exception as exc:  # network errors come in many types
            raise UserError(f"could not download MNIST ({type(exc).__name__}); {HINT}") from None
    return ds.data, ds.targets


def _load_dataset(*args, **kwargs):
    import datasets

    datasets.disable_progress_bars()
    return datasets.load_dataset(*args, **kwargs)


def imdb(root: Path | None, split: str) -> tuple[list[str], list[int], list[int]]:
    """IMDb reviews of one split ('train' or 'test') as (texts, labels, review ids).

    A review's id is its number in the original release (consecutive ids are mostly reviews of the same
    film); where a source has no id column, its position among the reviews of its label stands in.
    """
    if root is not None:
        path = root / "imdb" / f"{split}.jsonl.gz"
        if not path.is_file():
            raise UserError(f"no IMDb {split} set at {path}; {HINT}")
        ds = _load_dataset("json", data_files=str(path), split="train")
    else:
        try:
            ds = _load_dataset("stanfordnlp/imdb", split=split)
        except Exception as exc:
            raise UserError(f"could not download IMDb ({type(exc).__name__}); {HINT}") from None
    labels = [int(x) for x in ds["label"]]
    if "id" in ds.column_names:
        ids = [int(x) for x in ds["id"]]
    else:
        seen = {0: 0, 1: 0}
        ids = []
        for label in labels:
            ids.append(seen[label])
            seen[label] += 1
    return list(ds["text"]), labels, ids


def hotel_reviews(root: Path | None) -> list[str]:
    """The ChnSentiCorp hotel reviews in file order (empty reviews kept as '' so row indices hold)."""
    return [r or "" for r in _hotel(root)["review"]]


def hotel_labels(root: Path | None) -> list[int]:
    """The reviews' sentiment labels in the same order: 1 positive, 0 negative."""
    return [int(x) for x in _hotel(root)["label"]]


def _hotel(root: Path | None):
    if root is not None:
        path = root / "hotel" / "ChnSentiCorp_htl_all.csv"
        if not path.is_file():
            raise UserError(f"no hotel reviews at {path}; {HINT}")
        ds = _load_dataset("csv", data_files=str(path), split="train")
    else:
        try:
            ds = _load_dataset("dirtycomputer/ChnSentiCorp_htl_all", split="train")
        except Exception as exc:
            raise UserError(f"could not download ChnSentiCorp ({type(exc).__name__}); {HINT}") from None
    return ds
