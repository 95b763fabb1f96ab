"""Classification and language-model metrics (scikit-learn does the counting)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def classification(y_true, y_pred, labels: list[int], average: str = "macro") -> dict:
    """accuracy, precision, recall, f1 (macro, or binary for the positive class), confusion matrix, n."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average,
                                                 zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
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
