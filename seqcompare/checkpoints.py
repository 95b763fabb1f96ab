"""Checkpoints: weights as safetensors (nothing is unpickled), everything else as JSON; written atomically."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from seqcompare import UserError, machine

# The shipped checkpoints (one folder per task), or $SEQCOMPARE_CHECKPOINTS: the CLI and the app read the same.
CHECKPOINTS = Path(os.environ.get("SEQCOMPARE_CHECKPOINTS") or Path(__file__).resolve().parent.parent / "checkpoints")


class CheckpointError(Exception):
    """A checkpoint is missing, corrupt or does not fit the model it claims to be."""


def none_loaded(errors: dict[str, str], kind: str = "") -> UserError:
    """The error when none of a task's models could be loaded (`errors`: {name: reason}): each reason once."""
    return UserError(f"no {kind + ' ' if kind else ''}model could be loaded: " + "; ".join(dict.fromkeys(errors.values())))


def unwritable(where: Path, exc: OSError) -> UserError:
    """The error for a file or folder that cannot be written, naming the system's reason."""
    return UserError(f"cannot write {where}: {exc.strerror or exc}")


def writable(folder: Path, create: bool = True) -> Path:
    """`folder` once a file can be written in it, checked before a long run that ends by writing there; UserError
    naming the reason otherwise. It is created if need be, or with `create=False` (a folder the run reads its
    models from, whose absence the loading names) left alone when it does not exist."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"cannot write in {folder}: it is a file, not a folder")
    if not create and not folder.exists():
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise unwritable(folder, exc) from None
    return folder


def writable_file(path: Path) -> Path:
    """`path`, a file a long run writes at its end, once its folder is `writable` and it is no folder itself."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder")
    writable(path.parent)
    return path


def _atomic_write(path: Path, write) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise unwritable(path, exc) from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)                     # mkstemp makes it private; checkpoints are for reading
        os.replace(tmp, path)
    except OSError as exc:
        raise unwritable(path, exc) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: Path, obj) -> None:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
            f.write("\n")
    _atomic_write(Path(path), write)


def read_json(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except OSError as exc:                                   # a folder, not a file; no permission; …
        raise CheckpointError(f"{path} cannot be read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})") from None


def versions() -> dict:
    import sklearn
    import safetensors

    return {"python": platform.python_version(), "torch": torch.__version__,
            "safetensors": safetensors.__version__, "scikit-learn": sklearn.__version__}


def round_to_half(model: nn.Module) -> nn.Module:
    """Round the weights to float16 values in place (they stay float32 tensors), so that metrics computed
    now are exactly those of a checkpoint saved with `dtype=torch.float16`."""
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(t.half())
    return model


def save(folder: Path, name: str, model: nn.Module, meta: dict, dtype: torch.dtype | None = None) -> None:
    """Write `name.safetensors` (weights, optionally stored as `dtype`) and `name.json` (config, history,
    metrics, …) in `folder`. Loading casts the weights back to the model's own dtype."""
    folder = Path(folder)
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in model.state_dict().items()}      # a copy each: tied weights are stored under both names
    _atomic_write(folder / f"{name}.safetensors", lambda tmp: save_file(state, tmp))
    write_json(folder / f"{name}.json", {"model": name, **meta, "machine": machine.describe(), "versions": versions()})


def load(folder: Path, name: str, build, required=(), device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild `name` from its JSON with `build(config) -> nn.Module` and load its weights, with checks;
    `required` names the metadata (metrics, history, …) the JSON must hold."""
    folder = Path(folder)
    meta = read_json(folder / f"{name}.json")
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"{folder / (name + '.json')} has no model config")
    missing = [key for key in required if key not in meta]
    if missing:
        raise CheckpointError(f"{folder / (name + '.json')} lacks {', '.join(missing)}")
    try:
        model = build(meta["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name}: config does not describe a model ({exc})") from None
    weights = folder / f"{name}.safetensors"
    if not weights.is_file():
        raise CheckpointError(f"{weights} is missing")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} is corrupt ({exc})") from None
    expected = model.state_dict()
    if set(state) != set(expected):
        raise CheckpointError(f"{weights} holds other tensors than the {name} model expects")
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape:
            raise CheckpointError(f"{weights}: {key} has shape {tuple(state[key].shape)}, "
                                  f"the config expects {tuple(tensor.shape)}")
    model.load_state_dict(state)
    model.to(device).eval()                      # weights are stored device-free (CPU)
    return model, meta


META = ("parameters", "train_seconds", "history", "best_epoch", "train")   # what the dashboard shows


def load_all(folder: Path, names, build, check=None, required=META,
             device: torch.device | str = "cpu") -> tuple[dict, dict, dict]:
    """Load each named model as `load` does; a failure is recorded for that model, not raised.

    `build(name, config)` makes a model; `check(name, model, meta)` may raise CheckpointError (say, for
    a vocabulary that does not match). Returns (models, metas, errors), each keyed by name.
    """
    models, metas, errors = {}, {}, {}
    for name in names:
        try:
            model, meta = load(folder, name, lambda config, n=name: build(n, config), required, device)
            if check is not None:
                check(name, model, meta)
            models[name], metas[name] = model, meta
        except CheckpointError as exc:
            errors[name] = str(exc)
    return models, metas, errors
