"""Writing text: the settings, sampling (temperature, top-k, nucleus), batched decoding and beam search."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from seqcompare import UserError, devices
from seqcompare.i18n import said
from seqcompare.validate import whole
from seqcompare.textgen.corpus import END, Vocab

MAX_LENGTH = 500           # longest generation, in characters
GREEDY_BELOW = 1e-3       # temperatures this low sample as greedy (and cannot overflow the softmax)
MAX_SEED = 200             # seed characters the models read
MAX_BEAMS = 8


def check_settings(length, temperature, top_k, top_p=1.0, beams=1) -> tuple[int, float, int, float, int, list[str]]:
    """Validate generation settings; clamp the length to MAX_LENGTH with a notice."""
    notices = []
    length, top_k = whole(length, "length"), whole(top_k or 0, "top-k")
    beams = whole(1 if beams is None else beams, "beams")
    try:
        if isinstance(temperature, bool) or isinstance(top_p, bool):
            raise TypeError
        temperature, top_p = float(temperature), float(1.0 if top_p is None else top_p)
    except (TypeError, ValueError, OverflowError):
        raise UserError("errors.temperature_numbers") from None
    if not math.isfinite(temperature) or temperature < 0:
        raise UserError("errors.temperature")
    if length < 1:
        raise UserError("errors.length")
    if top_k < 0:
        raise UserError("errors.top_k")
    if not 0 < top_p <= 1:                                 # NaN fails this too
        raise UserError("errors.top_p")
    if not 1 <= beams <= MAX_BEAMS:
        raise UserError("errors.beams", max=MAX_BEAMS)
    if length > MAX_LENGTH:
        notices.append(said("notices.length_capped", max=MAX_LENGTH, asked=length))
        length = MAX_LENGTH
    if beams > 1:
        notices.append(said("notices.beams", beams=beams))
    return length, temperature, top_k, top_p, beams, notices


def clean_seed(seed: str | None) -> tuple[str, list[str]]:
    seed = (seed or "").replace("\r", "").replace(END, " ").strip()
    notices = []
    if len(seed) > MAX_SEED:
        notices.append(said("notices.seed_cut", max=MAX_SEED))
        seed = seed[-MAX_SEED:]
    return seed, notices


def candidates(logits: torch.Tensor, temperature: float, top_k: int = 0, top_p: float = 1.0):
    """The characters sampling may pick and their probabilities (renormalised, likeliest first): the
    logits scaled by the temperature, cut to the top k, then to the nucleus — the smallest set of
    likeliest characters whose probability reaches top_p. Returns (probabilities, ids)."""
    probs, ids, keep = cut(logits[None], temperature, top_k, top_p)
    probs, ids = probs[0][keep[0]], ids[0][keep[0]]
    return probs / probs.sum(), ids


def cut(logits: torch.Tensor, temperature: float, top_k: int, top_p: float):
    """`candidates` for each row of logits (B, V): the top k per row, likeliest first, their probabilities
    and which of them the nucleus keeps (B, k) — the rows keep sets of different sizes."""
    k = top_k if 0 < top_k < logits.shape[-1] else logits.shape[-1]
    values, ids = logits.topk(k)                           # sorted, likeliest first
    probs = (values / temperature).softmax(-1)
    keep = probs.cumsum(-1) - probs < top_p                 # the likelier ones have not reached top_p yet
    return probs, ids, keep


def pick(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, generator: torch.Generator) -> int:
    """The next character: the likeliest at temperature 0, else a draw from `candidates`."""
    return pick_rows(logits[None], temperature, top_k, top_p, [generator])[0]


def pick_rows(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, generators: list) -> list[int]:
    """`pick` for each row of logits (B, V), with the same settings, each row drawing from its own
    generator (one uniform number per draw, so a row's text does not depend on the other rows)."""
    if temperature < GREEDY_BELOW:
        return logits.argmax(-1).tolist()
    u = torch.cat([torch.rand(1, generator=g, device=logits.device) for g in generators])[:, None]
    if not 0 < top_k < logits.shape[-1] and top_p >= 1:   # nothing cut off: no sort of the whole vocabulary
        cdf = (logits / temperature).softmax(-1).cumsum(-1)
        # inverse transform: the first character whose cumulative probability passes u (right: never a p = 0)
        return torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp_(max=cdf.shape[-1] - 1)[:, 0].tolist()
    probs, ids, keep = cut(logits, temperature, top_k, top_p)
    cdf = (probs * keep).cumsum(-1)                        # what the nucleus drops adds nothing
    at = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)
    at = torch.minimum(at, keep.sum(-1, keepdim=True) - 1)   # rounding at the very top stays in the set
    return ids.gather(1, at)[:, 0].tolist()


def prompt(model, vocab: Vocab, seed: str):
    """Read END + seed (a fresh review); the log-probabilities of the next character (the unknown
    character never written) and the state after it."""
    logits, state = model(torch.tensor([vocab.encode(END + seed)], device=devices.of(model)))
    logits = logits[0, -1].float()
    logits[0] = -math.inf
    return logits, state


@dataclass
class Draw:
    """One continuation to write: its seed, its (checked) sampling settings and its own random generator."""
    seed: str
    length: int
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    generator: torch.Generator | None = None


def sample(model, vocab: Vocab, seed: str, length: int, temperature: float, top_k: int,
           generator: torch.Generator, stop_at_end: bool = True, top_p: float = 1.0) -> str:
    """Continue `seed` (read after an END, as a fresh review) by up to `length` characters; stops at END
    (or, with stop_at_end=False, writes on into the next review — the benchmark's fixed length)."""
    return sample_many(model, vocab, [Draw(seed, length, temperature, top_k, top_p, generator)], stop_at_end)[0]


@torch.inference_mode()
def sample_many(model, vocab: Vocab, draws: list[Draw], stop_at_end: bool = True) -> list[str]:
    """Several continuations at once, each the text `sample` writes for it alone (the same settings and
    generator give the same text, up to float rounding in the batched products). Each step runs the
    model once for a whole batch, reading its weights once for all the sequences in it."""
    prompts = {seed: prompt(model, vocab, seed) for seed in dict.fromkeys(d.seed for d in draws)}
    groups: dict[int, list[int]] = {}
    for i, d in enumerate(draws):
        groups.setdefault(model.batch_key(prompts[d.seed][1]), []).append(i)
    texts = [""] * len(draws)
    for rows in groups.values():
        ids = decode(model, [draws[i] for i in rows], [prompts[draws[i].seed] for i in rows], vocab.index[END],
                     stop_at_end)
        for i, chars in zip(rows, ids):
            texts[i] = vocab.decode(chars)
    return texts


def pick_each(logits: torch.Tensor, draws: list[Draw]) -> list[int]:
    """Each row's next character, drawn with its own settings (rows that share them are picked together)."""
    picked, groups = [0] * len(draws), {}
    for row, d in enumerate(draws):
        groups.setdefault((d.temperature, d.top_k, d.top_p), []).append(row)
    for (temperature, top_k, top_p), rows in groups.items():
        some = logits if len(rows) == len(draws) else logits[rows]
        for row, nxt in zip(rows, pick_rows(some, temperature, top_k, top_p, [draws[r].generator for r in rows])):
            picked[row] = nxt
    return picked


def decode(model, draws: list[Draw], prompts: list, end_id: int, stop_at_end: bool) -> list[list[int]]:
    """The sampling loop over a batch: each sequence draws its next character from its own row of
    logits with its own settings, and leaves the batch at END (with stop_at_end) or at its length."""
    logits = torch.stack([first for first, _ in prompts])
    state = prompts[0][1] if len(prompts) == 1 else model.merge_states([s for _, s in prompts])
    out = [[] for _ in draws]
    live = list(range(len(draws)))                         # the sequences in the batch, in its row order
    while live:
        going, chars = [], []
        for row, (i, nxt) in enumerate(zip(live, pick_each(logits, [draws[i] for i in live]))):
            if nxt == end_id and stop_at_end:
                continue
            out[i].append(nxt)
            if len(out[i]) < draws[i].length:
                going.append(row)
                chars.append(nxt)
        if not going:
            break
        if len(going) < len(live):
            state = model.reorder_state(state, torch.tensor(going, device=logits.device))
        live = [live[row] for row in going]
        logits, state = model(torch.tensor(chars, device=logits.device)[:, None], state)
        logits = logits[:, -1].float()
        logits[:, 0] = -math.inf
    return out


@torch.inference_mode()
def beam_search(model, vocab: Vocab, seed: str, length: int, beams: int) -> tuple[str, float]:
    """The continuation with the highest total log-probability divided by its length (deterministic).
    Each step keeps the `beams` likeliest continuations that go on; one that ends at END (its
    log-probability counts, and END counts in its length) while among the `beams` likeliest is finished.
    The search runs to `length` characters, then ranks the finished and the unfinished ones alike.
    Returns (text, score)."""
    logits, state = prompt(model, vocab, seed)
    end_id = vocab.index[END]
    live = [([], 0.0)]                                     # (characters, total log-probability)
    logp = logits.log_softmax(-1)[None]                    # (live, vocab)
    finished = []
    for step in range(length):
        totals = torch.tensor([t for _, t in live], device=logp.device)[:, None] + logp
        top = totals.flatten().topk(min(2 * beams, totals.numel()))
        keep, rows = [], []
        for rank, (total, flat) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
            row, char = divmod(flat, logp.shape[1])
            if total == -math.inf or len(keep) == beams:
                break
            if char != end_id:
                keep.append((live[row][0] + [char], total))
                rows.append(row)
            elif rank < beams:                             # an ending among the best: a finished hypothesis
                finished.append((live[row][0], total, len(live[row][0]) + 1))
        live = keep
        if not live:
            break
        if step == length - 1:
            break
        state = model.reorder_state(state, torch.tensor(rows, device=logits.device))
        logits, state = model(torch.tensor([[chars[-1]] for chars, _ in live], device=logits.device), state)
        logits = logits[:, -1]
        logits[:, 0] = -math.inf
        logp = logits.log_softmax(-1)
    finished += [(chars, total, len(chars)) for chars, total in live]
    chars, total, n = max(finished, key=lambda f: f[1] / f[2])
    return vocab.decode(chars), total / n
