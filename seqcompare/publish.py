"""Publish one task's trained models to a Hugging Face model repository, with a model card written from
their checkpoint JSONs (metrics, recipe, data, intended use, limitations): nothing in the card is typed
by hand, so it says what the checkpoints measured."""

from __future__ import annotations

import json
from pathlib import Path

from seqcompare import UserError, checkpoints, deploy

# what each task is, for the card: the models' file shared by all, the data set, the Hub's task tag
TASKS = {
    "mnist": {"title": "MNIST digits read row by row", "module": "digits", "shared": None, "dataset": "ylecun/mnist",
              "pipeline": "image-classification", "metric": "test",
              "data": "MNIST: 55,000 training images, 5,000 held out for validation (choosing the epoch), "
                      "the 10,000 test images for the metrics.",
              "use": "Classifying centred, MNIST-like handwritten digits (28×28, light on dark, normalised with "
                     "mean 0.1307, std 0.3081); comparing how RNN, LSTM, GRU and LeNet-5 learn the same task.",
              "limits": "Trained on MNIST only: digits that are not centred and scaled as MNIST's are (photos, "
                        "several digits, letters) get confident but meaningless answers — the seqcompare app "
                        "brings a drawing to MNIST's convention first."},
    "imdb": {"title": "IMDb movie-review sentiment", "module": "reviews", "shared": "tokenizer.json", "dataset": "stanfordnlp/imdb",
             "pipeline": "text-classification", "metric": "test",
             "data": "IMDb: 22,500 training reviews, 2,500 held out for validation (blocks of consecutive ids, "
                     "so that most films sit on one side), the 25,000 test reviews for the metrics.",
             "use": "Classifying English movie reviews as positive or negative, word by word (the answer after "
                    "each word is what the model would say if the review stopped there); teaching how the "
                    "three recurrent cells differ.",
             "limits": "English IMDb movie reviews only; negation is weak (\"Not bad.\" reads as "
                       "negative) and sarcasm is not understood. Text beyond 1,000 tokens is not read. Not for "
                       "decisions about people."},
    "hotel": {"title": "Chinese hotel reviews, character language models", "module": "textgen", "shared": "vocab.json",
              "dataset": "dirtycomputer/ChnSentiCorp_htl_all", "pipeline": "text-generation",
              "metric": "validation",
              "data": "ChnSentiCorp hotel reviews: rows whose index % 10 == 9 are the validation reviews, the rest "
                      "the training text; every review ends with a newline.",
              "use": "Generating Chinese hotel-review-like text from a seed, and comparing how far back RNN, LSTM, "
                     "GRU and a small Transformer use their context.",
              "limits": "Small character models: the text is fluent locally but invents facts, and reflects the "
                        "opinions and biases of the reviews it was trained on. Not for anything that must be "
                        "true."},
}


def models(folder: Path) -> dict[str, dict]:
    """The checkpoint JSONs in `folder` that have their weights beside them, by model name."""
    found = {}
    for path in sorted(Path(folder).glob("*.json")):
        if path.with_suffix(".safetensors").is_file():
            try:
                meta = checkpoints.read_json(path)
            except checkpoints.CheckpointError as exc:
                raise UserError(str(exc)) from None
            if isinstance(meta, dict) and "config" in meta:
                found[path.stem] = meta
    return found


def files(task: str, folder: Path) -> list[tuple[str, int]]:
    """(path in the model repository, bytes) of the weights, their JSONs and the shared vocabulary."""
    folder, names = Path(folder), []
    for name in models(folder):
        names += [f"{name}.json", f"{name}.safetensors"]
    shared = TASKS[task]["shared"]
    if shared and (folder / shared).is_file():
        names.append(shared)
    return sorted((n, (folder / n).stat().st_size) for n in names)


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)


def card(task: str, folder: Path) -> str:
    """The model card (README.md) for the task's checkpoints in `folder`."""
    from seqcompare.plots import label

    info, metas = TASKS[task], models(folder)
    if not metas:
        raise UserError(f"{folder}: no trained model (NAME.json beside NAME.safetensors) to publish")
    part = info["metric"]
    keys = [k for k in ("accuracy", "precision", "recall", "f1", "bpc", "perplexity", "n", "characters")
            if any(k in m.get(part, {}) for m in metas.values())]
    front = {"license": "mit", "library_name": "pytorch", "pipeline_tag": info["pipeline"],
             "datasets": [info["dataset"]], "tags": ["seqcompare", "safetensors", *metas]}
    lines = ["---", *(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in front.items()), "---", "",
             f"# seqcompare — {info['title']}", "",
             f"{', '.join(label(n) for n in metas)}, trained with one shared recipe by "
             "seqcompare, so that they can be compared side by side. Weights are "
             "safetensors (nothing is unpickled); each `NAME.json` holds the architecture, the recipe, the "
             "per-epoch history and the metrics this card is written from.", "",
             f"## Metrics (the {'test set' if part == 'test' else 'validation text'}; "
             f"`python -m seqcompare evaluate {task}` recomputes them from the weights)", "",
             "| model | " + " | ".join(keys) + " | parameters | training s | best epoch |",
             "| --- |" + " --- |" * (len(keys) + 3)]
    for name, m in metas.items():
        scores = m.get(part, {})
        lines.append(f"| {label(name)} | " + " | ".join(_cell(scores.get(k, "—")) for k in keys) +
                     f" | {_cell(m.get('parameters', '—'))} | {m.get('train_seconds', 0):.0f} | "
                     f"{_cell(m.get('best_epoch', '—'))} |")
    lines += ["", "## Recipe", "",
              "| model | architecture | epochs | batch | peak lr | weight decay | clip | device | processes |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, m in metas.items():
        t = m.get("train", {})
        arch = ", ".join(f"{k} {v}" for k, v in m["config"].items())
        lines.append(f"| {label(name)} | {arch} | {t.get('epochs', '—')} | {t.get('batch_size', '—')} | "
                     f"{t.get('lr', '—')} | {t.get('weight_decay', '—')} | {t.get('clip', '—')} | "
                     f"{t.get('device', 'cpu')} | {t.get('world_size', 1)} |")
    lines += ["", "AdamW with a one-cycle schedule; the weights of the best validation epoch are kept. The batch "
              "size is per process (the global batch is it times the processes).", "",
              "## Data", "", f"[{info['dataset']}](https://huggingface.co/datasets/{info['dataset']}). {info['data']}",
              "", "## Intended use", "", info["use"], "", "## Limitations", "", info["limits"], "",
              "## Loading", "", "```python",
              f"from seqcompare import checkpoints, {info['module']}",
              f"model, meta = checkpoints.load(FOLDER, NAME, lambda config: {info['module']}.build(NAME, config))",
              "```", "", "Trained with " + ", ".join(f"{k} {v}" for k, v in
                                                    next(iter(metas.values())).get("versions", {}).items()) + "."]
    return "\n".join(lines) + "\n"


def publish(task: str, repo_id: str, folder: Path, private: bool = False) -> str:
    """Create (or update) the model repository `repo_id` with the card and the task's checkpoints; its URL."""
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise UserError(f"{repo_id!r} is not a repository id: write it as OWNER/NAME")
    from huggingface_hub import CommitOperationAdd

    text, entries = card(task, folder), files(task, folder)
    api = deploy.hub()
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        api.create_commit(repo_id, repo_type="model", commit_message=f"Publish seqcompare {task} models",
                          operations=[CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=text.encode()),
                                      *(CommitOperationAdd(path_in_repo=n, path_or_fileobj=str(Path(folder) / n))
                                        for n, _ in entries)])
    except Exception as exc:      # network, authentication and Hub errors come in many types
        raise deploy.refused(exc) from None
    return f"https://huggingface.co/{repo_id}"
