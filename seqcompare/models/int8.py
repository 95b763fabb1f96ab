"""int8 and int4 for serving (see seqcompare.precision): linear layers with int8 weights (weight-only, or with int8
activations scaled row by row) or int4 weights (weight-only, in groups), and a stack of recurrent cells whose
matrices are int8."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqcompare.models.cells import layer_weights

BLOCK = 32                # the int8 kernel reads each row in blocks of 32 inputs: other widths are padded
GROUP4 = 64               # inputs per int4 group (a scale and an offset); other widths than multiples are padded


def int8_rows(weight: torch.Tensor, scale_dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """A weight (out, in) as int8 rows and one scale per row (its largest magnitude over 127, stored in
    `scale_dtype`; the rows are rounded on the stored scale, the one the kernel multiplies by)."""
    w = weight.detach().float()
    scale = (w.abs().amax(1).clamp(min=1e-12) / 127).to(scale_dtype)
    return torch.round(w / scale.float()[:, None]).clamp(-127, 127).to(torch.int8), scale


class RowLinear(nn.Module):
    """A served linear layer whose kernel computes each row of its input alone (`rows`, on (N, in)); any
    leading shape is flattened to rows and back. `rows` reads its tensors from the module's buffer dict: a
    buffer read as an attribute goes through `nn.Module.__getattr__`, about 0.5 µs each, three per product and
    13 products in a Transformer step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            return self.rows(x.reshape(-1, x.shape[-1])).view(*x.shape[:-1], -1)
        return self.rows(x)

    def finish(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """A weight-only kernel's product y (bfloat16) as the layer's output: the bias added (a float32 bias
        converts the sum in the same operation) and in the input's dtype."""
        bias = self._buffers["bias"]
        out = y if bias is None else torch.add(bias, y)
        return out if out.dtype == x.dtype else out.to(x.dtype)


class Int8Linear(RowLinear):
    """A linear layer with weight-only int8: W stored as int8 with one bfloat16 scale per output channel,
    multiplied by bfloat16 activations (`torch._weight_int8pack_mm`); the result comes back in the
    input's dtype (adding the bias, kept in that dtype, converts it in the same operation). Each row of a
    batch is computed from that row alone, so a batched request equals the same request alone."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        q, scale = int8_rows(weight, torch.bfloat16)                     # the kernel reads a bf16 scale
        self.pad = -q.shape[1] % BLOCK                                    # zero columns add nothing to any sum
        self.register_buffer("weight", F.pad(q, (0, self.pad)) if self.pad else q)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        b, a = self._buffers, x.to(torch.bfloat16)
        y = torch._weight_int8pack_mm(F.pad(a, (0, self.pad)) if self.pad else a, b["weight"], b["scale"])
        return self.finish(y, x)


class DynamicInt8Linear(RowLinear):
    """A linear layer with int8 weights (one float32 scale per output channel) and int8 activations, each row
    of the input scaled by its own largest magnitude when it arrives (dynamic, per row), multiplied in
    integers (`torch._int_mm`, exact int32 sums) and scaled back to float32. Each row's scale and sums come
    from that row alone, so a batched request equals the same request alone; the integer kernel reuses each
    weight across the rows of a batch, which the weight-only kernel does not."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        q, scale = int8_rows(weight)
        self.register_buffer("weight", q)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        a, b = (x if x.dtype == torch.float32 else x.float()), self._buffers
        step = a.abs().amax(1, keepdim=True).clamp_(min=1e-12).div_(127)             # each row's own scale
        sums = torch._int_mm(a.div(step).round_().to(torch.int8), b["weight"].t())    # exact int32 sums
        scale = step * b["scale"]                                 # (rows, out): each row's and each output's
        y = sums * scale if b["bias"] is None else torch.addcmul(b["bias"], sums, scale)   # int32 → float32 here
        return y if y.dtype == x.dtype else y.to(x.dtype)


class Int4Linear(RowLinear):
    """A linear layer with weight-only int4: each group of GROUP4 inputs of a row stored as 4-bit steps between the
    group's least and largest weight (a bfloat16 scale and offset per group), multiplied by bfloat16 activations
    (`torch._weight_int4pack_mm_for_cpu`, the CPU's kernel; its rows padded to a multiple of 16). Half the bytes
    of int8: the output layer of a text model is 0.6 MB instead of 1.2 MB. Each row of a batch is computed from
    that row alone, as in `Int8Linear`."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        w = weight.detach().float()
        self.out, self.pad = w.shape[0], -w.shape[1] % GROUP4                # zero columns add nothing to any sum
        w = F.pad(w, (0, self.pad, 0, -self.out % 16))                       # the kernel packs 16 rows at a time
        groups = w.view(w.shape[0], -1, GROUP4)
        low, high = groups.amin(-1), groups.amax(-1)
        step = ((high - low).clamp(min=1e-12) / 15).to(torch.bfloat16)     # rounded on the scale the kernel reads
        low = low.to(torch.bfloat16)
        q = ((groups - low.float()[..., None]) / step.float()[..., None]).round().clamp(0, 15)
        self.register_buffer("weight", torch._convert_weight_to_int4pack_for_cpu(q.to(torch.int32).flatten(1), 2))
        # the kernel's weight is (q − 8) · scale + offset: the offset of a group is its low end plus 8 steps
        self.register_buffer("scale_offset", torch.stack([step.t(), (low.float() + 8 * step.float()).to(
            torch.bfloat16).t()], -1))                                     # (in / GROUP4, out padded, 2)
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        b, a = self._buffers, x.to(torch.bfloat16)
        y = torch._weight_int4pack_mm_for_cpu(F.pad(a, (0, self.pad)) if self.pad else a, b["weight"], GROUP4,
                                              b["scale_offset"])
        return self.finish(y[:, :self.out], x)


class Int8Cells(nn.Module):
    """The layers of a batch-first nn.RNN, nn.LSTM or nn.GRU (in evaluation) with their matrices in weight-only
    int8, called as the module is, `(x (B, T, input), state) → (out, state)`, and stepped one time step at a
    time: the arithmetic of PyTorch's cell kernels (torch.rnn_tanh_cell, lstm_cell, gru_cell) written out, its
    products through `linear` (`Int8Linear` or `DynamicInt8Linear`). The RNN's and the LSTM's input and
    recurrent products are one product over [x, h] (one kernel call, their two biases summed); the GRU keeps
    them apart, as its candidate scales the recurrent part alone."""

    def __init__(self, rnn: nn.RNNBase, linear=Int8Linear):
        super().__init__()
        self.kind = rnn.nonlinearity if isinstance(rnn, nn.RNN) else rnn.mode.lower()   # tanh, relu, lstm, gru
        self.num_layers, self.hidden_size = rnn.num_layers, rnn.hidden_size
        self.products = nn.ModuleList()
        for layer in range(rnn.num_layers):
            w_ih, w_hh, b_ih, b_hh = (w.detach() for w in layer_weights(rnn, layer))
            self.products.append(nn.ModuleList([linear(w_ih, b_ih), linear(w_hh, b_hh)])
                                 if self.kind == "gru" else linear(torch.cat([w_ih, w_hh], 1), b_ih + b_hh))

    def forward(self, x: torch.Tensor, state=None):
        """x (B, T, input) → the last layer's outputs (B, T, hidden) and the state after them (as nn.RNN's)."""
        outs = []
        for t in range(x.shape[1]):
            out, state = self.step(x[:, t], state)
            outs.append(out)
        return torch.stack(outs, 1), state

    def step(self, x: torch.Tensor, state=None):
        """One time step: x (B, input) → the last layer's output (B, hidden) and the new state, laid out as
        nn.RNN's ((layers, B, hidden); an LSTM's a pair (h, c) of them)."""
        lstm = self.kind == "lstm"
        if state is None:
            zeros = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
            state = (zeros, zeros) if lstm else zeros
        hs, cs = [], []
        for layer, product in enumerate(self.products):
            if lstm:
                x, c = self.lstm(product, x, state[0][layer], state[1][layer])
                cs.append(c)
            elif self.kind == "gru":
                x = self.gru(product, x, state[layer])
            else:
                pre = product(torch.cat([x, state[layer]], 1))
                x = pre.tanh() if self.kind == "tanh" else pre.relu()
            hs.append(x)
        stack = (lambda t: t[0][None]) if self.num_layers == 1 else torch.stack
        return x, ((stack(hs), stack(cs)) if lstm else stack(hs))

    @staticmethod
    def lstm(product, x, h, c):
        """torch.lstm_cell: gates i, f, g, o from one product over [x, h]."""
        gates = product(torch.cat([x, h], 1))
        i, f, g, o = gates.chunk(4, 1)
        c = torch.addcmul(f.sigmoid() * c, i.sigmoid(), g.tanh())
        return o.sigmoid() * c.tanh(), c

    @staticmethod
    def gru(products, x, h):
        """torch.gru_cell: reset and update gates from both products, the candidate from the input's and the
        reset-scaled recurrent one; h' = n + z · (h − n)."""
        ih, hh = products
        gi, gh = ih(x), hh(h)
        width = h.shape[1]
        r, z = (gi[:, :2 * width] + gh[:, :2 * width]).sigmoid().chunk(2, 1)
        n = torch.addcmul(gi[:, 2 * width:], r, gh[:, 2 * width:]).tanh()
        return torch.lerp(n, h, z)
