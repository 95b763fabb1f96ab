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
