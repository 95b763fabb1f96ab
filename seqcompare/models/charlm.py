"""A character language model over one recurrent cell (RNN, LSTM or GRU)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqcompare.models.cells import make_rnn, rnn_step

@dataclass
class CharLMConfig:
    cell: str = "lstm"
    vocab_size: int = 3000
    embed_size: int = 128
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.2
    tie: bool = False          # project the state to embed_size and decode with the embedding matrix


class CharLM(nn.Module):
    """Embedding → cell → linear decoder over the character vocabulary; the state is passed in and out.

    With `tie`, a linear `proj` maps the state to the embedding size and the decoder shares the
    embedding's weights (Press & Wolf 2017, "Using the output embedding"): fewer parameters, and the
    softmax costs embed_size instead of hidden_size multiplications per character."""

    def __init__(self, cfg: CharLMConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_size)
        self.drop = nn.Dropout(cfg.dropout)
        self.rnn = make_rnn(cfg.cell, cfg.embed_size, cfg.hidden_size, cfg.num_layers, cfg.dropout)
        if cfg.tie:
            self.proj = nn.Linear(cfg.hidden_size, cfg.embed_size)
            self.decoder = nn.Linear(cfg.embed_size, cfg.vocab_size)
            self.decoder.weight = self.embed.weight
        else:
            self.proj = nn.Identity()
            self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size)

    def forward(self, tokens: torch.Tensor, state=None):
        """tokens (B, T) → logits (B, T, vocab) and the state after the last step."""
        return self.forward_embedded(self.embed(tokens), state)

    def forward_embedded(self, x: torch.Tensor, state=None):
        """`forward` from the character embedding vectors x (B, T, embed) instead of the ids (input influence)."""
        if not self.training and x.shape[1] == 1:      # generation: one character at a time
            out, state = rnn_step(self.rnn, x, state)
        else:
            out, state = self.rnn(self.drop(x), state)
        return self.decoder(self.proj(self.drop(out))), state

    @staticmethod
    def reorder_state(state, index: torch.Tensor):
        """The state of the sequences `index` of a batch (beam search keeps, repeats and drops them)."""
        return tuple(s[:, index] for s in state) if isinstance(state, tuple) else state[:, index]

    @staticmethod
    def batch_key(state) -> int:
        """States with equal keys can be merged into one batch: any two (a state is one vector per layer)."""
        return 0

    @staticmethod
    def merge_states(states: list):
        """One batch's state from the states of single sequences (requests decoded together)."""
        if isinstance(states[0], tuple):
            return tuple(torch.cat(parts, 1) for parts in zip(*states))
        return torch.cat(states, 1)
