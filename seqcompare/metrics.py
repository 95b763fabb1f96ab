"""Classification and language-model metrics, counted with numpy (the same definitions and values as
scikit-learn's `precision_recall_fscore_support(..., zero_division=0)`, which tests/test_metrics.py checks)."""

from __future__ import annotations

import math

import numpy as np


def _one_hot(y, labels: list[int]) -> np.ndarray:
    """(n, len(labels)) booleans: item i has label j."""
    return np.asarray(y).reshape(-1, 1) == np.asarray(labels).reshape(1, -1)


def confusion(y_true, y_pred, labels: list[int]) -> np.ndarray:
    """Counts (true label row, predicted label column) over `labels`; an item with another label is left out."""
    return (_one_hot(y_true, labels).T.astype(np.int64) @ _one_hot(y_pred, labels).astype(np.int64))


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    numerator, denominator = np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def classification(y_true, y_pred, labels: list[int], average: str = "macro") -> dict:
    """accuracy, precision, recall, f1 (macro over `labels`, or "binary": of the positive class 1),
    confusion matrix, n."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    counted = labels if average == "macro" else [1]
    true, predicted = _one_hot(y_true, counted), _one_hot(y_pred, counted)
    tp, n_true, n_predicted = (true & predicted).sum(0), true.sum(0), predicted.sum(0)
    p, r, f = _divide(tp, n_predicted), _divide(tp, n_true), _divide(2 * tp, n_true + n_predicted)
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "precision": float(np.mean(p)),
        "recall": float(np.mean(r)),
        "f1": float(np.mean(f)),
        "confusion_matrix": confusion(y_true, y_pred, labels).tolist(),
        "n": int(len(y_true)),
    }


def scores(y_true, y_pred, labels: list[int], average: str = "macro") -> dict:
    """The scalar part of `classification` (for per-epoch curves)."""
    out = classification(y_true, y_pred, labels, average)
    return {k: out[k] for k in ("accuracy", "precision", "recall", "f1")}


def bits_per_char(mean_nats: float) -> float:
    return mean_nats / math.log(2)


def interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of an accuracy measured on n items (binomial): where the true
    accuracy lies, given the test set's size — two models whose intervals overlap widely may not differ."""
    if n <= 0:
        return (float("nan"), float("nan"))
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def with_interval(accuracy: float, n: int) -> str:
    """"0.9834 (0.981–0.986)": an accuracy and its 95 % interval."""
    lo, hi = interval(accuracy, n)
    return f"{accuracy:.4f} ({lo:.3f}–{hi:.3f})"
