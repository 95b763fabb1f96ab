"""Reviews: IMDb sentiment with RNN, LSTM and GRU; one tokenizer, one recipe, live word-by-word traces."""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from seqcompare import CELLS, UserError, checkpoints, data, devices, metrics, precision as precisions
from seqcompare.i18n import said
from seqcompare.models import ReviewClassifier, ReviewClassifierConfig, count_parameters
from seqcompare.training import TrainConfig, classification_batch, fit, settings

MODELS = CELLS
LABELS = [0, 1]
CLASS_NAMES = ["negative", "positive"]
VOCAB_SIZE = 25000
TRAIN_TOKENS = 1000       # training reads reviews as the app does, up to 1,000 tokens
MAX_TOKENS = 1000         # live input beyond this is truncated, with a notice
MAX_CHARS = 20000         # characters looked at in a live review
W2V_EPOCHS = 5            # word2vec passes over the training reviews before the classifiers train
CROP_SHARE = 0.25         # of the training reviews is read as a random window each epoch
VAL_BLOCK = 250           # validation: every 10th block of 250 consecutive review ids (mostly whole films)
RECIPE = TrainConfig(epochs=4, batch_size=64, lr=3e-3, weight_decay=1e-2)
ARCH = {"embed_size": 256, "hidden_size": 128, "dropout": 0.4, "word_dropout": 0.2}   # shared by the cells
TOKENIZER_FILE = "tokenizer.json"
SHORT_REVIEWS = Path(__file__).resolve().parent / "assets" / "short_reviews.jsonl"


# --- text → tokens ----------------------------------------------------------------------------

def new_tokenizer():
    """Word-level tokenizer: HTML tags out, Unicode-normalised, lower case, words and punctuation apart."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    tok = Tokenizer(WordLevel(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(r"<[^>]{0,100}>"), " "), normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


def train_tokenizer(texts: list[str]):
    from tokenizers.trainers import WordLevelTrainer

    tok = new_tokenizer()
    tok.train_from_iterator(texts, WordLevelTrainer(vocab_size=VOCAB_SIZE, min_frequency=2,
                                                    special_tokens=["<pad>", "<unk>"], show_progress=False))
    return tok


def load_tokenizer(folder: Path):
    from tokenizers import Tokenizer

    path = Path(folder) / TOKENIZER_FILE
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:      # tokenizers raises a plain Exception for bad files
        raise checkpoints.CheckpointError(f"{path} cannot be read ({str(exc).splitlines()[0][:120]})") from None


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def encode(tok, texts: list[str], max_tokens: int) -> list[list[int]]:
    return [e.ids[:max_tokens] for e in tok.encode_batch(texts)]


def word_vectors(ids: list[list[int]], vocab_size: int, dim: int, seed: int = 0) -> torch.Tensor:
    """Skip-gram word2vec (gensim) on the training reviews: a starting point for the embeddings that
    knows rare words from their neighbours, shared by the three cells. Standardised per dimension."""
    from gensim.models import Word2Vec

    w2v = Word2Vec([[str(i) for i in seq] for seq in ids], vector_size=dim, window=5, min_count=1, sg=1,
                   negative=5, epochs=W2V_EPOCHS, workers=1, seed=seed)
    vectors = torch.randn(vocab_size, dim, generator=torch.Generator().manual_seed(seed)) * 0.1
    known = [i for i in range(vocab_size) if str(i) in w2v.wv.key_to_index]
    vectors[known] = torch.from_numpy(w2v.wv[[str(i) for i in known]].copy())
    vectors = (vectors - vectors[known].mean(0)) / vectors[known].std(0)
    vectors[0] = 0                                           # <pad>
    return vectors


def cached_word_vectors(ids: list[list[int]], vocab_size: int, dim: int, seed: int = 0) -> torch.Tensor:
    """`word_vectors`, kept on disk (safetensors in the cache folder) under a key made of the encoded
    training reviews — so of the tokenizer and the data — and the word2vec settings: a study's trials, a
    resumed study and another grid over the same reviews all start from the same vectors, computed once."""
    from safetensors.torch import load_file, save_file

    key = hashlib.sha256(json.dumps([vocab_size, dim, W2V_EPOCHS, seed]).encode())
    key.update(np.asarray([len(s) for s in ids], dtype=np.int64).tobytes())
    key.update(np.concatenate([np.empty(0, np.int64)] + [np.asarray(s, dtype=np.int64) for s in ids]).tobytes())
    path = data.CACHE_DIR / "word2vec" / f"{key.hexdigest()[:24]}.safetensors"
    if path.is_file():
        try:
            vectors = load_file(str(path))["vectors"]
            if vectors.shape == (vocab_size, dim):
                print(f"word2vec: starting vectors from the cache ({path})")
                return vectors
        except Exception:                                    # unreadable: compute them again
            pass
    vectors = word_vectors(ids, vocab_size, dim, seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        save_file({"vectors": vectors.contiguous()}, str(tmp))
        tmp.replace(path)                                    # atomic: a reader never sees half a file
    except OSError:                                          # a read-only cache only costs the time
        pass
    return vectors


# --- batches of similar length ----------------------------------------------------------------

def length_batches(ids: list[list[int]], labels: list[int], batch_size: int, *, shuffle: bool, seed: int = 0):
    """Padded (tokens, lengths), labels batches of reviews of similar length (little padding, no packing)."""
    rng = random.Random(seed)                    # shuffled: jitter lengths so batches differ between epochs
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]) + (rng.uniform(-8, 8) if shuffle else 0))
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        random.Random(seed + 1).shuffle(chunks)
    for chunk in chunks:
        yield pad([ids[i] for i in chunk]), torch.tensor([labels[i] for i in chunk])


def crops(ids: list[list[int]], seed: int, share: float = CROP_SHARE, shortest: int = 5) -> list[list[int]]:
    """Each epoch, `share` of the reviews is replaced by a random window of it, log-uniformly 5 tokens to
    whole: the models learn that short snippets are typed reviews too, and longer ones see more variety."""
    rng = random.Random(seed)
    out = []
    for seq in ids:
        if len(seq) > shortest and rng.random() < share:
            n = round(math.exp(rng.uniform(math.log(shortest), math.log(len(seq)))))
            start = rng.randint(0, len(seq) - n)
            seq = seq[start:start + n]
        out.append(seq)
    return out


def pad(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([max(len(s), 1) for s in seqs])
    tokens = torch.zeros(len(seqs), int(lengths.max()), dtype=torch.long)
    for row, s in enumerate(seqs):
        tokens[row, :len(s)] = torch.tensor(s, dtype=torch.long)
    return tokens, lengths


# --- training and evaluation -----------------------------------------------------------------

def build(name: str, config: dict | None = None) -> ReviewClassifier:
    if name not in CELLS:
        raise ValueError(f"unknown review model {name!r}")
    return ReviewClassifier(ReviewClassifierConfig(**(config or {"cell": name})))


def splits(data_dir: Path | None) -> dict[str, tuple[list[str], list[int]]]:
    """train / val / test. Validation is 2,500 training reviews in blocks of consecutive ids, so that
    most films are wholly on one side: a random split shares films (names, plots) with training and
    overrates the models by about two points."""
    texts, labels, ids = data.imdb(data_dir, "train")
    is_val = [(i // VAL_BLOCK) % 10 == 0 for i in ids]
    pick = lambda keep: ([t for t, v in zip(texts, is_val) if v == keep], [y for y, v in zip(labels, is_val) if v == keep])
    test_texts, test_labels, _ = data.imdb(data_dir, "test")
    return {"train": pick(False), "val": pick(True), "test": (test_texts, test_labels)}


def spread(items: list, limit: int | None) -> list:
    """`limit` items evenly spaced over `items` (all without a limit): the IMDb files are sorted by label,
    so a slice keeps both labels in proportion. `train --limit N` and `evaluate --limit N` use the same one."""
    if not limit or limit >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def prepare(data_dir: Path | None, limit: int | None = None, cache: bool = False) -> dict:
    """Everything the models of one run share: the splits, the tokenizer learned from the training
    split, the encoded reviews and the word2vec starting embeddings (with `cache`, kept on disk)."""
    sets = splits(data_dir)
    if limit:                                          # smoke runs: a few reviews of each split, both labels
        sets = {k: (spread(x, limit), spread(y, limit)) for k, (x, y) in sets.items()}
    print(f"IMDb: {len(sets['train'][0])} train, {len(sets['val'][0])} validation, {len(sets['test'][0])} test reviews")
    tok = train_tokenizer(sets["train"][0])             # vocabulary from the training split only
    enc = {k: (encode(tok, x, TRAIN_TOKENS if k != "test" else MAX_TOKENS), y) for k, (x, y) in sets.items()}
    print(f"vocabulary: {tok.get_vocab_size()} tokens; mean train length "
          f"{np.mean([len(s) for s in enc['train'][0]]):.0f} tokens")
    t0 = time.perf_counter()
    vectors = (cached_word_vectors if cache else word_vectors)(enc["train"][0], tok.get_vocab_size(),
                                                               ARCH["embed_size"])
    w2v_seconds = round(time.perf_counter() - t0, 1)
    print(f"word2vec: {w2v_seconds:.0f}s for {tok.get_vocab_size()} × {ARCH['embed_size']} starting embeddings")
    return {"tokenizer": tok, **enc, "vectors": vectors, "word2vec_seconds": w2v_seconds}


def fit_model(name: str, prepared: dict, cfg: TrainConfig, arch: dict | None = None,
              device: torch.device | None = None):
    """Train one review model of `arch` (the shipped ARCH by default) from the shared word2vec start;
    returns (model on the CPU with its best validation weights, FitResult)."""
    (xtr, ytr), (xva, yva) = prepared["train"], prepared["val"]
    torch.manual_seed(cfg.seed)
    model = build(name, {"cell": name, "vocab_size": prepared["tokenizer"].get_vocab_size(), **(arch or ARCH)})
    with torch.no_grad():
        model.embed.weight.copy_(prepared["vectors"])
    print(f"training {name}: {count_parameters(model):,} parameters, {cfg}")
    result = fit(
        model,
        train_batches=lambda ep: length_batches(crops(xtr, seed=ep), ytr, cfg.batch_size, shuffle=True, seed=ep),
        val_batches=lambda: length_batches(xva, yva, 256, shuffle=False),
        batch_fn=classification_batch,
        summarize=lambda o: {"loss": o["loss"], **metrics.scores(o["y_true"], o["y_pred"], LABELS, "binary")},
        cfg=cfg, steps_per_epoch=math.ceil(len(xtr) / cfg.batch_size), name=name, device=device)
    return model, result


def train(models, data_dir: Path | None, out: Path, epochs: int | None = None, limit: int | None = None,
          device: torch.device | None = None, precision: str | None = None):
    prepared = prepare(data_dir, limit)
    out = Path(out)
    if devices.is_main():                            # rank 0 alone writes (the tokenizer is the same on every rank)
        checkpoints.write_json(out / TOKENIZER_FILE, json.loads(prepared["tokenizer"].to_str()))
        digest = file_digest(out / TOKENIZER_FILE)
    cfg = settings(RECIPE, epochs, device, precision)
    xte, yte = prepared["test"]
    for name in models:
        model, result = fit_model(name, prepared, cfg, device=device)
        if not devices.is_main():                    # rank 0 measures and writes
            continue
        checkpoints.round_to_half(model)                  # stored as float16: the embeddings dominate the size
        test = metrics.classification(yte, predict_labels(model, xte), LABELS, "binary")
        print(f"{name}: test accuracy {test['accuracy']:.4f} after {result.seconds:.0f}s of training")
        checkpoints.save(out, name, model, {
            "task": "imdb", "config": asdict(model.cfg), "train": asdict(cfg), "tokenizer_sha256": digest,
            "train_tokens": TRAIN_TOKENS, "parameters": count_parameters(model),
            "train_seconds": result.seconds, "word2vec_seconds": prepared["word2vec_seconds"],
            "best_epoch": result.best_epoch, "history": result.history, "test": test,
        }, dtype=torch.float16)


@torch.inference_mode()
def predict_labels(model: ReviewClassifier, ids: list[list[int]]) -> np.ndarray:
    """Predicted labels in the order of `ids` (batched by length internally)."""
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros(len(ids), dtype=np.int64)
    for start in range(0, len(order), 256):
        chunk = order[start:start + 256]
        out[chunk] = model(*devices.to(pad([ids[i] for i in chunk]), devices.of(model))).argmax(1).cpu().numpy()
    return out


def load_models(folder: Path, names=MODELS, device: torch.device | str = "cpu"):
    """(tokenizer, {name: model}, {name: meta}, {name: error}) with the vocabulary checked per model."""
    folder = Path(folder)
    try:
        tok = load_tokenizer(folder)
        digest = file_digest(folder / TOKENIZER_FILE)
    except checkpoints.CheckpointError as exc:
        return None, {}, {}, {n: str(exc) for n in names}

    def check(name, model, m):
        if m.get("tokenizer_sha256") != digest or model.cfg.vocab_size != tok.get_vocab_size():
            raise checkpoints.CheckpointError(f"{name} was trained with another vocabulary than {TOKENIZER_FILE}")

    models, meta, errors = checkpoints.load_all(folder, names, build, check, (*checkpoints.META, "test"), device)
    return tok, models, meta, errors


def short_reviews() -> tuple[list[str], list[int]]:
    """One-sentence reviews written for this project (never trained on): the live, typed use."""
    rows = [json.loads(line) for line in SHORT_REVIEWS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def evaluate(folder: Path, data_dir: Path | None, limit: int | None = None, models=MODELS,
             short: bool = False, device: torch.device | str = "cpu", precision: str | None = None) -> dict:
    """Metrics on the IMDb test split (or `limit` reviews spread evenly over it), or with `short` on the
    project's short reviews, recomputed from the checkpoints at the serving `precision` (named in each as
    "serving_precision")."""
    tok, loaded, _, errors = load_models(folder, models, device)
    result = {n: {"error": e} for n, e in errors.items()}
    if loaded:
        served, plans = precisions.serve_all(loaded, precision, "imdb", Path(folder).parent)
        texts, labels = short_reviews() if short else data.imdb(data_dir, "test")[:2]
        texts, labels = spread(texts, limit), spread(labels, limit)   # the test slice `train --limit` scores
        result.update({n: {**m, "serving_precision": plans[n]}     # ("precision" is the classification metric)
                       for n, m in score(tok, served, texts, labels).items()})
    return {n: result[n] for n in models}


def score(tok, models: dict, texts: list[str], labels: list[int]) -> dict[str, dict]:
    """Each model's classification metrics on `texts` (tokenized once for all)."""
    ids = encode(tok, texts, MAX_TOKENS)
    return {name: metrics.classification(labels, predict_labels(model, ids), LABELS, "binary")
            for name, model in models.items()}


# --- live predictions ----------------------------------------------------------------------

class ReviewModels:
    """The three review models and their shared tokenizer, loaded once."""

    def __init__(self, folder: Path, names=MODELS, device: torch.device | str = "cpu", precision: str | None = None):
        self.folder = Path(folder)                       # the task's checkpoints and stored results
        self.tokenizer, self.models, self.meta, self.errors = load_models(folder, names, device)
        self.served, self.plans = precisions.serve_all(self.models, precision, "imdb", Path(folder).parent)
        self.names = tuple(names)

    def tokenize(self, text: str) -> tuple[list[int], list[str], list[str]]:
        """ids, tokens and notices for a typed review; raises UserError when there is nothing to read."""
        if not isinstance(text, str) or not text.strip():
            raise UserError("errors.empty_review")
        notices = []
        if len(text) > MAX_CHARS:
            notices.append(said("notices.review_cut", n=f"{len(text):,}", limit=f"{MAX_CHARS:,}"))
            text = text[:MAX_CHARS]
        enc = self.tokenizer.encode(text)
        ids = enc.ids
        tokens = [text[a:b] for a, b in enc.offsets]        # the words as typed (unknown ones too)
        if len(ids) > MAX_TOKENS:
            notices.append(said("notices.tokens_cut", limit=f"{MAX_TOKENS:,}", n=f"{len(ids):,}"))
            ids, tokens = ids[:MAX_TOKENS], tokens[:MAX_TOKENS]
        words = [i for i, t in zip(ids, tokens) if any(ch.isalnum() for ch in t)]
        if not words:
            raise UserError("errors.no_words")
        unknown = sum(1 for i in words if i == self.tokenizer.token_to_id("<unk>"))
        if unknown == len(words):
            raise UserError("errors.unknown_words")
        if unknown / len(words) > 0.5:
            notices.append(said("notices.unknown_words", unknown=unknown, n=len(words)))
        return ids, tokens, notices

    def short_accuracy(self) -> dict[str, float]:
        """Each loaded model's accuracy on the project's one-sentence reviews."""
        if not self.models:
            return {}
        return {n: m["accuracy"] for n, m in score(self.tokenizer, self.models, *short_reviews()).items()}

    @torch.inference_mode()
    def predict(self, text: str, trace: bool = True) -> dict:
        """Every model's label, P(positive) and ms; with `trace`, P(positive) after each token."""
        if self.tokenizer is None:
            return {"tokens": [], "notices": [], "models": {n: {"error": said("errors.unavailable", reason=e)}
                                                             for n, e in self.errors.items()}}
        ids, tokens, notices = self.tokenize(text)
        x, lengths = pad([ids])
        answers = {}
        for name, model in self.served.items():
            t0 = time.perf_counter()
            x, lengths = devices.to((x, lengths), devices.of(model))
            positive = model(x, lengths).softmax(-1)[0, 1].item()
            ms = (time.perf_counter() - t0) * 1000
            answers[name] = {"label": int(positive >= 0.5), "positive": round(positive, 6), "ms": round(ms, 3)}
            if trace:
                answers[name]["trace"] = model.prefix_logits(x).softmax(-1)[0, :, 1].tolist()
        for name, reason in self.errors.items():
            answers[name] = {"error": said("errors.unavailable", reason=reason)}
        return {"tokens": tokens, "notices": notices, "models": {n: answers[n] for n in self.names if n in answers}}
