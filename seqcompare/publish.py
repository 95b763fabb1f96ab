"""Publish one task's trained models to a Hugging Face model repository, with a model card written from
their checkpoint JSONs (metrics, recipe, data, intended use, limitations): nothing in the card is typed
by hand, so it says what the checkpoints measured."""

from __future__ import annotations

import json
from pathlib import Path

from seqcompare import UserError, checkpoints, deploy, tasks


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
    shared = tasks.get(task).card.shared
    if shared and (folder / shared).is_file():
        names.append(shared)
    return sorted((n, (folder / n).stat().st_size) for n in names)


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)


def card(task: str, folder: Path) -> str:
    """The model card (README.md) for the task's checkpoints in `folder`."""
    from seqcompare.plots import label

    spec, metas = tasks.get(task), models(folder)
    info = spec.card
    if not metas:
        raise UserError(f"{folder}: no trained model (NAME.json beside NAME.safetensors) to publish")
    part = spec.split
    keys = [k for k in ("accuracy", "precision", "recall", "f1", "bpc", "perplexity", "n", "characters")
            if any(k in m.get(part, {}) for m in metas.values())]
    front = {"license": "mit", "library_name": "pytorch", "pipeline_tag": info.pipeline,
             "datasets": [info.dataset], "tags": ["seqcompare", "safetensors", *metas]}
    lines = ["---", *(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in front.items()), "---", "",
             f"# seqcompare — {info.title}", "",
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
              "## Data", "", f"[{info.dataset}](https://huggingface.co/datasets/{info.dataset}). {info.data}",
              "", "## Intended use", "", info.use, "", "## Limitations", "", info.limits, "",
              "## Loading", "", "```python",
              f"from seqcompare import checkpoints, {spec.module}",
              f"model, meta = checkpoints.load(FOLDER, NAME, lambda config: {spec.module}.build(NAME, config))",
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
