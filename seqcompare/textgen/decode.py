"""Writing text: the settings, sampling (temperature, top-k, nucleus), batched decoding and beam search."""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass, field

import torch

from seqcompare import UserError, devices
from seqcompare.i18n import said
from seqcompare.validate import whole
from seqcompare.textgen.corpus import END, Vocab, clean

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
    seed = clean(seed or "")
    notices = []
    if len(seed) > MAX_SEED:
        notices.append(said("notices.seed_cut", max=MAX_SEED))
        seed = seed[-MAX_SEED:]
    return seed, notices


MAX_TEXT = MAX_SEED + MAX_LENGTH   # characters a view of a typed text reads (its last ones): a seed and a continuation


def read_text(text, vocab: Vocab | None, predicted: bool = False) -> tuple[str, list[str]]:
    """A typed text as the views inside the models read it: one line, its last MAX_TEXT characters, with
    notices (the cut, the characters the models do not know). UserError for no text, for one with no character
    the models know, and with `predicted` (its last character is predicted from the others) for one character."""
    if not isinstance(text, str):
        raise UserError("errors.give_text")
    text = clean(text)
    if not text:
        raise UserError("errors.empty_text")
    if predicted and len(text) < 2:
        raise UserError("errors.two_characters")
    notices = []
    if len(text) > MAX_TEXT:
        notices.append(said("notices.text_last", max=MAX_TEXT, n=f"{len(text):,}"))
        text = text[-MAX_TEXT:]
    if vocab is not None:
        unknown = vocab.unknown(text)
        if unknown and all(c in unknown or c.isspace() for c in text):
            raise UserError("errors.unreadable_text")
        notices += vocab.notices(text, unknown)
    return text, notices


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
    return pick_rows(logits[None], temperature, top_k, top_p, [Draw("", 1, temperature, top_k, top_p, generator)])[0]


SMALL_K = 64               # top-k up to this draws in Python from the k values (fewer tensor operations per step)


def pick_rows(logits: torch.Tensor, temperature: float, top_k: int, top_p: float, draws: list) -> list[int]:
    """`pick` for each row of logits (B, V), with the same settings, each row drawing from its own `Draw`'s
    generator (one uniform number per character, so a row's text does not depend on the other rows)."""
    if temperature < GREEDY_BELOW:
        return logits.argmax(-1).tolist()
    u = [d.uniform() for d in draws]
    if 0 < top_k <= SMALL_K and top_k < logits.shape[-1]:  # the top k, sorted, then each row in Python
        values, ids = logits.topk(top_k)
        return [draw(v, i, temperature, top_p, x) for v, i, x in zip(values.tolist(), ids.tolist(), u)]
    u = torch.tensor(u, device=logits.device)[:, None]
    if not 0 < top_k < logits.shape[-1] and top_p >= 1:   # nothing cut off: no sort of the whole vocabulary
        cdf = (logits / temperature).softmax(-1).cumsum(-1)
        # inverse transform: the first character whose cumulative probability passes u (right: never a p = 0)
        return torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp_(max=cdf.shape[-1] - 1)[:, 0].tolist()
    probs, ids, keep = cut(logits, temperature, top_k, top_p)
    cdf = (probs * keep).cumsum(-1)                        # what the nucleus drops adds nothing
    at = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)
    at = torch.minimum(at, keep.sum(-1, keepdim=True) - 1)   # rounding at the very top stays in the set
    return ids.gather(1, at)[:, 0].tolist()


def draw(values: list[float], ids: list[int], temperature: float, top_p: float, u: float) -> int:
    """One row's draw among its top-k `values` (sorted, likeliest first): the weights exp((v − top) / T),
    cut to the nucleus (the likelier ones have not reached top_p yet), and the first character whose
    cumulative weight passes u · their total — `cut` and the inverse transform of `pick_rows`, for k numbers."""
    if len(set(values)) < len(values):                    # ties (bfloat16 logits): in id order, as in any batch
        values, ids = zip(*sorted(zip(values, ids), key=lambda p: (-p[0], p[1])))
    top = values[0]
    weights = [math.exp((v - top) / temperature) for v in values]
    if top_p < 1:
        total, kept = sum(weights), 0
        acc = 0.0
        while kept < len(weights) and acc / total < top_p:
            acc += weights[kept]
            kept += 1
        weights = weights[:kept]
    cumulative = list(itertools.accumulate(weights))
    i = bisect.bisect_right(cumulative, u * cumulative[-1])           # the first to pass u · the total
    return ids[i] if i < len(ids) else ids[max(i for i, w in enumerate(weights) if w > 0)]   # rounding at the top


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
    uniforms: list[float] = field(default_factory=list, repr=False, compare=False)   # drawn, not yet used

    def uniform(self) -> float:
        """The next uniform number of the generator (the global one without), drawn `length` at a time: one
        call per text instead of one per character (in context, after a model step, each call took 6–12 µs),
        and the same numbers, since torch's CPU generator fills a tensor in order."""
        if not self.uniforms:
            self.uniforms = torch.rand(max(1, self.length), generator=self.generator).tolist()[::-1]
        return self.uniforms.pop()


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
    texts, _ = write_many(model, vocab, draws, [], stop_at_end)
    return texts


@torch.inference_mode()
def write_many(model, vocab: Vocab, draws: list[Draw], searches: list[tuple[str, int, int]],
               stop_at_end: bool = True) -> tuple[list[str], list[tuple[str, float]]]:
    """Sampled continuations (`draws`) and beam searches ((seed, length, beams) each) written together:
    every step runs the model once for all the sequences, the sampled ones and the beams
    alike, so a beam search rides along the batch instead of holding it. (texts, [(text, score)])."""
    sampled, beams = start_jobs(model, vocab, draws, searches, stop_at_end)
    run_together(model, ([sampled] if sampled else []) + beams)
    texts = [vocab.decode(chars) for chars in sampled.out] if sampled else []
    return texts, [(vocab.decode(chars), score) for chars, score in (b.best() for b in beams)]


def start_jobs(model, vocab: Vocab, draws: list[Draw], searches: list[tuple[str, int, int]],
               stop_at_end: bool = True) -> tuple["Sampling | None", list["BeamSearch"]]:
    """The decoding jobs of `write_many`, each seed read once: one `Sampling` for all the draws (its rows in
    their order; None without draws) and a `BeamSearch` per search."""
    prompts = {seed: prompt(model, vocab, seed) for seed in dict.fromkeys([d.seed for d in draws] +
                                                                           [seed for seed, _, _ in searches])}
    end_id = vocab.index[END]
    sampled = Sampling(draws, [prompts[d.seed] for d in draws], end_id, stop_at_end, model) if draws else None
    beams = [BeamSearch(model, *prompts[seed], end_id, length, width) for seed, length, width in searches]
    return sampled, beams


def pick_each(logits: torch.Tensor, draws: list[Draw]) -> list[int]:
    """Each row's next character, drawn with its own settings (rows that share them are picked together)."""
    if len(draws) == 1:
        d = draws[0]
        return pick_rows(logits, d.temperature, d.top_k, d.top_p, draws)
    picked, groups = [0] * len(draws), {}
    for row, d in enumerate(draws):
        groups.setdefault((d.temperature, d.top_k, d.top_p), []).append(row)
    for (temperature, top_k, top_p), rows in groups.items():
        some = logits if len(rows) == len(draws) else logits[rows]
        for row, nxt in zip(rows, pick_rows(some, temperature, top_k, top_p, [draws[r] for r in rows])):
            picked[row] = nxt
    return picked


def run_together(model, jobs: list) -> None:
    """Step decoding jobs (`Sampling`, `BeamSearch`) until all are done (see `step_jobs`)."""
    while step_jobs(model, jobs):
        pass


def step_jobs(model, jobs: list) -> bool:
    """One decoding step of `jobs`: every job names the characters its rows read next (None: done), all of them
    run as one batch (`merge_states`: the Transformer's rows at different positions too), and each gets its rows
    of logits and state back. False when every job was done already."""
    group = [(job, *rows) for job in jobs if (rows := job.rows()) is not None]
    if not group:
        return False
    chars = [c for _, cs, _ in group for c in cs]
    state = group[0][2] if len(group) == 1 else model.merge_states([s for _, _, s in group])
    logits, state = step(model, chars, state, group[0][0].logits.device)
    if len(group) == 1:                                    # one job: the whole batch is its own
        group[0][0].logits, group[0][0].state = logits, state
        return True
    start = 0
    for job, cs, _ in group:
        end = start + len(cs)
        job.logits, job.state = logits[start:end], model.reorder_state(state, torch.arange(start, end,
                                                                                           device=logits.device))
        start = end
    return True


class Sampling:
    """The sampling loop over a batch, one step at a time: each sequence draws its next character from
    its own row of logits with its own settings, and leaves the batch at END (with stop_at_end) or at
    its length. `out` holds each sequence's characters."""

    def __init__(self, draws: list[Draw], prompts: list, end_id: int, stop_at_end: bool, model):
        self.draws, self.end_id, self.stop_at_end, self.model = draws, end_id, stop_at_end, model
        self.logits = torch.stack([first for first, _ in prompts])
        self.state = prompts[0][1] if len(prompts) == 1 else model.merge_states([s for _, s in prompts])
        self.out = [[] for _ in draws]
        self.live = list(range(len(draws)))                # the sequences in the batch, in its row order

    @property
    def done(self) -> bool:
        """Whether every sequence has left the batch (`rows` gives None from then on)."""
        return not self.live

    def rows(self):
        """The characters the live sequences read next and their state, or None when all are done."""
        if not self.live:
            return None
        going, chars = [], []
        for row, (i, nxt) in enumerate(zip(self.live, pick_each(self.logits, [self.draws[i] for i in self.live]))):
            if nxt == self.end_id and self.stop_at_end:
                continue
            self.out[i].append(nxt)
            if len(self.out[i]) < self.draws[i].length:
                going.append(row)
                chars.append(nxt)
        if len(going) < len(self.live) and going:
            self.state = self.model.reorder_state(self.state, torch.tensor(going, device=self.logits.device))
        self.live = [self.live[row] for row in going]
        return (chars, self.state) if going else None


def decode(model, draws: list[Draw], prompts: list, end_id: int, stop_at_end: bool) -> list[list[int]]:
    """The sampling loop over one batch (see `Sampling`): each sequence's characters."""
    job = Sampling(draws, prompts, end_id, stop_at_end, model)
    run_together(model, [job])
    return job.out


def step(model, chars: list[int], state, device=None):
    """One decoding step: each row reads its character → float logits (the unknown character masked) and
    the new state. A model with `min_rows` 2 (bfloat16 matrix products round a lone row unlike a batch's
    rows, which are computed alike) runs a lone row twice, so that it gets what it gets in any batch."""
    device = device or devices.of(model)
    pad = len(chars) < getattr(model, "min_rows", 1)
    if pad:
        state, chars = model.reorder_state(state, torch.zeros(2, dtype=torch.long, device=device)), chars * 2
    # `forward` itself: decoding registers no module hooks, and a module call's checks for them cost microseconds
    logits, state = model.forward(torch.tensor(chars, device=device)[:, None], state)
    if pad:
        logits, state = logits[:1], model.reorder_state(state, torch.zeros(1, dtype=torch.long, device=device))
    logits = logits[:, -1].float()
    logits.select(1, 0).fill_(-math.inf)
    return logits, state


class BeamSearch:
    """Beam search one step at a time: each step keeps the `beams` likeliest continuations that go on;
    one that ends at END (its log-probability counts, and END counts in its length) while among the
    `beams` likeliest is finished. It runs to `length` characters; `best` ranks the finished and the
    unfinished ones alike by total log-probability divided by length."""

    def __init__(self, model, logits: torch.Tensor, state, end_id: int, length: int, beams: int):
        self.logits, self.state, self.end_id, self.length, self.beams = logits[None], state, end_id, length, beams
        self.live, self.finished, self.steps, self.model = [([], 0.0)], [], 0, model

    def rows(self):
        """The last character of each beam that goes on and their state, or None when the search is done."""
        if self.done:
            return None
        logp = self.logits.log_softmax(-1)
        totals = torch.tensor([t for _, t in self.live], device=logp.device)[:, None] + logp
        top = totals.flatten().topk(min(2 * self.beams, totals.numel()))
        keep, rows = [], []
        for rank, (total, flat) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
            row, char = divmod(flat, logp.shape[1])
            if total == -math.inf or len(keep) == self.beams:
                break
            if char != self.end_id:
                keep.append((self.live[row][0] + [char], total))
                rows.append(row)
            elif rank < self.beams:                        # an ending among the best: a finished hypothesis
                self.finished.append((self.live[row][0], total, len(self.live[row][0]) + 1))
        self.live, self.steps = keep, self.steps + 1
        if not keep or self.steps == self.length:
            return None
        self.state = self.model.reorder_state(self.state, torch.tensor(rows, device=logp.device))
        return [chars[-1] for chars, _ in keep], self.state

    @property
    def done(self) -> bool:
        """Whether the search has ended (`rows` gives None from then on)."""
        return not self.live or self.steps == self.length

    def best(self) -> tuple[list[int], float]:
        """(characters, mean log-probability per character) of the best finished or unfinished beam."""
        done = self.finished + [(chars, total, len(chars)) for chars, total in self.live]
        chars, total, n = max(done, key=lambda f: f[1] / f[2])
        return chars, total / n


@torch.inference_mode()
def beam_search(model, vocab: Vocab, seed: str, length: int, beams: int) -> tuple[str, float]:
    """The continuation with the highest total log-probability divided by its length (deterministic; see
    `BeamSearch`). Returns (text, score)."""
    return write_many(model, vocab, [], [(seed, length, beams)])[1][0]
