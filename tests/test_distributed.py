"""Devices and data-parallel training: torchrun with 2 gloo processes on CPU, on small slices."""

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from seqcompare import UserError, checkpoints, devices, digits, textgen
from test_digits import cli


def torchrun(*args, data_dir, timeout=300):
    env = {**os.environ, "SEQCOMPARE_DATA": str(data_dir), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "seqcompare", *args], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=timeout)


def epoch_lines(stdout: str) -> list[str]:
    return [line for line in stdout.replace("\r", "\n").splitlines() if " epoch " in line and "s)" in line]


def test_two_processes_train_one_checkpoint_that_evaluate_recomputes(data_dir, tmp_path):
    run = torchrun("train", "mnist", "--models", "lenet", "--epochs", "2", "--limit", "2000", "--threads", "1",
                   "--out", str(tmp_path), data_dir=data_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = epoch_lines(run.stdout)
    assert [line.split()[2] for line in lines] == ["1/2", "2/2"]         # rank 0 alone prints, once an epoch
    assert run.stdout.count("training lenet") == 1 and run.stdout.count("test accuracy") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet.json", "lenet.safetensors"]
    meta = checkpoints.read_json(tmp_path / "lenet.json")
    assert meta["train"]["world_size"] == 2 and meta["train"]["device"] == "cpu"
    assert len(meta["history"]) == 2 and meta["test"]["n"] == 2000
    recomputed = digits.evaluate(tmp_path, data_dir, limit=2000, models=("lenet",))["lenet"]
    assert recomputed == {**meta["test"], "serving_precision": "fp32"}            # loads like any checkpoint


def test_two_processes_train_a_stateful_text_model(data_dir, tmp_path):
    """The recurrent character models carry their state from window to window: each process reads its
    own streams, in order."""
    run = torchrun("train", "hotel", "--models", "gru", "--epochs", "1", "--limit", "300", "--threads", "1",
                   "--out", str(tmp_path), data_dir=data_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(epoch_lines(run.stdout)) == 1
    bank = textgen.TextModels(tmp_path, names=("gru",))
    assert not bank.errors and bank.meta["gru"]["train"]["world_size"] == 2
    assert bank.meta["gru"]["validation"]["bpc"] < 12


def test_an_ordinary_run_records_one_process(data_dir, tmp_path):
    digits.train(["lenet"], data_dir, tmp_path, epochs=1, limit=500)
    meta = checkpoints.read_json(tmp_path / "lenet.json")
    assert meta["train"]["world_size"] == 1 and meta["train"]["device"] == "cpu"


@pytest.mark.parametrize("argv", [["train", "mnist", "--device", "cuda"], ["evaluate", "mnist", "--device", "cuda"],
                                  ["train", "mnist", "--device", "tpu"]])
def test_a_device_that_is_not_there_is_one_line_and_exit_2(argv):
    if torch.cuda.is_available() and "cuda" in argv:
        pytest.skip("this machine has a GPU")
    run = cli(*argv)
    assert run.returncode == 2 and run.stderr.startswith("seqcompare: error:") and run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr


def test_auto_falls_back_to_the_cpu_and_names_are_checked(monkeypatch):
    monkeypatch.delenv(devices.ENV_VAR, raising=False)
    if not torch.cuda.is_available() and not devices._mps():
        assert devices.resolve("auto") == torch.device("cpu") == devices.resolve(None)
    assert devices.resolve("CPU") == torch.device("cpu")
    monkeypatch.setenv(devices.ENV_VAR, "cpu")
    assert devices.resolve(None) == torch.device("cpu")
    with pytest.raises(UserError, match="unknown device"):
        devices.resolve("gpu0")


def test_checkpoints_are_device_free(tmp_path):
    model = textgen.build("transformer", {"vocab_size": 20, "context": 8, "width": 12, "layers": 1, "heads": 2})
    checkpoints.save(tmp_path, "transformer", model, {"config": json.loads(json.dumps(model.cfg.__dict__))})
    loaded, _ = checkpoints.load(tmp_path, "transformer", lambda c: textgen.build("transformer", c), device="cpu")
    assert all(p.device.type == "cpu" for p in loaded.parameters())


def test_too_few_batches_for_the_processes_is_one_line(monkeypatch):
    from seqcompare import training

    monkeypatch.setattr(devices, "world_size", lambda: 2)
    model = digits.build("lenet")
    with pytest.raises(UserError, match="1 training batch per epoch cannot be shared by 2 processes"):
        training.fit(model, lambda ep: [], lambda: [], training.classification_batch, lambda o: {},
                     training.TrainConfig(epochs=1), steps_per_epoch=1)


def test_shares_of_an_epoch_merge_into_its_metrics():
    import numpy as np

    from seqcompare import training

    a = {"loss": 1.0, "n": 3, "y_true": np.array([0, 1, 2]), "y_pred": np.array([0, 1, 1])}
    b = {"loss": 3.0, "n": 1, "y_true": np.array([3]), "y_pred": np.array([3])}
    merged = training.merge([a, b])
    assert merged["loss"] == 1.5 and merged["n"] == 4
    assert merged["y_true"].tolist() == [0, 1, 2, 3] and merged["y_pred"].tolist() == [0, 1, 1, 3]
    assert training.merge([{"loss": 2.0, "n": 5}]) == {"loss": 2.0, "n": 5}
