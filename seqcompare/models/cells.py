"""The recurrent cells shared by every model: building one, stepping it a character at a time, cutting a
carried state's graph, and counting parameters."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

RNN_CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CELL_KERNELS = {"lstm": torch.lstm_cell, "gru": torch.gru_cell, "rnn": torch.rnn_tanh_cell}   # one step each


def kernel(rnn: nn.RNNBase):
    """PyTorch's fused kernel for one step of one of `rnn`'s layers (an nn.RNN's by its nonlinearity)."""
    if isinstance(rnn, nn.RNN):
        return torch.rnn_tanh_cell if rnn.nonlinearity == "tanh" else torch.rnn_relu_cell
    return CELL_KERNELS["lstm" if isinstance(rnn, nn.LSTM) else "gru"]


@dataclass
class TokenRNNConfig:
    """What every recurrent model over tokens is made of: the cell, the vocabulary and its embedding, and the
    stack of layers (the character model's sizes by default; a model's config changes what differs)."""
    cell: str = "lstm"
    vocab_size: int = 3000
    embed_size: int = 128
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.2


def make_rnn(cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float) -> nn.RNNBase:
    """A batch-first nn.RNN / nn.LSTM / nn.GRU."""
    if cell not in RNN_CLASSES:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(RNN_CLASSES)}")
    return RNN_CLASSES[cell](input_size, hidden_size, num_layers, batch_first=True,
                             dropout=dropout if num_layers > 1 else 0.0)


def rnn_step(rnn: nn.RNNBase, x: torch.Tensor, state=None):
    """One time step of a batch-first nn.RNN / nn.LSTM / nn.GRU in evaluation, through PyTorch's fused cell
    kernels (torch.lstm_cell, gru_cell, rnn_tanh_cell) layer by layer: x (B, 1, input) → (out (B, 1, hidden),
    state). The same arithmetic as `rnn(x, state)`, without the whole-sequence kernel's set-up, which
    dominates a single step on the CPU (oneDNN's LSTM takes about 3× as long for one character)."""
    B, lstm = x.shape[0], isinstance(rnn, nn.LSTM)
    if state is None:
        zeros = x.new_zeros(rnn.num_layers, B, rnn.hidden_size)
        state = (zeros, zeros) if lstm else zeros
    cell = kernel(rnn)
    flat, per = rnn._flat_weights, len(rnn._flat_weights) // rnn.num_layers   # (w_ih, w_hh, b_ih, b_hh) per layer
    inp, hs, cs = x[:, 0], [], []
    for layer in range(rnn.num_layers):
        weights = flat[layer * per:(layer + 1) * per]
        if lstm:
            inp, c = cell(inp, (state[0][layer], state[1][layer]), *weights)
            cs.append(c)
        else:
            inp = cell(inp, state[layer], *weights)
        hs.append(inp)
    stack = (lambda t: t[0][None]) if rnn.num_layers == 1 else torch.stack
    return inp[:, None], ((stack(hs), stack(cs)) if lstm else stack(hs))


def rnn_states(rnn: nn.RNNBase, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The last layer's hidden state after every step of x (B, T, input), and its cell state too for an
    LSTM (None otherwise): (B, T, hidden) each, stepped with torch.lstm_cell (nn.LSTM keeps no cell states)."""
    if not isinstance(rnn, nn.LSTM):
        return rnn(x)[0], None
    for layer in range(rnn.num_layers):
        x, cells = step_through(torch.lstm_cell, layer_weights(rnn, layer), x)
    return x, cells


WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")       # one layer's, in the order the kernels take


def layer_weights(rnn: nn.RNNBase, layer: int) -> list[torch.Tensor]:
    """One layer's parameters by name (`WEIGHTS`): weight_ih, weight_hh, bias_ih, bias_hh."""
    return [getattr(rnn, f"{w}_l{layer}") for w in WEIGHTS]


def step_through(step, weights: list[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One layer over x (B, T, input) from a zero state, stepped with the cell kernel `step` (`CELL_KERNELS`)
    on its `WEIGHTS`: the hidden states and, for torch.lstm_cell, the cell states, (B, T, hidden) each (else None)."""
    lstm = step is torch.lstm_cell
    zeros = x.new_zeros(x.shape[0], weights[1].shape[1])
    state, hs, cs = ((zeros, zeros) if lstm else zeros), [], []
    for t in range(x.shape[1]):
        state = step(x[:, t], state, *weights)
        hs.append(state[0] if lstm else state)
        if lstm:
            cs.append(state[1])
    return torch.stack(hs, 1), (torch.stack(cs, 1) if lstm else None)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def detach_state(state):
    """Cut the graph behind a carried state (truncated back-propagation through time)."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def textbook_parameters(cell: str, input_size: int, hidden_size: int) -> int:
    """The count the tutorials give for one layer, gates·(h·x + h·h + h): one bias vector per gate."""
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    return gates * (hidden_size * input_size + hidden_size * hidden_size + hidden_size)

