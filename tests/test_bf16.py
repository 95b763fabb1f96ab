"""Training precision: bfloat16 autocast for the training steps, float32 weights, loss and optimiser."""

import copy
import json

import pytest
import torch
import torch.nn.functional as F

from seqcompare import UserError, cli, devices, machine, textgen
from seqcompare.checkpoints import CHECKPOINTS
from seqcompare.models import CharLM, CharLMConfig
from seqcompare.training import TrainConfig, optimise, run_epoch, settings

CPU = torch.device("cpu")
NATIVE = pytest.mark.skipif(not machine.native_bf16(), reason="this CPU has no native bfloat16 (AVX512-BF16 or AMX): "
                            "training refuses bf16 here, and oneDNN has no bfloat16 LSTM for it")


def tiny_lm(cell: str = "lstm") -> CharLM:
    torch.manual_seed(0)
    return CharLM(CharLMConfig(cell=cell, vocab_size=40, embed_size=16, hidden_size=32, dropout=0.0))


def batches():
    ids = torch.randint(0, 40, (4, 21), generator=torch.Generator().manual_seed(1))
    return [(ids[:, :-1], ids[:, 1:])]


def lm_loss(model, batch):
    inputs, targets = batch
    logits, _ = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)), targets.numel(), None, None


def one_step(model, precision: str, seen: list | None = None):
    optimizer, _ = optimise(model, TrainConfig(epochs=1, lr=1e-2), 1)

    def batch_fn(m, b):
        if seen is not None:
            seen.append(torch.is_autocast_enabled("cpu"))
        return lm_loss(m, b)

    out = run_epoch(model, batches(), batch_fn, optimizer=optimizer, clip=1.0, precision=precision)
    return out, optimizer


@NATIVE
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_bf16_step_has_the_fp32_loss_within_bf16_rounding(cell):
    fp32, bf16 = tiny_lm(cell), tiny_lm(cell)
    out32, _ = one_step(fp32, "fp32")
    out16, _ = one_step(bf16, "bf16")
    assert out16["loss"] != out32["loss"]                            # autocast did run in bfloat16 …
    assert out16["loss"] == pytest.approx(out32["loss"], rel=0.01)    # … and lands within its rounding
    moved = [(a - b).abs().max().item() for a, b in zip(fp32.parameters(), bf16.parameters())]
    assert max(moved) < 0.02                                         # the steps agree too (lr 1e-2)


@NATIVE
def test_weights_gradients_and_optimiser_state_stay_float32_under_bf16():
    model = tiny_lm()
    out, optimizer = one_step(model, "bf16")
    assert isinstance(out["loss"], float)
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in model.parameters())
    states = list(optimizer.state.values())
    assert len(states) == len(list(model.parameters()))
    assert all(s[k].dtype == torch.float32 for s in states for k in ("exp_avg", "exp_avg_sq"))


def family_batches():
    """A tiny model of each family with one batch of its input and its batch_fn."""
    from seqcompare.models import (LeNet5, LeNetConfig, ReviewClassifier, ReviewClassifierConfig, RowClassifier,
                                   RowClassifierConfig, TransformerLM, TransformerLMConfig)
    from seqcompare.training import classification_batch

    labels = torch.tensor([0, 1, 1, 0])
    reviews = (torch.randint(1, 50, (4, 12)), torch.tensor([12, 9, 4, 1]))
    tiny_transformer = TransformerLM(TransformerLMConfig(vocab_size=40, context=20, width=16, layers=1, heads=2))
    return [(RowClassifier(RowClassifierConfig(cell="gru", hidden_size=16)), (torch.randn(4, 28, 28), labels),
             classification_batch),
            (LeNet5(LeNetConfig()), (torch.randn(4, 1, 28, 28), labels), classification_batch),
            (ReviewClassifier(ReviewClassifierConfig(cell="lstm", vocab_size=50, embed_size=8, hidden_size=16)),
             (reviews, labels), classification_batch),
            (tiny_transformer, batches()[0], lm_loss)]


@NATIVE
def test_every_model_family_takes_a_bf16_step_and_keeps_float32_weights():
    torch.manual_seed(0)
    for model, batch, batch_fn in family_batches():
        optimizer, _ = optimise(model, TrainConfig(epochs=1), 1)
        before = copy.deepcopy(model.state_dict())
        out = run_epoch(model, [batch], batch_fn, optimizer=optimizer, precision="bf16")
        assert 0 < out["loss"] < 10, type(model).__name__
        assert all(p.dtype == torch.float32 for p in model.parameters())
        assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())      # it did learn


@NATIVE
def test_fp32_runs_without_autocast_and_gives_the_plain_float32_step():
    seen32, seen16 = [], []
    model = tiny_lm()
    reference = copy.deepcopy(model)
    one_step(model, "fp32", seen32)
    one_step(tiny_lm(), "bf16", seen16)
    assert seen32 == [False] and seen16 == [True]
    optimizer, _ = optimise(reference, TrainConfig(epochs=1, lr=1e-2), 1)     # the same step by hand, no autocast
    reference.train()
    loss = lm_loss(reference, batches()[0])[0]
    loss.backward()
    torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), reference.parameters()))


def test_auto_chooses_bf16_where_the_cpu_has_it_and_fp32_forces_float32(monkeypatch):
    monkeypatch.setattr(machine, "native_bf16", lambda: True)
    assert devices.precision("auto", CPU) == "bf16" and devices.precision(None, CPU) == "bf16"
    assert devices.precision("fp32", CPU) == "fp32"
    assert settings(TrainConfig(), device=CPU, precision="fp32").precision == "fp32"
    assert settings(TrainConfig(), device=CPU, precision="auto").precision == "bf16"
    assert settings(TrainConfig(precision="fp32"), device=CPU).precision == "fp32"     # None keeps the recipe's
    assert devices.precision("auto", torch.device("cuda")) == "bf16"
    monkeypatch.setattr(machine, "native_bf16", lambda: False)
    assert devices.precision("auto", CPU) == "fp32"
    with pytest.raises(UserError, match=r"trains only where bfloat16 is native.*This CPU \(.+\) has neither.*use fp32"):
        devices.precision("BF16", CPU)
    assert devices.precision("bf16", torch.device("cuda")) == "bf16"
    assert devices.precision("auto", torch.device("mps")) == "fp32"
    with pytest.raises(UserError, match="unknown training precision 'int8'"):
        devices.precision("int8", CPU)
    with pytest.raises(UserError, match="not mps"):
        devices.precision("bf16", torch.device("mps"))


def test_native_bf16_reads_the_cpu_flags(monkeypatch):
    for flags, expected in [({"avx512f"}, False), ({"avx512f", "avx512_bf16"}, True), ({"amx_bf16", "amx_tile"}, True)]:
        monkeypatch.setattr(machine, "cpu_flags", lambda f=flags: f)
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
        assert machine.native_bf16() is expected
        assert machine.bf16_features()["avx512_bf16"] is ("avx512_bf16" in flags)


def test_the_checkpoint_records_the_precision_fp32_is_the_plain_path_and_a_bad_one_is_one_line(data_dir, tmp_path, capsys,
                                                                                           monkeypatch):
    monkeypatch.setattr(machine, "native_bf16", lambda: True)      # bf16 autocast runs on any x86 CPU for an RNN
    for precision in ("bf16", "fp32"):
        out = tmp_path / precision
        code = cli.main(["train", "hotel", "--models", "rnn", "--epochs", "1", "--limit", "200", "--precision",
                         precision, "--out", str(out), "--data-dir", str(data_dir), "--threads", "1"])
        assert code == 0
        meta = json.loads((out / "rnn.json").read_text())
        assert meta["train"]["precision"] == precision and meta["validation"]["bpc"] > 0
    textgen.train(["rnn"], data_dir, tmp_path / "plain", epochs=1, limit=200)      # the library's default: fp32
    weights = {p: (tmp_path / p / "rnn.safetensors").read_bytes() for p in ("bf16", "fp32", "plain")}
    assert weights["fp32"] == weights["plain"] and weights["bf16"] != weights["fp32"]
    capsys.readouterr()
    assert cli.main(["train", "hotel", "--precision", "int8", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err == "seqcompare: error: unknown training precision 'int8'; choose one of auto, fp32, bf16\n"
    monkeypatch.setattr(machine, "native_bf16", lambda: False)
    assert cli.main(["train", "hotel", "--precision", "bf16", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seqcompare: error: --precision bf16 trains only where") and err.count("\n") == 1


def test_bench_training_times_both_precisions_of_a_model_in_one_run(tmp_path, monkeypatch):
    """`bench --tasks training`: training.<model> = {fp32_ms, bf16_ms, speedup} per step, the CPU with its
    bf16 features; `bench --save` writes the training artifact and leaves bench.json to the other tasks."""
    from seqcompare import bench, bench_training

    monkeypatch.setattr(machine, "native_bf16", lambda: True)      # bf16 autocast runs on any x86 CPU for an RNN
    r = bench_training.run(CHECKPOINTS, steps=1, models=("rnn",))
    m = r["rnn"]
    assert m["fp32_ms"] > 0 and m["bf16_ms"] > 0 and m["speedup"] == pytest.approx(m["fp32_ms"] / m["bf16_ms"], rel=0.01)
    assert (m["batch"], m["window"]) == (32, 50) and r["steps"] == 1
    assert r["cpu"]["name"] == machine.cpu_name() and r["cpu"]["avx512_bf16"] == ("avx512_bf16" in machine.cpu_flags())
    assert "rnn" in bench_training.lines(r)[1] and "fp32" in bench_training.lines(r)[1]
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    bench.save_result({"machine": "here", "training": r}, folder)
    assert not (folder / "bench.json").exists()
    assert json.loads((tmp_path / bench_training.ARTIFACT).read_text())["training"]["rnn"] == m
    bench.save_result({"machine": "here", "coldstart": {"seconds": 1.0}, "training": r}, folder)
    assert json.loads((folder / "bench.json").read_text()) == {"machine": "here", "coldstart": {"seconds": 1.0}}


def test_bench_training_on_a_cpu_without_native_bf16_times_fp32_alone_and_keeps_the_saved_artifact(tmp_path,
                                                                                                  monkeypatch):
    from seqcompare import bench, bench_training

    monkeypatch.setattr(machine, "native_bf16", lambda: False)
    r = bench_training.run(CHECKPOINTS, steps=1, models=("lstm",))     # the LSTM, which oneDNN cannot run in bf16
    assert r["lstm"]["fp32_ms"] > 0 and r["lstm"]["bf16_ms"] is None and r["lstm"]["speedup"] is None
    assert "bf16 not timed: not native on this CPU" in bench_training.lines(r)[1]
    artifact = tmp_path / bench_training.ARTIFACT
    artifact.parent.mkdir(parents=True)
    artifact.write_text('{"kept": true}')
    (tmp_path / "checkpoints").mkdir()
    bench.save_result({"machine": "here", "training": r}, tmp_path / "checkpoints")
    assert json.loads(artifact.read_text()) == {"kept": True}


def test_bench_training_is_a_bench_task_and_a_bad_one_is_named():
    from seqcompare import bench

    assert "training" in bench.EXTRA
    with pytest.raises(UserError, match="unknown bench task trainig"):
        cli.run_bench(cli.parser().parse_args(["bench", "--tasks", "trainig"]))


def test_the_report_blocks_read_the_artifacts(tmp_path):
    from seqcompare import bf16_results, report

    blocks = report.blocks()
    assert "No training benchmark" in blocks["bf16_training"](tmp_path)
    assert "No paired run" in blocks["bf16_pair"](tmp_path)
    timing = {"fp32_ms": 250.0, "bf16_ms": 111.0, "speedup": 2.252, "batch": 32, "window": 50}
    (tmp_path / "docs" / "artifacts").mkdir(parents=True)
    (tmp_path / "docs/artifacts/bench_training.json").write_text(json.dumps({"machine": "m", "training": {
        "steps": 20, "threads": 1, "cpu": {"name": "Intel Xeon", "avx512_bf16": True, "amx_bf16": True,
                                           "torch_capability": "AVX512"}, "lstm": timing, "load_average": [0.2, 0.4],
        "cpus": 2}}))
    text = blocks["bf16_training"](tmp_path)
    assert "Intel Xeon, AVX512-BF16, AMX" in text and "| LSTM | 32 × 50 | 250 | 111 | 2.25× |" in text
    assert "shared CPU" not in text
    scratch = tmp_path / "scratch"
    (scratch / "fp32").mkdir(parents=True)
    (scratch / "bf16").mkdir()
    (scratch / "fp32.log").write_text("lstm epoch 1/2 (1440s)  train_loss 3.5000  train_bpc 5.0494  val_loss 3.4  "
                                      "val_bpc 4.9051  *\n")
    history = [{"epoch": e, "seconds": s, "train_loss": 3.0, "train_bpc": 5.0, "val_loss": 3.3, "val_bpc": b}
               for e, s, b in ((1, 780.0, 4.91), (2, 770.0, 4.80))]
    (scratch / "bf16" / "lstm.json").write_text(json.dumps({"history": history, "validation": {"bpc": 4.8},
                                                            "train_seconds": 1550.0, "best_epoch": 2}))
    bf16_results.pair_artifact(tmp_path, scratch, machine={"cpu": "AMD EPYC", "cores": 2, "avx512_bf16": True},
                               command="train hotel --models lstm", conditions="both at once", epochs=2,
                               load_average=[3.0, 9.5])
    text = blocks["bf16_pair"](tmp_path)
    assert "| fp32 | 1 | 1440 | throughout | 5.0494 | 4.9051 |" in text
    assert "| bf16 | 2 | 770 | throughout | 5.0000 | 4.8000 |" in text
    assert "AMD EPYC, 2 cores, AVX512-BF16, no AMX" in text and "timings under load" in text
    assert "In epoch 1, both runs going throughout, bf16 took 780 s and fp32 1440 s: 1.85× less time in bf16" in text
    assert "After epoch 1 the validation bits per character are 4.9100 (bf16) and 4.9051 (fp32), +0.0049" in text
    finished = {"finished": True, "history": history[:1]}
    assert bf16_results.side_by_side({"bf16": {"finished": True, "history": history}, "fp32": finished}) == \
        {"bf16": [True, False], "fp32": [True]}


def test_the_paired_runs_own_load_is_not_called_a_shared_cpu():
    """The paired run's two processes load 2 CPUs by themselves: only a load beyond them marks a shared CPU."""
    from seqcompare.bf16_results import load

    assert load([0.5, 2.0], 2, own=2) == "; load average 0.5–2.0 on 2 CPUs"
    assert load([5.7, 9.2], 2, own=2).endswith("(a shared CPU: timings under load)")
    assert load([0.2, 1.4], 2).endswith("(a shared CPU: timings under load)") and load(None, 2) == ""
