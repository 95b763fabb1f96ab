"""A character language model over one recurrent cell (RNN, LSTM or GRU)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqcompare.models.cells import (TokenRNNConfig, count_parameters, layer_weights, make_rnn, rnn_states, rnn_step,
                                     textbook_parameters)
from seqcompare.models.dropout import Dropout
from seqcompare.models.int8 import DynamicInt8Linear, Int4Linear, Int8Cells, Int8Linear


@dataclass
class CharLMConfig(TokenRNNConfig):
    """The character model's settings: the shared ones, at their defaults."""


class CharLM(nn.Module):
    """Embedding → cell → linear decoder over the character vocabulary; the state is passed in and out,
    so the model reads text of any length (`context` None)."""

    context = None
    min_rows = 1               # decoding runs a batch of at least this many rows (a bf16 copy: 2, `precision`)

    def __init__(self, cfg: CharLMConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_size)
        self.drop = Dropout(cfg.dropout)
        self.rnn = make_rnn(cfg.cell, cfg.embed_size, cfg.hidden_size, cfg.num_layers, cfg.dropout)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size)

    def forward(self, tokens: torch.Tensor, state=None):
        """tokens (B, T) → logits (B, T, vocab) and the state after the last step; one new character in
        evaluation mode is a `step`."""
        if not self.training and tokens.shape[1] == 1:
            return self.step(tokens, state)
        return self.forward_embedded(self.embed(tokens), state)

    def forward_embedded(self, x: torch.Tensor, state=None):
        """`forward` from the character embedding vectors x (B, T, embed) instead of the ids (input influence)."""
        out, state = self.rnn(self.drop(x), state)
        return self.decoder(self.drop(out)), state

    def step(self, tokens: torch.Tensor, state=None):
        """One new character per sequence while decoding: tokens (B, 1) → logits (B, 1, vocab) and the new
        state, through the cell kernels one step at a time (`rnn_step`; served int8 cells step themselves),
        with no module calls around them (each costs microseconds, a step's small operations alike)."""
        x = F.embedding(tokens, self.embed.weight)
        if isinstance(self.rnn, nn.RNNBase):
            out, state = rnn_step(self.rnn, x, state)
            out = out[:, 0]
        else:
            out, state = self.rnn.step(x[:, 0], state)
        return self.decoder.forward(out)[:, None], state

    def output_weights(self):
        """The output layer's (weight, bias), which serving may replace (`precision.convert`)."""
        return self.decoder.weight, self.decoder.bias

    def step_products(self) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """The matrix products one `step` of the float32 model computes, as (weight, bias), layer by layer: each
        layer's input and recurrent products (PyTorch's cell kernel computes both, in its own order), then the
        output layer."""
        products = []
        for layer in range(self.rnn.num_layers):
            w_ih, w_hh, b_ih, b_hh = layer_weights(self.rnn, layer)
            products += [(w_ih, b_ih), (w_hh, b_hh)]
        return products + [self.output_weights()]

    def int8(self, everything: bool = True, dynamic: bool = False, head4: bool = False) -> None:
        """Serve the output layer in int8 and, with `everything`, the cell's matrices too: weight-only
        (`Int8Linear`), or with `dynamic` int8 activations too (`DynamicInt8Linear`); with `head4`, the output
        layer in weight-only int4 instead (`Int4Linear`); in place, on a served copy (`precision.convert`)."""
        linear = DynamicInt8Linear if dynamic else Int8Linear
        self.decoder = (Int4Linear if head4 else linear)(self.decoder.weight, self.decoder.bias)
        if everything:
            self.rnn = Int8Cells(self.rnn, linear)

    def logits_from_embedded(self, x: torch.Tensor, need_weights: bool = False):
        """Logits (B, T, vocab) for the embedding vectors x read from scratch, and no attention (None)."""
        return self.forward_embedded(x)[0], None

    def states(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the model carries after each token of `tokens` (B, T) read from scratch: its hidden state, and
        the LSTM's cell state, (B, T, hidden) each (the sentiment probe's features)."""
        hidden, cell = rnn_states(self.rnn, self.embed(tokens))
        return {"hidden": hidden} if cell is None else {"hidden": hidden, "cell": cell}

    @staticmethod
    def hold(state, unit: int, value: float):
        """`state` with one unit of the last layer set to `value`: the cell state of an LSTM, the hidden state
        otherwise (writing with a unit held fixed)."""
        state = tuple(s.clone() for s in state) if isinstance(state, tuple) else state.clone()
        (state[1] if isinstance(state, tuple) else state)[-1, :, unit] = value
        return state

    @staticmethod
    def window_start(n: int) -> int:
        """Where the inputs the last of n predictions depends on begin: the first (the state carries them all)."""
        return 0

    @torch.inference_mode()
    def stream_nll(self, streams: torch.Tensor, bptt: int = 400) -> tuple[float, int]:
        """Negative log-likelihood (nats, summed) of every character of each row of `streams` (B, L) after
        its first, and how many that is, B·(L − 1): the rows read side by side in windows of `bptt`,
        the state carried along them."""
        total, n, state = 0.0, 0, None
        for t in range(0, streams.shape[1] - 1, bptt):
            inputs, targets = streams[:, t:t + bptt], streams[:, t + 1:t + 1 + bptt]
            logits, state = self(inputs[:, :targets.shape[1]], state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
            total += loss.item() * targets.numel()
            n += targets.numel()
        return total, n

    def textbook_count(self) -> int:
        """Embedding + decoder + the recurrent layers counted with the tutorials' one-bias formula."""
        c = self.cfg
        rec = sum(textbook_parameters(c.cell, c.embed_size if layer == 0 else c.hidden_size, c.hidden_size)
                  for layer in range(c.num_layers))
        return count_parameters(self.embed) + rec + count_parameters(self.decoder)

    @staticmethod
    def reorder_state(state, index: torch.Tensor):
        """The state of the sequences `index` of a batch (beam search keeps, repeats and drops them)."""
        return tuple(s[:, index] for s in state) if isinstance(state, tuple) else state[:, index]

    @staticmethod
    def merge_states(states: list):
        """One batch's state from the states of single sequences (requests decoded together)."""
        if isinstance(states[0], tuple):
            return tuple(torch.cat(parts, 1) for parts in zip(*states))
        return torch.cat(states, 1)
