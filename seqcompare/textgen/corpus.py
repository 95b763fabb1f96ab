"""The hotel reviews as one character stream: the split, the vocabulary, and the batches cut from it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from seqcompare import UserError, checkpoints
from seqcompare.i18n import said

END = "\n"                 # ends every review; generation stops there
END_SHOWN = "⏎"          # END as the views show it (a review\'s start or end)
UNK = "<unk>"
MIN_COUNT = 2              # rarer training characters share the unknown id
BPTT = 50                  # characters per truncated back-propagation window
VOCAB_FILE = "vocab.json"


def split_reviews(reviews: list[str]) -> tuple[list[str], list[str]]:
    """Row index % 10 == 9 is validation, the rest training; empty reviews are dropped."""
    train, val = split_rows(reviews)
    return [reviews[i] for i in train], [reviews[i] for i in val]


def split_rows(reviews: list[str]) -> tuple[list[int], list[int]]:
    """The row indices of `split_reviews`' training and validation reviews (to split labels alike)."""
    train = [i for i, r in enumerate(reviews) if i % 10 != 9 and r.strip()]
    val = [i for i, r in enumerate(reviews) if i % 10 == 9 and r.strip()]
    return train, val


def clean(review: str) -> str:
    """A review (or any text) as the stream holds it: no carriage returns, END read as a space, stripped."""
    return review.replace("\r", "").replace(END, " ").strip()


def corpus(reviews: list[str]) -> str:
    """Reviews joined into one stream, each starting after and ending with END."""
    return END + "".join(clean(r) + END for r in reviews)


class Vocab:
    """Characters ↔ ids; id 0 is the unknown character."""

    def __init__(self, chars: list[str]):
        self.chars = [UNK] + [c for c in chars if c != UNK]
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        counts = Counter(text)
        return cls(sorted(c for c, n in counts.items() if n >= MIN_COUNT or c == END))

    def encode(self, text: str) -> list[int]:
        return [self.index.get(c, 0) for c in text]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] if i else "□" for i in ids)

    def unknown(self, text: str) -> list[str]:
        """The characters of `text` the vocabulary lacks (read as the unknown character), sorted; spaces aside."""
        return sorted({c for c in text if c not in self.index and not c.isspace()})

    def notices(self, text: str, unknown: list[str] | None = None) -> list:
        """The notice naming the first 20 of `unknown(text)` (or of `unknown`, found already), or none."""
        unknown = self.unknown(text) if unknown is None else unknown
        return [said("notices.unknown_characters", characters="".join(unknown[:20]))] if unknown else []

    def __len__(self) -> int:
        return len(self.chars)


def load_vocab(folder: Path) -> Vocab:
    chars = checkpoints.read_json(Path(folder) / VOCAB_FILE)
    if not isinstance(chars, list) or not chars or chars[0] != UNK or END not in chars:
        raise checkpoints.CheckpointError(f"{Path(folder) / VOCAB_FILE} is not a character vocabulary")
    return Vocab(chars)


def streams(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut one long id sequence into `batch_size` contiguous streams (rows)."""
    per = len(ids) // batch_size
    return ids[:per * batch_size].view(batch_size, per)


def windows(stream: torch.Tensor, bptt: int = BPTT):
    """(inputs, targets) windows marching along the streams; the carried state links them."""
    for t in range(0, stream.shape[1] - 1, bptt):
        n = min(bptt, stream.shape[1] - 1 - t)
        yield stream[:, t:t + n], stream[:, t + 1:t + 1 + n]


def shift(stream: torch.Tensor, epoch: int, bptt: int = BPTT) -> torch.Tensor:
    """Start each epoch's windows at a different offset so the cut points move."""
    return stream[:, (epoch * 37) % bptt:]



def random_windows(ids: torch.Tensor, context: int, batch_size: int, seed: int):
    """(inputs, targets) batches of random windows of `context` characters, about one pass over `ids`."""
    g = torch.Generator().manual_seed(seed)
    if len(ids) <= context:
        raise UserError(f"too little text to train on: a window is {context + 1} characters, the text has {len(ids)}")
    starts = torch.randint(0, len(ids) - context, (len(ids) // context,), generator=g)   # last start: len - context - 1
    offsets = torch.arange(context + 1)
    for i in range(0, len(starts), batch_size):
        chunk = ids[starts[i:i + batch_size, None] + offsets]
        yield chunk[:, :-1], chunk[:, 1:]


def shown(chars) -> list[str]:
    """Characters as shown on screen: END (a review's start or end) as END_SHOWN."""
    return [END_SHOWN if c == END else c for c in chars]
