"""Serving: the shipped character models loaded once, answering generation and next-character requests,
and their evaluation on the validation reviews."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from seqcompare import UserError, checkpoints, data, devices, precision as precisions, validate
from seqcompare.i18n import said
from seqcompare.textgen.corpus import END, VOCAB_FILE, shown, corpus, load_vocab, split_reviews
from seqcompare.textgen.decode import Draw, check_settings, clean_seed, write_many
from seqcompare.textgen.train import MODELS, build, score_text


def load_models(folder: Path, names=MODELS, device: torch.device | str = "cpu"):
    """(vocab, {name: model}, {name: meta}, {name: error})."""
    folder = Path(folder)
    try:
        vocab = load_vocab(folder)
    except checkpoints.CheckpointError as exc:
        return None, {}, {}, {n: str(exc) for n in names}

    def check(name, model, m):
        if model.cfg.vocab_size != len(vocab):
            raise checkpoints.CheckpointError(f"{name} expects {model.cfg.vocab_size} characters, "
                                              f"{VOCAB_FILE} has {len(vocab)}")

    models, meta, errors = checkpoints.load_all(folder, names, build, check,
                                               (*checkpoints.META, "validation", "textbook_parameters"), device)
    return vocab, models, meta, errors


def evaluate(folder: Path, data_dir: Path | None, limit: int | None = None, models=MODELS,
             device: torch.device | str = "cpu", precision: str | None = None) -> dict:
    """bpc, perplexity and characters scored on the validation reviews, recomputed from the checkpoints
    at the serving `precision` (see seqcompare.precision), which each entry names."""
    vocab, loaded, _, errors = load_models(folder, models, device)
    result = {n: {"error": e} for n, e in errors.items()}
    if loaded:
        served, plans = precisions.serve_all(loaded, precision, "hotel", Path(folder).parent)
        _, val = split_reviews(data.hotel_reviews(data_dir))
        ids = torch.tensor(vocab.encode(corpus(val[:limit] if limit else val)))
        for name, model in served.items():
            result[name] = {**score_text(model, ids), "precision": plans[name]}
    return {n: result[n] for n in models}


def written(checked: dict, text: str, ms: float, score: float | None = None) -> dict:
    """One model's part of an answer: the seed and its continuation, the ms it took, the characters written
    and whether the model ended the review (wrote its end) before the length asked; a beam search's score (mean
    log-probability per character) too."""
    out = {"text": checked["seed"] + text, "ms": ms, "characters": len(text), "ended": len(text) < checked["length"]}
    if score is not None:
        out["score"] = round(score, 4)
    return out


SEEDS = 2**32             # distinct random seeds: torch's CPU generator reads the low 32 bits of its seed


class TextModels:
    """The character models (RNN, LSTM, GRU, Transformer) and their vocabulary, loaded once: `models` in
    fp32 (the analysis views and their gradients), `served` at the serving `precision` (generation and
    next characters; `plans` names each one's)."""

    def __init__(self, folder: Path, names=MODELS, device: torch.device | str = "cpu", precision: str | None = None):
        self.folder = Path(folder)                       # the task's checkpoints and stored results
        self.vocab, self.models, self.meta, self.errors = load_models(folder, names, device)
        self.served, self.plans = precisions.serve_all(self.models, precision, "hotel", Path(folder).parent)
        self.names = tuple(names)

    def _unavailable(self) -> dict:
        return {n: {"error": said("errors.unavailable", reason=e)} for n, e in self.errors.items()}

    def generate(self, seed: str = "早餐", length: int = 100, temperature: float = 0.8, top_k: int = 20,
                 random_seed: int = 0, top_p: float = 1.0, beams: int = 1, stop_at_end: bool = True) -> dict:
        """Each model's continuation of `seed` and the ms it took; the same random seed gives the same text.
        With beams > 1, beam search (deterministic) instead of sampling."""
        answer = self.generate_many([(seed, length, temperature, top_k, random_seed, top_p, beams)], stop_at_end)[0]
        if isinstance(answer, UserError):
            raise answer
        return answer

    def generate_many(self, requests: list[tuple], stop_at_end: bool = True) -> list[dict | UserError]:
        """`generate` for several requests at once — a server's concurrent users, each a tuple of `generate`'s
        arguments. Every model writes all of them together (see `write_many`): each step reads its weights
        once for the sampled continuations and the beams of every beam search alike, so each request gets
        the text it gets alone, a beam search does not hold the others up, and `ms` is the batch's time for
        that model (`"batch"` says how many shared it). A request with bad settings gets its UserError in
        its place. (A server admits requests into a batch as it writes: `textgen.Writer`.)"""
        checked = self.check_all(requests)
        good = [i for i, c in enumerate(checked) if not isinstance(c, UserError)]
        sampled = [i for i in good if checked[i]["beams"] == 1]
        searched = [i for i in good if checked[i]["beams"] > 1]
        answers = {i: self._unavailable() for i in good}
        searches = [self.search(checked[i]) for i in searched]
        for name, model in self.served.items():
            # every model draws from a fresh generator seeded alike, so the columns compare
            draws = [self.draw(checked[i]) for i in sampled]
            t0 = time.perf_counter()
            texts, found = write_many(model, self.vocab, draws, searches, stop_at_end)
            ms = round((time.perf_counter() - t0) * 1000, 2)
            for i, text in zip(sampled, texts):
                answers[i][name] = written(checked[i], text, ms)
            for i, (text, score) in zip(searched, found):
                answers[i][name] = written(checked[i], text, ms, score)
        return [c if isinstance(c, UserError) else self.answer(c, answers[i], len(good))
                for i, c in enumerate(checked)]

    def check_all(self, requests: list[tuple]) -> list[dict | UserError]:
        """Each request's settings checked (`check`), or the UserError that refuses it."""
        checked = []
        for request in requests:
            try:
                checked.append(self.check(*request))
            except UserError as exc:
                checked.append(exc)
        return checked

    @staticmethod
    def draw(checked: dict) -> Draw:
        """A sampled request's `Draw`, with a fresh generator from its random seed (each model draws alike)."""
        return Draw(checked["seed"], checked["length"], checked["temperature"], checked["top_k"], checked["top_p"],
                    torch.Generator().manual_seed(checked["random_seed"]))

    @staticmethod
    def search(checked: dict) -> tuple[str, int, int]:
        """A beam-search request's (seed, length, beams), as `write_many` takes it."""
        return checked["seed"], checked["length"], checked["beams"]

    def answer(self, checked: dict, models: dict, batch: int) -> dict:
        """A request's answer: its seed, notices and each model's text (`written`), in the bank's order, and how
        many requests were written with it ("batch", when more than one)."""
        result = {"seed": checked["seed"], "notices": checked["notices"],
                  "models": {n: models[n] for n in self.names if n in models}}
        if batch > 1:
            result["batch"] = batch
        return result

    def check(self, seed, length=100, temperature=0.8, top_k=20, random_seed=0, top_p=1.0, beams=1) -> dict:
        """One request's settings, checked (a UserError for what cannot be used), with its notices."""
        length, temperature, top_k, top_p, beams, notices = check_settings(length, temperature, top_k, top_p, beams)
        seed, seed_notices = clean_seed(seed)
        asked = validate.whole(validate.random_seed(random_seed, notices), "random seed")   # 1.5, "two": refused
        random_seed = asked % SEEDS                # torch's generator reads 32 bits of its seed: say where it wraps
        if random_seed != asked:
            notices.append(said("notices.seed_wrapped", asked=asked, seed=random_seed, most=f"{SEEDS - 1:,}"))
        if self.vocab:
            seed_notices += self.vocab.notices(seed)
        return {"seed": seed, "length": length, "temperature": temperature, "top_k": top_k, "top_p": top_p,
                "beams": beams, "random_seed": random_seed, "notices": notices + seed_notices}

    @torch.inference_mode()
    def next_chars(self, seed: str, k: int = 10) -> dict[str, list[tuple[str, float]]]:
        """Each model's k most likely next characters after `seed` (END shown as END_SHOWN)."""
        seed, _ = clean_seed(seed)
        out = {}
        for name, model in self.served.items():
            logits, _ = model(torch.tensor([self.vocab.encode(END + seed)], device=devices.of(model)))
            logits[0, -1, 0] = -math.inf                     # the unknown character is never written
            probs = logits[0, -1].float().softmax(-1).cpu()
            top = probs.topk(k)
            out[name] = [(shown([self.vocab.chars[i]])[0], round(float(p), 5))
                         for p, i in zip(top.values, top.indices)]
        return out
