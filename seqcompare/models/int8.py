"""Weight-only int8 linear layers for serving (see seqcompare.precision)."""

from __future__ import annotations

import torch
from torch import nn


class Int8Linear(nn.Module):
    """A linear layer with weight-only int8: W stored as int8 with one bfloat16 scale per output channel,
    multiplied by bfloat16 activations (`torch._weight_int8pack_mm`); the result comes back in the
    input's dtype (adding the bias, kept in that dtype, converts it in the same operation)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        w = weight.detach().float()
        scale = (w.abs().amax(1).clamp(min=1e-12) / 127).to(torch.bfloat16)     # the scale the kernel reads
        self.register_buffer("weight", torch.round(w / scale.float()[:, None]).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale)
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch._weight_int8pack_mm(x.reshape(-1, x.shape[-1]).to(torch.bfloat16), self.weight, self.scale)
        y = y.view(*x.shape[:-1], -1)
        bias = self.bias
        return y.to(x.dtype) if bias is None or bias.dtype != x.dtype else torch.add(bias, y)
