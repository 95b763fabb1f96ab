"""Classifiers: an image read one row per time step (the cells), LeNet-5, and a review classifier over
word tokens."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqcompare.models.cells import TokenRNNConfig, make_rnn
from seqcompare.models.dropout import Dropout

# --- Digits: an image read one row per time step -------------------------------------------

@dataclass
class RowClassifierConfig:
    cell: str = "lstm"
    input_size: int = 28      # pixels per row
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.1
    num_classes: int = 10


class RowClassifier(nn.Module):
    """Reads a 28×28 image top to bottom, one row per step, and classifies from the last state."""

    reads_rows = True            # an answer after each row (`row_logits`)

    def __init__(self, cfg: RowClassifierConfig):
        super().__init__()
        self.cfg = cfg
        self.rnn = make_rnn(cfg.cell, cfg.input_size, cfg.hidden_size, cfg.num_layers, cfg.dropout)
        self.head = nn.Linear(cfg.hidden_size, cfg.num_classes)

    def row_logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits after each row: (B, rows, classes) — the model's belief as it reads."""
        out, _ = self.rnn(images.reshape(images.shape[0], -1, self.cfg.input_size))
        return self.head(out)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(images.reshape(images.shape[0], -1, self.cfg.input_size))
        return self.head(out[:, -1])


@dataclass
class LeNetConfig:
    num_classes: int = 10


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) on 28×28 input with ReLU and max pooling."""

    reads_rows = False           # the whole image at once

    def __init__(self, cfg: LeNetConfig):
        super().__init__()
        self.cfg = cfg
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # 6×14×14
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),             # 16×5×5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, cfg.num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images.reshape(images.shape[0], 1, 28, 28)))


# --- Reviews: a token sequence of any length ------------------------------------------------

@dataclass
class ReviewClassifierConfig(TokenRNNConfig):
    vocab_size: int = 30000
    hidden_size: int = 128
    dropout: float = 0.4
    word_dropout: float = 0.0    # during training, drop whole word vectors
    pooling: tuple = ("last", "attention")   # summaries of the states read so far, concatenated (POOLINGS)
    num_classes: int = 2
    pad_id: int = 0


POOLINGS = ("last", "attention")


class ReviewClassifier(nn.Module):
    """Embeds the tokens, runs the cell over them and classifies summaries of the states read so far.
    The shipped recipe uses the last state and attention pooling — a learned softmax-weighted mean, so a
    strong word late in the review ("…ruined it") can outweigh the ones before it.

    Every quantity is a prefix quantity, so `prefix_logits` gives exactly what the model would answer
    if the review stopped after each token, and padding after a review never touches its answer.
    """

    def __init__(self, cfg: ReviewClassifierConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_size, padding_idx=cfg.pad_id)
        self.drop = Dropout(cfg.dropout)
        self.rnn = make_rnn(cfg.cell, cfg.embed_size, cfg.hidden_size, cfg.num_layers, cfg.dropout)
        unknown = set(cfg.pooling) - set(POOLINGS)
        if unknown or not cfg.pooling:
            raise ValueError(f"pooling must be chosen from {', '.join(POOLINGS)}, not {sorted(unknown)}")
        self.attend = nn.Linear(cfg.hidden_size, 1) if "attention" in cfg.pooling else None
        self.head = nn.Linear(len(cfg.pooling) * cfg.hidden_size, cfg.num_classes)

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.regularize(self.embed(tokens))

    def regularize(self, x: torch.Tensor) -> torch.Tensor:
        """Word dropout and dropout on the embedding vectors (training only)."""
        if self.training and self.cfg.word_dropout > 0:
            keep = torch.rand(x.shape[:2] + (1,), device=x.device) >= self.cfg.word_dropout
            x = x * keep / (1 - self.cfg.word_dropout)
        return self.drop(x)

    def pool(self, states: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Attention pooling: (B, Q, T) visibility of the T states for Q queries → (B, Q, hidden)."""
        scores = self.attend(states).transpose(1, 2)                         # (B, 1, T)
        weights = scores.masked_fill(~visible, float("-inf")).softmax(-1)
        return weights @ states

    def prefix_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits after each token: (B, T, classes). Padding (right-aligned) only follows real tokens."""
        states, _ = self.rnn(self.embed_tokens(tokens))
        steps = torch.arange(tokens.shape[1], device=tokens.device)
        visible = (steps[None, :] <= steps[:, None]).unsqueeze(0)            # query t sees states ≤ t
        parts = {"last": lambda: states, "attention": lambda: self.pool(states, visible)}
        return self.head(self.drop(torch.cat([parts[p]() for p in self.cfg.pooling], -1)))

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits at each review's own last real token: (B, classes)."""
        return self.forward_embedded(self.embed(tokens), lengths)

    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """`forward` from the word embedding vectors x (B, T, embed) instead of the ids (input influence)."""
        states, _ = self.rnn(self.regularize(x))
        visible = (torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None]).unsqueeze(1)
        parts = {"last": lambda: states[torch.arange(len(x)), lengths - 1],
                 "attention": lambda: self.pool(states, visible)[:, 0]}
        return self.head(self.drop(torch.cat([parts[p]() for p in self.cfg.pooling], -1)))
