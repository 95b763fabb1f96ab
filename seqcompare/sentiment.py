"""The sentiment unit: how well the text models' states, learned without labels, know a review's sentiment.

Every ChnSentiCorp review is read whole, as the language models read a review (END, then its characters,
cleaned as `textgen.corpus` cleans them), by each text model: its state after the last character
("last") and the mean of its states over the characters ("mean"). The state is the hidden state, plus the
cell state for the LSTM; for the Transformer, the last block's residual stream, with the window held as
generation holds it (`TransformerLM.states`). Probes (scikit-learn, fitted on the training reviews of the
language models' split, scored on its validation reviews, balanced accuracy since about 68% are positive):

- all units: standardised features, logistic regression with balanced class weights, C by 5-fold
  cross-validation on the training reviews;
- the single best unit: the unit whose values separate the training reviews' labels best (ROC AUC farthest
  from 0.5), with the same probe on that unit alone;
- a bag of character 1–2-grams with the same probe (the supervised floor).

Last or mean is chosen by the probe's cross-validated balanced accuracy on the training reviews. The
dashboard reads the shipped probes (`checkpoints/hotel/sentiment.json`); `python -m seqcompare sentiment
hotel` recomputes them, and `sentiment_fixed` writes with the unit held fixed.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch

from seqcompare import UserError, checkpoints, data, reviews, textgen
from seqcompare.i18n import said
from seqcompare.textgen.corpus import split_rows

SENTIMENT_FILE = "sentiment.json"
READINGS = ("last", "mean")
BATCH = 32                        # reviews read together (sorted by length)
FOLDS = 5
CS = 8                            # regularisation strengths tried by the cross-validation, 1e-4 … 1e2
SEED = 0


def labelled_split(data_dir) -> tuple[list[str], list[int], list[str], list[int]]:
    """Training reviews, their labels, validation reviews, their labels: the language models' split."""
    reviews, labels = data.hotel_reviews(data_dir), data.hotel_labels(data_dir)
    train, val = split_rows(reviews)
    return ([textgen.clean(reviews[i]) for i in train], [labels[i] for i in train],
            [textgen.clean(reviews[i]) for i in val], [labels[i] for i in val])


# --- the states ------------------------------------------------------------------------------------

@torch.inference_mode()
def review_states(model, vocab: textgen.Vocab, texts: list[str], batch: int = BATCH) -> dict[str, np.ndarray]:
    """{"last": (N, D), "mean": (N, D)}: each text's state after its last character and its mean state over
    its characters, read after END; D is the hidden size (twice it for the LSTM: hidden, then cell)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    last, mean = [None] * len(texts), [None] * len(texts)
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        ids = [vocab.encode(textgen.END + texts[i]) for i in rows]
        tokens = reviews.pad(ids)[0]
        states = torch.cat(list(model.states(tokens).values()), -1).float()       # (B, T, D)
        for r, (i, seq) in enumerate(zip(rows, ids)):
            n = len(seq)
            last[i] = states[r, n - 1].numpy()
            mean[i] = states[r, 1:n].mean(0).numpy() if n > 1 else states[r, 0].numpy()
    return {"last": np.stack(last), "mean": np.stack(mean)}


def state_names(model) -> list[str]:
    """The parts of the feature vector in order ("hidden", then "cell" for the LSTM; "residual")."""
    with torch.inference_mode():
        return list(model.states(torch.zeros(1, 1, dtype=torch.long)).keys())


# --- the probes ------------------------------------------------------------------------------------

def fit_probe(x: np.ndarray, y: list[int]):
    """Standardised features → logistic regression, balanced classes, C by cross-validation (balanced
    accuracy) on these reviews. Returns the fitted pipeline and its cross-validated balanced accuracy."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sparse = hasattr(x, "tocsr")
    probe = make_pipeline(StandardScaler(with_mean=not sparse),
                          LogisticRegressionCV(Cs=np.logspace(-4, 2, CS).tolist(), class_weight="balanced",
                                               cv=StratifiedKFold(FOLDS, shuffle=True, random_state=SEED),
                                               scoring="balanced_accuracy", max_iter=3000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)        # scikit-learn 1.9's notices of 1.10's defaults
        probe.fit(x, y)
    lr = probe[-1]
    cv = float(np.max(np.mean(lr.scores_[1], axis=0)))
    return probe, cv


def balanced_accuracy(probe, x, y) -> float:
    from sklearn.metrics import balanced_accuracy_score
    return float(balanced_accuracy_score(y, probe.predict(x)))


def best_unit(x: np.ndarray, y: list[int], among: range | None = None) -> tuple[int, float]:
    """The unit (column) whose values separate the labels best, and its ROC AUC (> 0.5: higher is positive)."""
    from sklearn.metrics import roc_auc_score
    columns = among if among is not None else range(x.shape[1])
    aucs = {j: float(roc_auc_score(y, x[:, j])) for j in columns}
    unit = max(aucs, key=lambda j: abs(aucs[j] - 0.5))
    return unit, aucs[unit]


def probe_json(probe) -> dict:
    """A fitted pipeline as numbers the app reads: P(positive) = σ(coef · (x − mean) / scale + intercept)."""
    scaler, lr = probe[0], probe[-1]
    return {"mean": np.round(scaler.mean_, 6).tolist(), "scale": np.round(scaler.scale_, 6).tolist(),
            "coef": np.round(lr.coef_[0], 6).tolist(), "intercept": round(float(lr.intercept_[0]), 6),
            "C": float(lr.C_[0])}


def positive_probability(probe: dict, x: np.ndarray) -> np.ndarray:
    """P(positive) of a shipped probe (`probe_json`) for features x (N, D) or (D,)."""
    z = (np.asarray(x, dtype=np.float64) - probe["mean"]) / probe["scale"] @ np.asarray(probe["coef"]) + probe["intercept"]
    return 1 / (1 + np.exp(-z))


def ngram_judge(train: list[str], y: list[int]):
    """The bag of character 1–2-grams with the same probe: (vectoriser, fitted pipeline, cv score)."""
    from sklearn.feature_extraction.text import CountVectorizer
    vectoriser = CountVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2)
    probe, cv = fit_probe(vectoriser.fit_transform(train), y)
    return vectoriser, probe, cv


# --- one model: the probes, the units, the reading chosen ------------------------------------------

def model_probes(model, vocab, split, log=print) -> tuple[dict, dict]:
    """One model's probes (JSON) and its training states {"last", "mean"} (for the held values)."""
    train, y_train, val, y_val = split
    t0 = time.perf_counter()
    x_train, x_val = review_states(model, vocab, train), review_states(model, vocab, val)
    log(f"  states read in {time.perf_counter() - t0:.0f} s")
    readings = {}
    for reading in READINGS:
        probe, cv = fit_probe(x_train[reading], y_train)
        unit, auc = best_unit(x_train[reading], y_train)
        single, single_cv = fit_probe(x_train[reading][:, [unit]], y_train)
        readings[reading] = {
            "all_units": round(balanced_accuracy(probe, x_val[reading], y_val), 4), "train_cv": round(cv, 4),
            "single_unit": round(balanced_accuracy(single, x_val[reading][:, [unit]], y_val), 4),
            "single_train_cv": round(single_cv, 4), "unit": unit, "auc": round(auc, 4),
            "probe": probe_json(probe), "single_probe": probe_json(single)}
        log(f"  {reading}: all units {readings[reading]['all_units']}, unit {unit} "
            f"{readings[reading]['single_unit']} (cv {cv:.3f}) {time.perf_counter() - t0:.0f} s")
    return readings, x_train


def describe_unit(unit: int, names: list[str], hidden: int) -> dict:
    """Which state a feature column is: {"state": "cell", "index": 17, "feature": 401}."""
    return {"state": names[unit // hidden], "index": unit % hidden, "feature": unit}


def compute(folder: Path, data_dir, names=None, generate: bool = False, log=print) -> dict:
    """Every text model's probes, units and scores, and the n-gram floor, recomputed from the data folder
    and the checkpoints; with `generate`, also the writing with the unit held fixed (`fixed_unit`)."""
    vocab, models, _, errors = textgen.load_models(folder, names or textgen.MODELS)
    if not models:
        raise checkpoints.none_loaded(errors, "text")
    split = labelled_split(data_dir)
    train, y_train, val, y_val = split
    vectoriser, ngrams, ngram_cv = ngram_judge(train, y_train)
    from seqcompare.machine import machine
    result = {"machine": machine(), "reviews": {"train": len(train), "validation": len(val),
                          "positive_share": round(float(np.mean(y_train + y_val)), 4)},
              "baseline": {"bag_of_ngrams": round(balanced_accuracy(ngrams, vectoriser.transform(val), y_val), 4),
                           "bag_of_ngrams_train_cv": round(ngram_cv, 4)},
              "models": {}, "held": {}}
    log(f"bag of 1-2-grams: {result['baseline']['bag_of_ngrams']}")
    for name, model in models.items():
        log(name)
        readings, x_train = model_probes(model.float().eval(), vocab, split, log)
        chosen = max(READINGS, key=lambda r: readings[r]["train_cv"])
        parts = state_names(model)
        hidden = x_train["last"].shape[1] // len(parts)
        best = readings[chosen]
        result["models"][name] = {
            "reading": chosen, "all_units": best["all_units"], "single_unit": best["single_unit"],
            "unit": describe_unit(best["unit"], parts, hidden), "readings": readings, "states": parts,
            "hidden_size": hidden}
        result["held"][name] = held_values(x_train["last"], y_train, parts, hidden)
        if generate and model.context is None:
            result.setdefault("fixed", {})[name] = fixed_unit(model, vocab, result["held"][name],
                                                               result["models"][name], (vectoriser, ngrams), log)
    if generate:
        result["generation"] = {"reviews": GENERATED, "temperature": TEMPERATURE, "length": MAX_WRITTEN,
                                "seed": SEED}
    return result


def held_values(x_last: np.ndarray, y: list[int], parts: list[str], hidden: int, low=1, high=99) -> dict:
    """The unit to hold while writing (the best unit of the held state: the cell state for an LSTM, the
    first state otherwise), and its positive and negative values: the training reviews' 1st and 99th
    percentiles of its last state, on the side of each label."""
    held = "cell" if "cell" in parts else parts[0]
    offset = parts.index(held) * hidden
    unit, auc = best_unit(x_last, y, range(offset, offset + hidden))
    lo, hi = np.percentile(x_last[:, unit], [low, high])
    positive, negative = (hi, lo) if auc > 0.5 else (lo, hi)
    return {"state": held, "index": unit - offset, "auc": round(auc, 4),
            "positive": round(float(positive), 4), "negative": round(float(negative), 4)}


def load(folder: Path) -> dict | None:
    """The shipped probes (`checkpoints/hotel/sentiment.json`), or None if not computed yet."""
    path = Path(folder) / SENTIMENT_FILE
    return checkpoints.read_json(path) if path.is_file() else None


# --- writing with the unit held fixed (Radford et al., 2017) -------------------------------------------

GENERATED = 200                   # reviews per model and direction
TEMPERATURE = 1.0                 # sampling from the model's own distribution
MAX_WRITTEN = 200                 # characters at most; a review ends at END


class HeldUnit(torch.nn.Module):
    """A character model whose held unit is set to `value` after every step (`CharLM.hold`), decoded as the
    model itself is (`textgen.decode`); value None leaves it free."""

    context = None

    def __init__(self, model, unit: int, value: float | None):
        super().__init__()
        self.model, self.unit, self.value = model, unit, value

    def forward(self, tokens, state=None):
        logits, state = self.model(tokens, state)
        return logits, state if self.value is None else self.model.hold(state, self.unit, self.value)

    def reorder_state(self, state, index):
        return self.model.reorder_state(state, index)

    def merge_states(self, states):
        return self.model.merge_states(states)


@torch.inference_mode()
def write_held(model, vocab, unit: int, value: float | None, n: int = GENERATED, seed: int = SEED) -> list[str]:
    """n reviews written from a review's start with the unit held at `value` (None: free running)."""
    held = HeldUnit(model, unit, value).eval()
    first = textgen.prompt(held, vocab, "")
    generators = [torch.Generator().manual_seed(seed * 100003 + i) for i in range(n)]
    draws = [textgen.Draw("", MAX_WRITTEN, TEMPERATURE, 0, 1.0, g) for g in generators]
    ids = textgen.decode(held, draws, [first] * n, vocab.index[textgen.END], True)
    return [vocab.decode(chars) for chars in ids]


def fixed_unit(model, vocab, held: dict, probes: dict, judge, log=print) -> dict:
    """The fraction of written reviews judged positive, by the model's own all-units probe and by the
    n-gram classifier, with the unit held positive, held negative, and free."""
    vectoriser, ngrams = judge
    probe = probes["readings"][probes["reading"]]["probe"]
    answer = {"unit": held}
    for direction, value in (("positive", held["positive"]), ("negative", held["negative"]), ("free", None)):
        t0 = time.perf_counter()
        texts = write_held(model, vocab, held["index"], value)
        x = review_states(model, vocab, texts)[probes["reading"]]
        answer[direction] = {
            "probe_positive": round(float(np.mean(positive_probability(probe, x) > 0.5)), 4),
            "ngram_positive": round(float(np.mean(ngrams.predict(vectoriser.transform(texts)))), 4),
            "mean_length": round(float(np.mean([len(t) for t in texts])), 1), "examples": texts[:3]}
        log(f"  held {direction}: {answer[direction]} ({time.perf_counter() - t0:.0f} s)")
    return answer


# --- one typed review: each model's answer and its unit under every character ---------------------------

MAX_REVIEW = 2000                 # characters of a typed review read (the first ones)


def analyse(bank: textgen.TextModels, text, shipped: dict) -> dict:
    """Each text model's P(positive) for a typed review from its shipped all-units probe (on its chosen
    reading), and its sentiment unit after every character, standardised as its single-unit probe sees it
    and signed so that positive leans positive ("lean")."""
    text, notices = textgen.clean(text) if isinstance(text, str) else "", []
    if not text:
        raise UserError("cells.errors.empty_review")
    if len(text) > MAX_REVIEW:
        notices.append(said("notices.text_cut", n=f"{len(text):,}", limit=f"{MAX_REVIEW:,}"))
        text = text[:MAX_REVIEW]
    if bank.vocab is None:
        raise UserError("cells.errors.no_models")
    notices += bank.vocab.notices(text)
    ids = torch.tensor([bank.vocab.encode(textgen.END + text)])
    answers = {n: {"error": said("errors.unavailable", reason=e)} for n, e in bank.errors.items()}
    for name, model in bank.models.items():
        m = shipped["models"].get(name)
        if m is None:
            continue
        t0 = time.perf_counter()
        with torch.inference_mode():
            states = torch.cat(list(model.states(ids.to(next(model.parameters()).device)).values()), -1)[0].float().cpu()
        reading = m["readings"][m["reading"]]
        feature = states[-1] if m["reading"] == "last" else states[1:].mean(0)
        single, unit = reading["single_probe"], m["unit"]["feature"]
        lean = (states[1:, unit].numpy() - single["mean"][0]) / single["scale"][0] * np.sign(single["coef"][0])
        answers[name] = {"positive": round(float(positive_probability(reading["probe"], feature.numpy())), 4),
                         "unit": m["unit"], "values": [round(float(v), 4) for v in states[1:, unit]],
                         "lean": [round(float(v), 3) for v in lean], "ms": round((time.perf_counter() - t0) * 1000, 2)}
    return {"text": text, "characters": list(text), "notices": notices,
            "models": {n: answers[n] for n in bank.names if n in answers}}


# --- the table -----------------------------------------------------------------------------------

def table(result: dict) -> dict:
    """The probe table (balanced accuracies on the validation reviews), and the fixed-unit writing if measured."""
    out = {"baseline": {"bag_of_ngrams": result["baseline"]["bag_of_ngrams"]}, "models": {}}
    for name, m in result["models"].items():
        out["models"][name] = {"all_units": m["all_units"], "single_unit": m["single_unit"], "unit": m["unit"],
                               "reading": m["reading"],
                               **{r: {k: m["readings"][r][k] for k in ("all_units", "single_unit", "train_cv")}
                                  for r in READINGS}}
    if "fixed" in result:
        out["fixed"] = {name: {d: {k: f[d][k] for k in ("probe_positive", "ngram_positive")}
                               for d in ("positive", "negative", "free")} | {"unit": f["unit"]}
                        for name, f in result["fixed"].items()}
    return out


def describe(result: dict) -> str:
    """The probe table as text (the command line's answer)."""
    lines = [f"balanced accuracy on {result['reviews']['validation']:,} validation reviews "
             f"(probes fitted on {result['reviews']['train']:,} training reviews)",
             f"{'model':12s} {'reading':8s} {'all units':>9s} {'one unit':>9s}  unit   (last / mean, all units)"]
    for name, m in result["models"].items():
        r = m["readings"]
        lines.append(f"{name:12s} {m['reading']:8s} {m['all_units']:9.3f} {m['single_unit']:9.3f}  "
                     f"{m['unit']['state']} {m['unit']['index']}  ({r['last']['all_units']:.3f} / "
                     f"{r['mean']['all_units']:.3f})")
    lines.append(f"{'n-grams':12s} {'':8s} {result['baseline']['bag_of_ngrams']:9.3f}  (bag of character 1-2-grams)")
    for name, f in result.get("fixed", {}).items():
        lines.append(f"{name} held {f['unit']['state']} {f['unit']['index']}: judged positive (probe / n-grams) "
                     + ", ".join(f"{d} {f[d]['probe_positive']:.2f} / {f[d]['ngram_positive']:.2f}"
                                 for d in ("positive", "negative", "free")))
    return "\n".join(lines)
