"""A small GPT-style causal Transformer over characters, with a key/value cache for decoding."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from seqcompare.models.dropout import Dropout
from seqcompare.models.int8 import DynamicInt8Linear, Int4Linear, Int8Linear


class Window(NamedTuple):
    """What a TransformerLM has read, its decoding state: the tokens of its window and each layer's key/value
    cache over them. Rows at different positions share a batch left-padded (`TransformerLM.merge_states`):
    `pad` counts each row's leading positions that hold no token (left out of its attention, `attend_apart`),
    or is None when no row has any; the longest row has none, so the window's width is the longest row's
    length."""
    tokens: torch.Tensor                  # (B, W)
    cache: list                           # per layer (keys, values), each (B, heads, W, width / heads)
    pad: torch.Tensor | None = None       # (B,)

    @property
    def lengths(self) -> torch.Tensor:
        """Each row's count of tokens read, (B,)."""
        width = torch.full((len(self.tokens),), self.tokens.shape[1], device=self.tokens.device)
        return width if self.pad is None else width - self.pad

    def rows(self, index: torch.Tensor) -> "Window":
        """The rows `index` (kept, repeated or dropped), the padding that every one of them has cut off."""
        tokens, cache = self.tokens[index], [(k[index], v[index]) for k, v in self.cache]
        if self.pad is None:
            return Window(tokens, cache)
        pad = self.pad[index]
        cut = int(pad.min()) if len(pad) else 0
        if cut:
            tokens, cache, pad = tokens[:, cut:], [(k[:, :, cut:], v[:, :, cut:]) for k, v in cache], pad - cut
        return Window(tokens, cache, pad if bool(pad.any()) else None)

    @staticmethod
    def merge(windows: list["Window"]) -> "Window":
        """One batch of the rows of `windows`, each left-padded to the longest (windows without rows add none)."""
        windows = [w for w in windows if len(w.tokens)] or windows[:1]
        width = max(w.tokens.shape[1] for w in windows)

        def padded(part, dim: int) -> torch.Tensor:        # part(window) of every window, zeros before it
            parts = [part(w) for w in windows]
            return torch.cat([F.pad(p, (0, 0) * (p.dim() - 1 - dim) + (width - p.shape[dim], 0)) for p in parts])

        cache = [(padded(lambda w: w.cache[i][0], 2), padded(lambda w: w.cache[i][1], 2))
                 for i in range(len(windows[0].cache))]
        pad = width - torch.cat([w.lengths for w in windows])
        return Window(padded(lambda w: w.tokens, 1), cache, pad if bool(pad.any()) else None)


def positions(pad: torch.Tensor) -> list[tuple[slice | torch.Tensor, int]]:
    """The rows of a padded window grouped by their padding, as (rows, padding): the rows at one position, a
    slice of the batch when they sit together in it (one row per position, a request's beams), else their
    indices."""
    rows: dict[int, list[int]] = {}
    for i, p in enumerate(pad.tolist()):
        rows.setdefault(p, []).append(i)
    return [(slice(r[0], r[-1] + 1) if r[-1] - r[0] == len(r) - 1 else torch.tensor(r, device=pad.device), p)
            for p, r in rows.items()]


def attend_apart(q, k, v, groups: list[tuple[slice | torch.Tensor, int]]) -> torch.Tensor:
    """Attention of one new query per row (q (B, heads, 1, d)) over its own row's keys only (k, v: (B, heads,
    W, d), each row's first `padding` positions not its own): the rows at one position (`positions`) together,
    over exactly their keys, so that each row's sums are those it gets alone (a mask over the padded width
    rounds them otherwise, which int8's rounding of the next product can turn into another character). A
    group that is a slice of the batch reads its keys where they are; only scattered rows are gathered."""
    y = torch.empty_like(q)
    for rows, p in groups:
        y[rows] = F.scaled_dot_product_attention(q[rows], k[rows, :, p:], v[rows, :, p:])
    return y


GROW = 32                  # positions a key/value buffer holds beyond the window that fills it (`extend`)


def extend(keys: torch.Tensor, values: torch.Tensor, new: torch.Tensor, context: int):
    """A window's keys and values (B, heads, W, d) with one more position (new: (B, 2, heads, 1, d), its key and
    value), as views of a buffer (B, 2, heads, W + GROW at most context, d) that holds them. When `keys` and
    `values` are such views, made by the last `extend` of their buffer, the new position is written in place,
    so a batch that goes on step after step copies no window (concatenating copies every row's whole window
    each step); otherwise (a window read by `run`, rows taken out of a batch or merged into one, an earlier
    state stepped again, a full buffer, or gradients being recorded, which an in-place write would break) they
    are copied into a new buffer first. No window's keys change under it."""
    B, H, W, d = keys.shape
    buffer = getattr(keys, "buffer", None)
    if (buffer is None or getattr(values, "buffer", None) is not buffer or buffer.written != W
            or W == buffer.shape[3] or torch.is_grad_enabled()):
        buffer = keys.new_empty(B, 2, H, min(W + GROW, max(context, W + 1)), d)
        buffer[:, 0, :, :W], buffer[:, 1, :, :W] = keys, values
    buffer[:, :, :, W:W + 1] = new
    buffer.written = W + 1
    keys, values = buffer[:, 0, :, :W + 1], buffer[:, 1, :, :W + 1]
    keys.buffer = values.buffer = buffer           # the views know their buffer (inference tensors keep no _base)
    return keys, values


@dataclass
class TransformerLMConfig:
    vocab_size: int = 3000
    context: int = 128         # positions it can attend to (learned position embeddings)
    width: int = 192
    layers: int = 3
    heads: int = 6
    dropout: float = 0.2       # on the embeddings and on each residual branch


def gelu(x: torch.Tensor) -> torch.Tensor:
    """The exact GELU of x (B, N), N even (the MLP's 4 × width), on PyTorch's own vectorised kernel. `F.gelu`
    hands a contiguous float tensor to oneDNN, whose call costs more than the arithmetic at one row
    (docs/precision.md, "Per-step work"); a transposed view of the same values is not contiguous, so it takes
    the native kernel. The same function: the two agree to float rounding, and each value is computed alone,
    so a row's result does not depend on its batch."""
    B, N = x.shape
    return F.gelu(x.view(B, 2, N // 2).transpose(1, 2)).transpose(1, 2).reshape(B, N)


def linear(layer: nn.Module):
    """A linear layer as a plain function of its input: F.linear over an nn.Linear's weights (without a
    module call's hooks), or the layer's own `forward` (a served `Int8Linear`)."""
    if isinstance(layer, nn.Linear):
        return functools.partial(F.linear, weight=layer.weight, bias=layer.bias)
    return layer.forward


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention over earlier positions, with PyTorch's fused kernel and a key/value cache."""

    def __init__(self, cfg: TransformerLMConfig):
        super().__init__()
        self.heads = cfg.heads
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.width)

    def forward(self, x: torch.Tensor, cache=None, need_weights: bool = False):
        """x (B, T, C); cache (keys, values) of earlier positions or None. Returns (y, new cache, weights)."""
        B, T, C = x.shape
        # one view for the three: (B, T, 3·C) → 3 × (B, heads, T, C / heads)
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        if cache is not None:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        past = k.shape[2] - T
        # query i (at position past + i) sees keys 0 … past + i; a lone new query sees them all
        mask = None if T == 1 or past == 0 else torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(past)
        causal = T > 1 and past == 0                      # the fused causal kernel, no mask tensor
        weights = None
        if need_weights:                                 # the explicit softmax, for the memory view
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
            if causal or mask is not None:
                visible = mask if mask is not None else torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
                scores = scores.masked_fill(~visible, float("-inf"))
            weights = scores.softmax(-1)
            y = weights @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        return self.proj(y.transpose(1, 2).reshape(B, T, C)), (k, v), weights


class Block(nn.Module):
    """Pre-LayerNorm Transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, cfg: TransformerLMConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.width), nn.LayerNorm(cfg.width)
        self.attn = CausalSelfAttention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.width, 4 * cfg.width), nn.GELU(),
                                 nn.Linear(4 * cfg.width, cfg.width), Dropout(cfg.dropout))
        self.drop = Dropout(cfg.dropout)

    def forward(self, x, cache=None, need_weights: bool = False):
        a, cache, weights = self.attn(self.ln1(x), cache, need_weights)
        x = x + (self.drop(a) if self.training else a)
        return x + self.mlp(self.ln2(x)), cache, weights


class TransformerLM(nn.Module):
    """A GPT-style character model: token + learned position embeddings, pre-LN blocks of causal
    self-attention and an MLP, a final LayerNorm, and the output layer tied to the token embedding
    (one matrix, used twice: nothing is stored twice).

    `forward(tokens, state)` has the recurrent models' shape: the state is the window read so far and
    its key/value cache (`Window`), so each new character costs one step. When the window is full it keeps the
    last half window, re-reads it without the cache, and carries on.
    """

    min_rows = 1               # decoding runs a batch of at least this many rows (a bf16 copy: 2, `precision`)

    def __init__(self, cfg: TransformerLMConfig):
        super().__init__()
        if cfg.width % cfg.heads:
            raise ValueError(f"width {cfg.width} is not divisible by {cfg.heads} heads")
        if cfg.context < 2 or cfg.context % 2:
            raise ValueError(f"context {cfg.context} must be even: re-reads and evaluation advance by half of it")
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.width)
        self.position = nn.Embedding(cfg.context, cfg.width)
        self.drop = Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln = nn.LayerNorm(cfg.width)
        self.decoder = None                              # a served output layer (`precision.convert`); None: tied
        self.apply(self._init)
        for name, p in self.named_parameters():          # GPT-2: residual projections scaled by depth
            if name.endswith(("proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.layers))

    @staticmethod
    def _init(module):
        """Small initial weights (normal, std 0.02): PyTorch's N(0, 1) embeddings stall its learning."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def run(self, tokens: torch.Tensor, cache=None, need_weights: bool = False):
        """Logits (B, T, vocab) for `tokens` placed after the cached positions; the new cache; and, with
        `need_weights`, each layer's attention weights (B, heads, T, keys)."""
        return self.run_embedded(self.embed(tokens), cache, need_weights)

    def run_embedded(self, x: torch.Tensor, cache=None, need_weights: bool = False):
        """`run` from the token embedding vectors x (B, T, width) instead of the ids (input influence)."""
        x, new_cache, weights = self.residual_embedded(x, cache, need_weights)
        return self.head(self.ln(x)), new_cache, weights

    def residual(self, tokens: torch.Tensor, cache=None):
        """`run`, giving the last block's residual stream (B, T, width) instead of the logits."""
        x, new_cache, _ = self.residual_embedded(self.embed(tokens), cache)
        return x, new_cache, None

    def residual_embedded(self, x: torch.Tensor, cache=None, need_weights: bool = False):
        """The last block's residual stream for the embedding vectors x, the new cache and the weights."""
        past = cache[0][0].shape[2] if cache else 0
        if past + x.shape[1] > self.cfg.context:
            raise ValueError(f"{past + x.shape[1]} positions exceed the context of {self.cfg.context}")
        x = x + self.position.weight[past:past + x.shape[1]]          # learned positions, by slicing
        if self.training:
            x = self.drop(x)
        new_cache, weights = [], []
        for i, block in enumerate(self.blocks):
            x, layer_cache, w = block(x, cache[i] if cache else None, need_weights)
            new_cache.append(layer_cache)
            weights.append(w)
        return x, new_cache, weights

    def step(self, tokens: torch.Tensor, state: Window):
        """One new character per sequence while decoding: tokens (B, 1) placed after the window of
        `state` (not full) → logits (B, 1, vocab) and the new state. The arithmetic of `run` with a
        cache, written flat over the weights (as `rnn_step` is for the recurrent cells): at one position
        the ~35 module calls of `run` cost about a third of its time (one step on the AMD EPYC: 366 µs
        through the modules, 266 µs here). Rows at different positions (a padded window) each take their
        own position and attend to their own keys only (`attend_apart`)."""
        B, past = state.tokens.shape
        C, H = self.cfg.width, self.cfg.heads
        embed, position, (ln_w, ln_b), layers = self.flat_weights()
        groups = None if state.pad is None else positions(state.pad)
        x = embed[tokens[:, 0]] + position[past if groups is None else past - state.pad]  # (B, C)
        new_cache = []
        for (ln1_w, ln1_b, qkv, proj, ln2_w, ln2_b, fc, out), (k_past, v_past) in zip(layers, state.cache):
            qkv_out = qkv(F.layer_norm(x, (C,), ln1_w, ln1_b)).view(B, 3, H, 1, C // H)
            q, (k, v) = qkv_out[:, 0], extend(k_past, v_past, qkv_out[:, 1:], self.cfg.context)
            y = (F.scaled_dot_product_attention(q, k, v) if groups is None       # a new query sees every key …
                 else attend_apart(q, k, v, groups)).view(B, C)                  # … of its own row
            x = x + proj(y)
            x = x + out(gelu(fc(F.layer_norm(x, (C,), ln2_w, ln2_b))))
            new_cache.append((k, v))
        logits = self.head(F.layer_norm(x, (C,), ln_w, ln_b))
        return logits[:, None], Window(torch.cat([state.tokens, tokens], 1), new_cache, state.pad)

    def make_room(self, state: Window) -> Window:
        """`state` with room for one more token: the rows whose window is full keep its last half, re-read
        without the cache (as `read` does); the others are left as they are."""
        if state.tokens.shape[1] < self.cfg.context:
            return state
        if state.pad is None:                                 # every row is full
            window = state.tokens[:, -(self.cfg.context // 2):]
            return Window(window, self.run(window)[1])
        full, rest = (state.pad == 0).nonzero()[:, 0], (state.pad > 0).nonzero()[:, 0]
        merged = Window.merge([self.make_room(state.rows(full)), state.rows(rest)])
        return merged.rows(torch.cat([full, rest]).argsort())   # back in the batch's order

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """The output layer: the token embedding, tied, or the served copy that replaces it."""
        return F.linear(x, self.embed.weight) if self.decoder is None else self.decoder.forward(x)

    def output_weights(self):
        """The output layer's (weight, bias), which serving may replace (`precision.convert`)."""
        return self.embed.weight, None

    def step_products(self) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """The matrix products one `step` of the float32 model computes, in order, as (weight, bias): each
        block's attention input and output projections and its MLP's two layers, then the tied output layer."""
        products = []
        for b in self.blocks:
            products += [(layer.weight, layer.bias) for layer in (b.attn.qkv, b.attn.proj, b.mlp[0], b.mlp[2])]
        return products + [self.output_weights()]

    def int8(self, everything: bool = True, dynamic: bool = False, head4: bool = False) -> None:
        """Serve the output layer in int8 (a copy of the tied embedding, which stays float for reading
        characters in) and, with `everything`, every block's linear layers in weight-only int8 too; in place,
        on a served copy (`precision.convert`). With `dynamic`, the output layer takes int8 activations too
        (`DynamicInt8Linear`); the blocks stay weight-only, since at one row the per-row scaling of the
        activations costs more than their narrow products save (192 wide: docs/precision.md). With `head4`, the
        output layer is weight-only int4 (`Int4Linear`)."""
        head = Int4Linear if head4 else DynamicInt8Linear if dynamic else Int8Linear
        self.decoder = head(self.embed.weight, None)
        if everything:
            for b in self.blocks:
                b.attn.qkv, b.attn.proj = Int8Linear(b.attn.qkv.weight, b.attn.qkv.bias), \
                    Int8Linear(b.attn.proj.weight, b.attn.proj.bias)
                b.mlp[0], b.mlp[2] = Int8Linear(b.mlp[0].weight, b.mlp[0].bias), Int8Linear(b.mlp[2].weight,
                                                                                          b.mlp[2].bias)
        self.__dict__.pop("_flat", None)

    def flat_weights(self):
        """The parameters `step` reads, gathered once, each linear layer as a function of its input (the same
        tensors: loading, training and `.to()` update them in place); gathered again if the embedding was
        replaced, or the layers (`int8`)."""
        flat = self.__dict__.get("_flat")
        if flat is None or flat[0] is not self.embed.weight:
            layers = tuple((b.ln1.weight, b.ln1.bias, linear(b.attn.qkv), linear(b.attn.proj), b.ln2.weight,
                            b.ln2.bias, linear(b.mlp[0]), linear(b.mlp[2])) for b in self.blocks)
            flat = self.__dict__["_flat"] = (self.embed.weight, self.position.weight, (self.ln.weight, self.ln.bias),
                                             layers)
        return flat

    def forward(self, tokens: torch.Tensor, state=None):
        """tokens (B, T) → logits (B, T, vocab) and the state (window tokens, cache) after the last one.
        Without a state and within the context this is one plain causal pass (training); one new
        character in evaluation mode is a `step`."""
        if state is not None and tokens.shape[1] == 1 and not self.training:
            return self.step(tokens, self.make_room(state))
        return self.read(tokens, state, self.run)

    def states(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """The last block's residual stream (B, T, width) after each token of `tokens` read from scratch, with
        the window held as `forward` (generation) holds it (the sentiment probe's features)."""
        return {"residual": self.read(tokens, None, self.residual)[0]}

    def read(self, tokens: torch.Tensor, state, run):
        """`forward`'s windowed reading with `run` ((tokens, cache) → (outputs, cache, _)) for each chunk; the rows
        of a padded window one by one."""
        if state is not None and state.pad is not None:
            rows = [self.read(tokens[i:i + 1], state.rows(torch.tensor([i], device=tokens.device)), run)
                    for i in range(len(tokens))]
            return torch.cat([out for out, _ in rows]), Window.merge([s for _, s in rows])
        window, cache = (state.tokens, state.cache) if state is not None else (tokens[:, :0], None)
        outs = []
        while tokens.shape[1]:
            room = self.cfg.context - window.shape[1]
            if room == 0:                                 # full: keep the last half window, re-read it
                window = window[:, -(self.cfg.context // 2):]
                _, cache, _ = self.run(window)
                continue
            chunk, tokens = tokens[:, :room], tokens[:, room:]
            logits, cache, _ = run(chunk, cache)
            window = torch.cat([window, chunk], 1)
            outs.append(logits)
        return (outs[0] if len(outs) == 1 else torch.cat(outs, 1)), Window(window, cache)

    def window_start(self, n: int) -> int:
        """Where the window `forward` holds after reading n tokens from scratch begins: its last
        prediction depends on tokens[window_start(n):] only (re-reads drop the cache before them)."""
        start, read, half = 0, 0, self.cfg.context // 2
        while read < n:
            if read - start == self.cfg.context:
                start = read - half
            read += min(self.cfg.context - (read - start), n - read)
        return start

    @property
    def context(self) -> int:
        """The most positions one pass reads (its window)."""
        return self.cfg.context

    def logits_from_embedded(self, x: torch.Tensor, need_weights: bool = False):
        """Logits (B, T, vocab) for the embedding vectors x read from position 0 (at most a context), and
        with `need_weights` each layer's attention weights (B, heads, T, T), else None."""
        logits, _, weights = self.run_embedded(x, need_weights=need_weights)
        return logits, (weights if need_weights else None)

    @torch.inference_mode()
    def stream_nll(self, streams: torch.Tensor, batch_size: int = 64) -> tuple[float, int]:
        """Negative log-likelihood (nats, summed) of every character of each row of `streams` (B, L) after
        its first, and how many that is, B·(L − 1). Each row is read in windows of the context that
        advance by half a context; each window scores its second half, so every character is predicted
        from at least half a context of its row (the first window scores all of itself)."""
        half, targets = self.cfg.context // 2, streams.shape[1] - 1
        width = min(self.cfg.context, targets)
        starts = list(range(0, max(targets - half, 1), half))      # window s reads streams[:, s : s + context]
        total, n = 0.0, 0
        per_pass = max(1, batch_size // len(streams))               # windows of several starts in one pass
        for i in range(0, len(starts), per_pass):
            inputs, target = [], []
            for s in starts[i:i + per_pass]:
                end, first = min(s + width, targets), 0 if s == 0 else half     # before first: scored already
                inputs.append(F.pad(streams[:, s:end], (0, width - (end - s))))
                target.append(F.pad(streams[:, s + 1 + first:end + 1], (first, width - (end - s)), value=-100))
            target = torch.cat(target)
            logits, _ = self(torch.cat(inputs))
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1),
                                     reduction="sum", ignore_index=-100).item()
            n += int((target != -100).sum())
        return total, n

    def textbook_count(self) -> int:
        """The tutorials' count for comparison: the Transformer has no other count than PyTorch's."""
        return sum(p.numel() for p in self.parameters())

    @staticmethod
    def reorder_state(state: Window, index: torch.Tensor) -> Window:
        """The state of the sequences `index` of a batch (beam search keeps, repeats and drops them)."""
        return state.rows(index)

    @staticmethod
    def merge_states(states: list[Window]) -> Window:
        """One batch's state from the states of single sequences, at any positions (left-padded, `Window`)."""
        return Window.merge(states)
