"""Digits: MNIST read row by row by RNN, LSTM and GRU, next to LeNet-5; sketch preprocessing."""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from seqcompare import CELLS, UserError, checkpoints, data, devices, metrics, precision as precisions
from seqcompare.i18n import said
from seqcompare.models import LeNet5, LeNetConfig, RowClassifier, RowClassifierConfig, count_parameters
from seqcompare.training import TrainConfig, classification_batch, fit, settings, tensor_batches

MODELS = (*CELLS, "lenet")
LABELS = list(range(10))
MEAN, STD = 0.1307, 0.3081          # MNIST training-set pixel statistics
VAL_SIZE = 5000                     # held out of the 60,000 training images
RECIPES = {                         # the recurrent models share one recipe
    **{cell: TrainConfig(epochs=25, batch_size=128, lr=2e-3, weight_decay=1e-4) for cell in CELLS},
    "lenet": TrainConfig(epochs=25, batch_size=128, lr=3e-3, weight_decay=1e-4),
}


REQUIRED = (*checkpoints.META, "test")       # checkpoint metadata the dashboard shows


def build(name: str, config: dict | None = None) -> torch.nn.Module:
    if name == "lenet":
        return LeNet5(LeNetConfig(**(config or {})))
    if name not in CELLS:
        raise ValueError(f"unknown digits model {name!r}")
    return RowClassifier(RowClassifierConfig(**(config or {"cell": name})))


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 or [0, 1] images → the standardised input every model is trained on."""
    if images.dtype == torch.uint8:
        images = images.float() / 255
    return (images - MEAN) / STD


# --- training data -------------------------------------------------------------------------

def splits(data_dir: Path | None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """train / val (a fixed 5,000-image slice of the training set) / test, as (uint8 images, labels)."""
    x, y = data.mnist(data_dir, train=True)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    val, train = order[:VAL_SIZE], order[VAL_SIZE:]
    test = data.mnist(data_dir, train=False)
    return {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": test}


def augment(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Normalise and apply a small random affine per image (±12°, ×0.85–1.1, ±2 px, slight shear)."""
    g = torch.Generator().manual_seed(seed)
    n = len(images)
    rnd = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=g)
    angle, scale = rnd(-12, 12) * math.pi / 180, rnd(0.85, 1.1)
    shear, tx, ty = rnd(-0.15, 0.15), rnd(-2, 2) / 14, rnd(-2, 2) / 14
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin + shear, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    x = images.float().div(255).unsqueeze(1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    return normalize(x.squeeze(1))


def prepare(data_dir: Path | None, limit: int | None = None) -> dict:
    """The splits every model of one run shares (the first `limit` images of each)."""
    sets = splits(data_dir)
    if limit:
        sets = {k: (x[:limit], y[:limit]) for k, (x, y) in sets.items()}
    print(f"MNIST: {len(sets['train'][0])} train, {len(sets['val'][0])} validation, {len(sets['test'][0])} test images")
    return sets


def fit_model(name: str, sets: dict, cfg: TrainConfig, config: dict | None = None, device: torch.device | None = None,
              **hooks):
    """Train one digit model (built from `config`, the shipped architecture by default); returns (model on
    the CPU with its best validation weights, FitResult). `hooks` go to training.fit."""
    (xtr, ytr), (xva, yva) = sets["train"], sets["val"]
    torch.manual_seed(cfg.seed)
    model = build(name, config)
    print(f"training {name}: {count_parameters(model):,} parameters, {cfg}")
    result = fit(
        model,
        train_batches=lambda ep: tensor_batches(xtr, ytr, cfg.batch_size, shuffle=True,
                                                seed=cfg.seed * 1000 + ep, transform=augment),
        val_batches=lambda: tensor_batches(normalize(xva), yva, 1000),
        batch_fn=classification_batch,
        summarize=lambda o: {"loss": o["loss"], **metrics.scores(o["y_true"], o["y_pred"], LABELS)},
        cfg=cfg, steps_per_epoch=math.ceil(len(xtr) / cfg.batch_size), name=name, device=device, **hooks)
    return model, result


def train(models, data_dir: Path | None, out: Path, epochs: int | None = None, limit: int | None = None,
          device: torch.device | None = None, precision: str | None = None):
    """Train each model, keep its best-validation weights, and write its checkpoint with metrics."""
    sets = prepare(data_dir, limit)
    xte, yte = sets["test"]
    for name in models:
        cfg = settings(RECIPES[name], epochs, device, precision)
        model, result = fit_model(name, sets, cfg, device=device)
        if not devices.is_main():                    # rank 0 measures and writes
            continue
        test = metrics.classification(yte.numpy(), predict_labels(model, xte), LABELS)
        print(f"{name}: test accuracy {test['accuracy']:.4f} after {result.seconds:.0f}s of training")
        checkpoints.save(out, name, model, {
            "task": "mnist", "config": asdict(model.cfg), "train": asdict(cfg),
            "parameters": count_parameters(model), "train_seconds": result.seconds,
            "best_epoch": result.best_epoch, "history": result.history, "test": test,
        })


@torch.inference_mode()
def predict_labels(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    model.eval()
    device = devices.of(model)
    return torch.cat([model(normalize(images[i:i + batch_size]).to(device)).argmax(1).cpu()
                      for i in range(0, len(images), batch_size)]).numpy()


def evaluate(folder: Path, data_dir: Path | None, limit: int | None = None, models=MODELS,
             device: torch.device | str = "cpu", precision: str | None = None) -> dict:
    """Metrics on the MNIST test set (first `limit` images), recomputed from the checkpoints at the serving
    `precision` (named in each as "serving_precision")."""
    loaded, _, errors = checkpoints.load_all(folder, models, build, required=REQUIRED, device=device)
    result = {n: {"error": e} for n, e in errors.items()}
    if loaded:                                       # the data is read only when there is a model to score
        served, plans = precisions.serve_all(loaded, precision, "mnist", Path(folder).parent)
        images, labels = data.mnist(data_dir, train=False)
        images, labels = images[:limit], labels[:limit]
        for name, model in served.items():
            result[name] = {**metrics.classification(labels.numpy(), predict_labels(model, images), LABELS),
                            "serving_precision": plans[name]}     # ("precision" is the classification metric)
    return {n: result[n] for n in models}


# --- a drawing or photo → an MNIST-like 28×28 image ------------------------------------------

MIN_SIDE = 8               # smaller pictures are refused
WORK_SIDE = 280            # larger ones are box-filtered down to about this before any per-pixel work
BLANK = 0.08               # a canvas whose strongest ink is fainter than this is blank
INK_FRACTION = 0.35        # the digit's bounding box holds the pixels with at least this share of the peak ink


def _as_image(image) -> Image.Image:
    """Accept a path, PIL image, numpy array or Gradio editor value; return an L, LA, RGB or RGBA image."""
    if isinstance(image, dict):                      # gr.ImageEditor / gr.Sketchpad value
        image = image.get("composite")
    if image is None:
        raise UserError("errors.draw_first")
    if isinstance(image, (str, Path)):
        path = Path(image)
        try:
            folder, found = path.is_dir(), path.is_file()
        except OSError:                              # a name the system cannot look up (too long, …)
            folder, found = False, False
        if folder:
            raise UserError("errors.image_folder", path=str(path))
        if not found:
            raise UserError("errors.no_file", path=str(path))
        try:
            with Image.open(path) as img:
                img.draft("RGB", (WORK_SIDE, WORK_SIDE))     # JPEGs decode small
                img.load()
                image = img.copy()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
            raise UserError("errors.unreadable_image", name=path.name) from None
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)) or arr.size == 0:
            raise UserError("errors.not_picture")
        if arr.dtype != np.uint8:
            arr = np.nan_to_num(np.asarray(arr, dtype=np.float32), nan=0.0, posinf=255.0, neginf=0.0)
            arr = (arr * 255 if arr.max() <= 1.0 else arr).clip(0, 255).astype(np.uint8)
        image = Image.fromarray(arr)
    if not isinstance(image, Image.Image):
        raise UserError("errors.not_image")
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    if min(image.size) < MIN_SIDE:
        raise UserError("errors.too_small", width=image.width, height=image.height, side=MIN_SIDE)
    factor = max(image.size) // WORK_SIDE
    return image.reduce(factor) if factor > 1 else image


def ink(image) -> np.ndarray:
    """Ink strength in [0, 1] per pixel, whatever the colours: transparency where the canvas is
    transparent, otherwise the distance from the background (the median border luminance)."""
    img = _as_image(image)
    if img.mode in ("LA", "RGBA"):
        alpha = np.asarray(img.getchannel("A"), dtype=np.float32) / 255
        if alpha.min() < 0.98:                     # a transparent canvas: strokes are the opaque part
            return alpha
    gray = np.asarray(img.convert("L"), dtype=np.float32)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return np.abs(gray - np.median(border)) / 255


def resize(image: torch.Tensor, size: list[int]) -> torch.Tensor:
    """A (h, w) float image resized to `size` with antialiased bilinear filtering: torchvision's
    `resize(..., antialias=True)` for float tensors, which is this call of torch's `interpolate`."""
    if list(image.shape) == list(size):
        return image
    return F.interpolate(image[None, None], size=size, mode="bilinear", align_corners=False, antialias=True)[0, 0]


def to_mnist(image) -> torch.Tensor:
    """MNIST convention: light digit on dark, bounding box scaled into 20×20, centred by mass in 28×28.

    Returns a float tensor (28, 28) in [0, 1]; raises UserError for a blank or unusable picture.
    """
    strength = ink(image)
    peak = float(strength.max())
    if peak < BLANK:
        raise UserError("errors.blank")
    mask = strength >= INK_FRACTION * peak
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = torch.from_numpy(np.ascontiguousarray(strength[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]))
    h, w = crop.shape
    scale = 20 / max(h, w)
    size = [max(1, round(h * scale)), max(1, round(w * scale))]
    patch = resize(crop, size).clamp(0, 1)
    patch = patch / patch.max()
    # centre of mass to the middle of the 28×28 frame, as the MNIST images were made
    ys, xs = torch.arange(size[0], dtype=torch.float32), torch.arange(size[1], dtype=torch.float32)
    total = patch.sum()
    cy, cx = (patch.sum(1) @ ys / total).item(), (patch.sum(0) @ xs / total).item()
    top = min(max(round(13.5 - cy), 0), 28 - size[0])
    left = min(max(round(13.5 - cx), 0), 28 - size[1])
    out = torch.zeros(28, 28)
    out[top:top + size[0], left:left + size[1]] = patch
    return out


# --- live predictions ----------------------------------------------------------------------

class DigitModels:
    """The four digit models, loaded once; a model whose checkpoint fails is listed in `errors`. `models`
    in fp32 (the analysis views), `served` at the serving `precision` (predictions; `plans` names each's)."""

    def __init__(self, folder: Path, names=MODELS, device: torch.device | str = "cpu", precision: str | None = None):
        self.folder = Path(folder)                       # the task's checkpoints and stored results
        self.models, self.meta, self.errors = checkpoints.load_all(folder, names, build, required=REQUIRED,
                                                                   device=device)
        self.served, self.plans = precisions.serve_all(self.models, precision, "mnist", Path(folder).parent)

    @torch.inference_mode()
    def predict(self, image) -> dict:
        """Every model's answer for one image: label, confidence, 10 probabilities, ms, and for the
        recurrent models the probabilities after each row (`rows`, 28 × 10)."""
        digit = to_mnist(image)
        x = normalize(digit)[None]
        answers = {}
        for name, model in self.served.items():
            t0 = time.perf_counter()
            x = x.to(devices.of(model))
            if model.reads_rows:
                row_probs = model.row_logits(x)[0].softmax(-1)
                probs = row_probs[-1]
            else:
                row_probs, probs = None, model(x)[0].softmax(-1)
            ms = (time.perf_counter() - t0) * 1000
            answers[name] = {"label": int(probs.argmax()), "confidence": float(probs.max()),
                             "probabilities": [round(float(p), 6) for p in probs], "ms": round(ms, 3)}
            if row_probs is not None:
                answers[name]["rows"] = row_probs.tolist()
        for name, reason in self.errors.items():
            answers[name] = {"error": said("errors.unavailable", reason=reason)}
        return {"digit": digit, "models": answers}
