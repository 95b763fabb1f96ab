"""Serving the dashboard loads none of the training-only or online-only libraries: each is imported where it
is used (MNIST download, word2vec, IMDb download, sweeps, publishing), so cold start does not pay for it."""

import json
import os
import subprocess
import sys

from conftest import CHECKPOINTS, ROOT

NOT_SERVED = ("torchvision", "gensim", "datasets", "sklearn", "optuna", "huggingface_hub")

LOADED = "import json, sys; print(json.dumps(sorted(m for m in {names} if m in sys.modules)))"

SERVE = f"""
import torch
torch.set_num_threads(1)
import app                                    # the dashboard as `python app.py` builds it, not launched
from seqcompare import digits, reviews, textgen, sketches
digits.DigitModels({str(CHECKPOINTS / "mnist")!r}).predict(sketches.render(3))
reviews.ReviewModels({str(CHECKPOINTS / "imdb")!r}).predict("a warm, funny and moving film")
textgen.TextModels({str(CHECKPOINTS / "hotel")!r}).generate_many([("早餐", 5, 0.8, 20, 0, 1.0, 1)])
"""


def loaded_after(code: str) -> set[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code + LOADED.format(names=NOT_SERVED)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_serving_imports_no_training_or_online_library():
    """After building the app and answering one digit, review and generation request, none of NOT_SERVED is
    loaded, except what Gradio itself imports (it brings huggingface_hub)."""
    gradio_own = loaded_after("import gradio\n")
    assert loaded_after(SERVE) - gradio_own == set()


def test_the_check_sees_a_library_that_is_imported():
    """The same probe reports a library the code does load (so an empty answer above means something)."""
    assert "sklearn" in loaded_after("import sklearn.metrics\n")
