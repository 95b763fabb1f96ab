"""The shipped digit checkpoints on real MNIST, the project's own drawings, and the digits CLI."""

import json
import subprocess
import sys

import pytest

from conftest import CHECKPOINTS, ROOT
from seqcompare import checkpoints, digits, sketches


def cli(*args, env=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "seqcompare", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, input=stdin, timeout=600)


def test_evaluate_on_a_test_slice_clears_a_floor(data_dir):
    result = digits.evaluate(CHECKPOINTS / "mnist", data_dir, limit=2000)
    for name in digits.MODELS:
        m = result[name]
        assert m["n"] == 2000
        assert sum(map(sum, m["confusion_matrix"])) == 2000
        assert m["accuracy"] >= (0.97 if name == "rnn" else 0.985), (name, m["accuracy"])


def test_stored_test_metrics_match_the_weights(data_dir):
    """The metrics in each checkpoint's JSON are what its weights score now, on all 10,000 digits."""
    result = digits.evaluate(CHECKPOINTS / "mnist", data_dir)
    for name in digits.MODELS:
        stored = checkpoints.read_json(CHECKPOINTS / "mnist" / f"{name}.json")["test"]
        assert result[name]["n"] == 10000
        assert result[name]["confusion_matrix"] == stored["confusion_matrix"], name


def test_project_drawings_are_read_correctly(digit_bank):
    """Held-out drawings made with strokes, not MNIST: each model gets at least 9 of the 10 digits."""
    for variant in [{}, {"box": (0.05, 0.55, 0.3, 0.95)}, {"ink": (255, 255, 255, 255), "paper": (0, 0, 0, 255)}]:
        answers = {d: digit_bank.predict(sketches.render(d, size=560, **variant))["models"] for d in range(10)}
        for name in digits.MODELS:
            right = sum(answers[d][name]["label"] == d for d in range(10))
            assert right >= 9, (name, variant, {d: answers[d][name]["label"] for d in range(10)})


def test_prediction_shape(digit_bank):
    answer = digit_bank.predict(sketches.render(4))["models"]
    assert set(answer) == set(digits.MODELS)
    for name, a in answer.items():
        assert 0 <= a["label"] <= 9 and len(a["probabilities"]) == 10
        assert sum(a["probabilities"]) == pytest.approx(1, abs=1e-4)
        assert a["confidence"] == pytest.approx(max(a["probabilities"]), abs=1e-5) and a["ms"] > 0
        assert (len(a.get("rows", [])) == 28) == (name != "lenet")


def test_a_broken_checkpoint_only_takes_out_its_own_model(tmp_path):
    for f in (CHECKPOINTS / "mnist").iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "gru.safetensors").write_bytes(b"\0" * 100)
    bank = digits.DigitModels(tmp_path)
    assert set(bank.errors) == {"gru"} and "corrupt" in bank.errors["gru"]
    answer = bank.predict(sketches.render(1))["models"]
    assert answer["gru"]["error"].startswith("unavailable")
    assert answer["lstm"]["label"] == 1


def test_cli_evaluate_json(data_dir):
    run = cli("evaluate", "mnist", "--data-dir", str(data_dir), "--limit", "300", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert set(result) == {"rnn", "lstm", "gru", "lenet"}
    for m in result.values():
        assert set(m) == {"accuracy", "precision", "recall", "f1", "confusion_matrix", "n", "serving_precision"}
        assert m["n"] == 300 and 0.9 <= m["accuracy"] <= 1


def test_cli_predict_json(tmp_path):
    good = tmp_path / "seven.png"
    sketches.render(7).save(good)
    (tmp_path / "bad.png").write_bytes(b"")
    run = cli("predict", "digits", str(good), str(tmp_path / "bad.png"), "--json")
    assert run.returncode == 0, run.stderr
    first, second = json.loads(run.stdout)
    assert first["image"] == str(good) and set(first["models"]) == set(digits.MODELS)
    lstm = first["models"]["lstm"]
    assert lstm["label"] == 7 and len(lstm["probabilities"]) == 10 and set(lstm) == {"label", "confidence", "probabilities", "ms"}
    assert "error" in second and "not a readable image" in second["error"]


@pytest.mark.parametrize("args, message", [
    (["predict", "digits", "missing.png"], "no image could be used"),
    (["predict", "digits"], "name at least one image"),
    (["evaluate", "mnist", "--data-dir", "/nonexistent"], "does not exist"),
    (["train", "mnist", "--models", "lstm,cnn"], "unknown model cnn"),
])
def test_cli_errors_are_one_line(args, message):
    run = cli(*args)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and message in run.stderr and "Traceback" not in run.stderr


def test_cli_data_folder_without_mnist(tmp_path):
    run = cli("evaluate", "mnist", "--data-dir", str(tmp_path))
    assert run.returncode == 2 and "no MNIST test set" in run.stderr and run.stderr.count("\n") == 1


def test_resize_equals_torchvisions_antialiased_resize():
    """The served path resizes without torchvision; the pixels are those torchvision's resize gives."""
    import torch
    tf = pytest.importorskip("torchvision.transforms.v2.functional")
    g = torch.Generator().manual_seed(0)
    for h, w in [(1, 1), (3, 40), (40, 3), (20, 20), (57, 31), (200, 150)]:
        image = torch.rand(h, w, generator=g)
        scale = 20 / max(h, w)
        size = [max(1, round(h * scale)), max(1, round(w * scale))]
        assert torch.equal(digits.resize(image, size), tf.resize(image[None], size, antialias=True)[0])
