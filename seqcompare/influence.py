"""How far back each model looks: the influence of every input on one prediction, as a gradient norm.

The measure (used by the dashboard, the command line and the tests alike): the influence of input
position s on the prediction at t is the L2 norm of the gradient of the model's log-probability of the
target at t — a plain log-softmax over the whole vocabulary or all classes, nothing masked — with respect
to the input vector at s: the output of the embedding layer for characters and words, the pixel row
(as normalised for the model) for digits. The model is in evaluation mode (no dropout).

- Text generation: the model reads END + TEXT[:-1], as generation reads a seed, and the target is the
  text's last character (the observed one). The Transformer's last prediction only sees the window its
  `forward` holds (at most its context; see `TransformerLM.window_start`): earlier inputs have influence 0.
- Reviews: the target is the model's own predicted class once it has read the last token (the class the
  whole review gets: its last state and its attention pooling over every state read).
- Digits: the target is the recurrent model's predicted digit after the last row (LeNet-5 reads the
  whole image at once: it has no rows to rank and is left out).

The distance curve: for each sampled target, the influence of the input d steps back (d = 1 is the last
input read before the prediction) divided by the influence of that last input, averaged over the
targets (a mean of ratios). The memory length is the first distance whose relative influence is below
1%; None when the curve stays above it at every measured distance.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from seqcompare import UserError, checkpoints, data, digits, reviews, tasks, textgen
from seqcompare.i18n import said

DISTANCES = 100                  # distances measured, 1 … 100 (digits: their 28 rows)
THRESHOLD = 0.01                 # memory length: the first distance whose relative influence is below this
UNTRAINED_SEED = 0               # the untrained models: the same config, built after torch.manual_seed(0)
SAMPLE_SEED = 0                  # the fixed sample of reviews, targets and images
MEMORY_FILE = "memory.json"


# --- the measure ---------------------------------------------------------------------------------

def gradient_norms(model: torch.nn.Module, logits_fn, x: torch.Tensor, targets: torch.Tensor | None = None):
    """Influence of every input vector of every row: x (B, T, D) → norms (B, T), and the targets.

    `logits_fn(x)` gives the logits (B, classes) of the one prediction explained per row; `targets` (B,)
    are the classes whose log-probability is differentiated (None: each row's predicted class). Rows do
    not interact in evaluation mode, so one backward pass serves the whole batch."""
    if model.training:
        raise ValueError("influence is measured in evaluation mode (no dropout): call model.eval() first")
    device = next(model.parameters()).device
    x = x.detach().to(device).requires_grad_()
    targets = None if targets is None else targets.to(device)
    with torch.enable_grad():
        # no masking: every class counts; the log-softmax in double precision (the model runs in float32), so
        # that 1 - p of a confident answer (a gradient of 1e-9, say) is not rounded to zero
        logp = logits_fn(x).double().log_softmax(-1)
        if targets is None:
            targets = logp.detach().argmax(-1)
        (grad,) = torch.autograd.grad(logp.gather(1, targets[:, None]).sum(), x)
    return grad.norm(dim=-1).cpu(), targets.cpu()


def text_logits(model, x: torch.Tensor, last: torch.Tensor, attention: list | None = None) -> torch.Tensor:
    """A character model's logits for the character after input `last[b]` of row b, from the embedding
    vectors x (B, T, embed) read from position 0; with `attention`, the model's per-layer attention
    weights (B, heads, T, T), if it has any, are appended to it."""
    logits, weights = model.logits_from_embedded(x, need_weights=attention is not None)
    if attention is not None and weights:
        attention.extend(w.detach() for w in weights)
    return logits[torch.arange(len(x)), last]


def embedded(model, ids: torch.Tensor) -> torch.Tensor:
    """The embedding layer's output for `ids`: the input vectors the influence is measured on."""
    with torch.no_grad():
        return model.embed(ids.to(next(model.parameters()).device))


def text_influence(model, ids: list[int], target: int, attention: bool = False) -> tuple[list[float], list | None]:
    """Influence of each of `ids` (the inputs read, in order) on the log-probability of `target` as the
    next character, and with `attention` the model's attention weights for that prediction per layer,
    averaged over heads (one list per layer, zeros outside its window; None for a model without any)."""
    start = model.window_start(len(ids))
    x = embedded(model, torch.tensor([ids[start:]]))
    weights = [] if attention else None
    norms, _ = gradient_norms(model, lambda v: text_logits(model, v, torch.tensor([v.shape[1] - 1]), weights),
                              x, torch.tensor([target]))
    influence = [0.0] * start + norms[0].tolist()
    layers = None
    if weights:
        layers = [[0.0] * start + w[0, :, -1].mean(0).tolist() for w in weights]
    return influence, layers


# --- one input, every model: the live views -----------------------------------------------------

def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


def explain_text(bank: textgen.TextModels, text: str, position: int | None = None) -> dict:
    """Each character model's influence of every input on the character at `position` (0-based; default
    the last), read after END as generation reads a seed. The Transformer also gives its attention."""
    text, notices = textgen.read_text(text, bank.vocab, predicted=True)   # its last character is predicted
    position = len(text) - 1 if position is None else int(position)
    if not 1 <= position < len(text):
        raise UserError("errors.character", n=len(text))
    inputs = textgen.END + text[:position]
    answers = {n: {"error": said("errors.unavailable", reason=e)} for n, e in bank.errors.items()}
    if bank.vocab is not None:
        ids, target = bank.vocab.encode(inputs), bank.vocab.index.get(text[position], 0)
        for name, model in bank.models.items():
            t0 = time.perf_counter()
            influence, attention = text_influence(model, ids, target, attention=True)
            answers[name] = {"influence": influence, "ms": _ms(t0)}
            if attention is not None:
                answers[name]["attention"] = attention
                answers[name]["window_start"] = model.window_start(len(ids))   # the inputs it can see begin here
    return {"text": text, "target": text[position], "position": position, "inputs": list(inputs),
            "notices": notices, "models": {n: answers[n] for n in bank.names if n in answers}}


def explain_review(bank: reviews.ReviewModels, text: str) -> dict:
    """Each review model's influence of every token on its own answer to the whole review (read to its last token)."""
    if bank.tokenizer is None:
        return {"text": text, "tokens": [], "notices": [],
                "models": {n: {"error": said("errors.unavailable", reason=e)} for n, e in bank.errors.items()}}
    ids, tokens, notices = bank.tokenize(text)
    x_ids, lengths = reviews.pad([ids])
    answers = {n: {"error": said("errors.unavailable", reason=e)} for n, e in bank.errors.items()}
    for name, model in bank.models.items():
        t0 = time.perf_counter()
        norms, target = gradient_norms(model, lambda v: model.forward_embedded(v, lengths), embedded(model, x_ids))
        answers[name] = {"target": reviews.CLASS_NAMES[int(target[0])], "influence": norms[0].tolist(),
                         "ms": _ms(t0)}
    return {"text": text, "tokens": tokens, "notices": notices,
            "models": {n: answers[n] for n in bank.names if n in answers}}


def explain_digit(bank: digits.DigitModels, image) -> dict:
    """Each recurrent digit model's influence of every pixel row on its predicted digit (LeNet-5, which
    reads the whole image at once, has no rows and is left out). `digit` is the 28×28 image read."""
    digit = digits.to_mnist(image)
    x = digits.normalize(digit)[None]
    answers = {n: {"error": said("errors.unavailable", reason=e)}
               for n, e in bank.errors.items() if n in tasks.MNIST.ordered}
    for name, model in bank.models.items():
        if name in tasks.MNIST.ordered:
            t0 = time.perf_counter()
            norms, target = gradient_norms(model, model, x)
            answers[name] = {"target": int(target[0]), "influence": norms[0].tolist(), "ms": _ms(t0)}
    return {"digit": digit, "models": {n: answers[n] for n in digits.MODELS if n in answers}}


# --- the distance curve over a fixed sample -------------------------------------------------------

def distance_curve(rows: list[torch.Tensor], distances: int) -> list[float]:
    """Mean over targets of influence(d steps back) / influence(1 step back), d = 1 … distances. Each row
    holds one target's influences in reading order, the last input read before the prediction last; a
    target whose last input has no influence at all (an answer beyond doubt even in double precision)
    has no ratios and is left out."""
    ratios = torch.stack([row[-distances:].flip(0).double() / row[-1].double() for row in rows if row[-1] > 0])
    return ratios.mean(0).tolist()


def memory_length(curve: list[float], threshold: float = THRESHOLD) -> int | None:
    """The first distance (1-based) whose relative influence is below `threshold`, or None."""
    return next((d for d, v in enumerate(curve, 1) if v < threshold), None)


# Each task's targets and influence (the registry, `seqcompare.tasks`, names them per task): the targets
# come in batches of (inputs, lengths, targets); the influence of a batch is (B, T) norms.

def text_targets(data_dir, bank: textgen.TextModels, samples: int, batch: int):
    """Fixed sample of validation reviews with at least DISTANCES characters: one target per review
    (the next character after END + the first t characters, DISTANCES - 1 ≤ t < min(len, context)),
    within the shortest context of the bank's Transformers."""
    contexts = [m.context for m in bank.models.values() if m.context]
    context, vocab = min(contexts, default=DISTANCES * 10), bank.vocab
    _, val = textgen.split_reviews(data.hotel_reviews(data_dir))
    texts = [textgen.clean(r) for r in val]
    eligible = [t for t in texts if len(t) >= DISTANCES]
    if not eligible:
        raise UserError(f"no validation review has {DISTANCES} characters")
    rng = random.Random(SAMPLE_SEED)
    rng.shuffle(eligible)
    items = []
    for i in range(samples):
        text = eligible[i % len(eligible)]
        t = rng.randint(DISTANCES - 1, min(len(text), context) - 1)
        items.append((vocab.encode(textgen.END + text[:t]), vocab.index.get(text[t], 0)))
    items.sort(key=lambda item: len(item[0]))
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        ids = torch.zeros(len(chunk), len(chunk[-1][0]), dtype=torch.long)
        for r, (seq, _) in enumerate(chunk):
            ids[r, :len(seq)] = torch.tensor(seq)
        yield ids, torch.tensor([len(seq) for seq, _ in chunk]), torch.tensor([t for _, t in chunk])


def review_targets(data_dir, bank: reviews.ReviewModels, samples: int, batch: int):
    """Fixed sample of test reviews with at least DISTANCES tokens, read whole (up to MAX_TOKENS)."""
    texts, _, _ = data.imdb(data_dir, "test")
    ids = [seq for seq in reviews.encode(bank.tokenizer, texts, reviews.MAX_TOKENS) if len(seq) >= DISTANCES]
    picked = random.Random(SAMPLE_SEED).sample(ids, min(samples, len(ids)))
    picked.sort(key=len)
    for i in range(0, len(picked), batch):
        tokens, lengths = reviews.pad(picked[i:i + batch])
        yield tokens, lengths, None


def digit_targets(data_dir, bank: digits.DigitModels, samples: int, batch: int):
    """Fixed sample of MNIST test images, each read row by row."""
    images, _ = data.mnist(data_dir, train=False)
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(SAMPLE_SEED))[:samples]
    x = digits.normalize(images[pick])
    for i in range(0, len(x), batch):
        chunk = x[i:i + batch]
        yield chunk, torch.full((len(chunk),), 28), None


def text_norms(model, batch) -> torch.Tensor:
    inputs, lengths, targets = batch
    return gradient_norms(model, lambda v: text_logits(model, v, lengths - 1), embedded(model, inputs), targets)[0]


def review_norms(model, batch) -> torch.Tensor:
    inputs, lengths, _ = batch
    return gradient_norms(model, lambda v: model.forward_embedded(v, lengths), embedded(model, inputs))[0]


def digit_norms(model, batch) -> torch.Tensor:
    return gradient_norms(model, model, batch[0])[0]


def batch_influence(task: str, model, batch) -> list[torch.Tensor]:
    """One batch of targets → each target's influences in reading order, up to its last input."""
    norms = tasks.get(task).influence(model, batch)
    return [row[:n] for row, n in zip(norms, batch[1].tolist())]


def untrained(task: str, name: str, model) -> torch.nn.Module:
    """The same architecture at initialisation: the same config, built after a fixed seed."""
    torch.manual_seed(UNTRAINED_SEED)
    return tasks.get(task).build(name, asdict(model.cfg)).eval()


def load_bank(task: str, folder: Path):
    """The task's models with an order of inputs (LeNet-5 has none), as the app loads them; UserError
    when none loads."""
    spec = tasks.get(task)
    bank = spec.bank(folder)
    bank.models = {n: m for n, m in bank.models.items() if n in spec.ordered}
    if not bank.models:
        raise checkpoints.none_loaded(bank.errors, task)
    return bank


def memory(task: str, folder: Path, data_dir, samples: int | None = None, progress=None) -> dict:
    """Each model's distance curve and memory length on a fixed sample of targets, trained (the
    checkpoints in `folder`) and untrained (the same configs at initialisation)."""
    spec = tasks.get(task)
    t0 = time.perf_counter()
    bank = load_bank(task, Path(folder))
    batches = list(spec.memory_batches(data_dir, bank, samples or spec.memory_samples, spec.memory_batch))
    distances = min(DISTANCES, int(min(b[1].min() for b in batches)))
    result = {"task": spec.name, "unit": spec.unit, "targets": sum(len(b[1]) for b in batches),
              "threshold": THRESHOLD, "untrained_seed": UNTRAINED_SEED, "models": {}, "untrained": {"models": {}}}
    for name, model in bank.models.items():
        for part, m in ((result["models"], model), (result["untrained"]["models"], untrained(task, name, model))):
            t1 = time.perf_counter()
            rows = [row for batch in batches for row in batch_influence(task, m, batch)]
            curve = distance_curve(rows, distances)
            part[name] = {"distance": list(range(1, distances + 1)),
                          "relative_influence": [float(f"{v:.4g}") for v in curve],
                          "memory_length": memory_length(curve)}
            if progress:
                progress(f"{task} {name} ({'trained' if m is model else 'untrained'}): memory length "
                         f"{length_text(part[name])} {spec.unit}, "
                         f"{time.perf_counter() - t1:.1f} s")
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def fmt_length(length: int | None, distances: int = DISTANCES) -> str:
    return f"> {distances}" if length is None else str(length)


def length_text(curve: dict) -> str:
    """A model's memory length as shown: "> 100" when its curve stays above the threshold to the end."""
    return fmt_length(curve["memory_length"], len(curve["distance"]))


shown = textgen.shown


def save_memory(folder: Path, result: dict) -> Path:
    path = Path(folder) / MEMORY_FILE
    checkpoints.write_json(path, result)
    return path


def load_memory(folder: Path) -> dict | None:
    """The stored distance curves of a task (`memory TASK --save`), or None when there are none yet."""
    path = Path(folder) / MEMORY_FILE
    if not path.is_file():
        return None
    result = checkpoints.read_json(path)
    if not isinstance(result, dict) or not isinstance(result.get("models"), dict):
        raise checkpoints.CheckpointError(f"{path} holds no distance curves")
    return result


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
