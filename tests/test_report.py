"""`report`: the generated blocks come from the repository's files, `--check` finds a figure typed by hand,
every figure names its machine; the machine recorded in checkpoints; the bigram baseline; a tutorial rerun."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from seqcompare import UserError, checkpoints, machine, report


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "seqcompare", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def copy(tmp_path):
    """The documents and the JSON artifacts of the repository (no weights, no data folder)."""
    for name in report.DOCUMENTS:
        if (ROOT / name).is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, tmp_path / name)
    for path in [*(ROOT / "checkpoints").rglob("*.json"), *(ROOT / "docs" / "artifacts").rglob("*.json")]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return tmp_path


def test_the_committed_documents_are_what_report_writes():
    out = run("report", "--check")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_readme_stays_a_page_of_what_is():
    """The README says what the software is, in at most 350 lines; studies and history live in docs/."""
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 350


def test_a_figure_changed_by_hand_fails_the_check_at_its_line(copy):
    readme = copy / "README.md"
    lines = readme.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("<!-- report:headline -->"))
    row = next(i for i in range(start, len(lines)) if lines[i].startswith("| Digits"))
    old = lines[row].split(" | ")[1]                      # the RNN's test accuracy, as report wrote it
    lines[row] = lines[row].replace(f" {old} ", f" {float(old) + 0.0001:.4f} ", 1)
    readme.write_text("".join(lines), encoding="utf-8")
    out = run("report", "--check", "--root", str(copy))
    assert out.returncode == 1
    assert out.stdout.startswith(f"README.md:{row + 1}: ") and old in out.stdout
    assert run("report", "--root", str(copy)).returncode == 0           # report writes the figure back
    assert run("report", "--check", "--root", str(copy)).returncode == 0
    assert readme.read_text(encoding="utf-8") == (ROOT / "README.md").read_text(encoding="utf-8")


def test_report_reads_its_figures_from_the_artifacts(copy):
    path = copy / "checkpoints" / "bench.json"
    bench = json.loads(path.read_text(encoding="utf-8"))
    bench["explain"]["textgen"]["total_ms"]["median"] = 12345.0
    path.write_text(json.dumps(bench), encoding="utf-8")
    out = run("report", "--check", "--root", str(copy))
    assert out.returncode == 1 and "12345 ms" in out.stdout


def test_every_block_in_the_documents_is_registered_and_each_renders():
    blocks = report.blocks()
    for name in report.DOCUMENTS:
        for found in report.MARKER.finditer((ROOT / name).read_text(encoding="utf-8")):
            assert found["name"] in blocks
    for name, fn in blocks.items():
        assert isinstance(fn(ROOT), str), name


def test_an_unknown_block_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="no report block named 'nonsense'"):
        report.render("<!-- report:nonsense -->\nx\n<!-- /report:nonsense -->\n", tmp_path, "README.md")


def test_a_block_added_by_another_module_is_filled(tmp_path):
    report.block("test-answer")(lambda root: f"answer from {root.name}")
    try:
        text = "before\n<!-- report:test-answer -->\nstale\n<!-- /report:test-answer -->\nafter\n"
        assert report.render(text, tmp_path) == \
            f"before\n<!-- report:test-answer -->\nanswer from {tmp_path.name}\n<!-- /report:test-answer -->\nafter\n"
    finally:
        report.BLOCKS.pop("test-answer")


def test_a_block_of_one_artifact_is_given_it_or_says_what_writes_it(tmp_path):
    from pathlib import Path

    shown = report.artifact_block("test-artifact", Path("docs/a.json"), "Not measured yet: `run it`.")(
        lambda found: f"{found['ms']} ms")
    try:
        text = "<!-- report:test-artifact -->\nstale\n<!-- /report:test-artifact -->\n"
        assert "_Not measured yet: `run it`._" in report.render(text, tmp_path)
        (tmp_path / "docs").mkdir()
        for broken in ("{not json", "[1, 2]"):                              # unreadable, or not an object
            (tmp_path / "docs" / "a.json").write_text(broken)
            assert shown(tmp_path) == "_Not measured yet: `run it`._"
        checkpoints.write_json(tmp_path / "docs" / "a.json", {"ms": 12.5})
        assert shown(tmp_path) == "12.5 ms" and "\n12.5 ms\n" in report.render(text, tmp_path)
    finally:
        report.BLOCKS.pop("test-artifact")


def test_the_load_test_says_a_training_ran_only_when_its_file_says_so(copy):
    from seqcompare import results

    path = copy / "checkpoints" / "loadtest_training.json"
    lt = json.loads(path.read_text(encoding="utf-8"))
    lt.pop("while_training", None)
    lt.pop("training", None)
    path.write_text(json.dumps(lt), encoding="utf-8")
    text = results.loadtest(copy)
    assert "train" not in text and text.count("**Many users**") == 2
    assert "**Many users while one trains** — `python -m seqcompare loadtest URL --while-training --save`" in \
        results.loadtest(ROOT) and "while a live training" in results.loadtest(ROOT)


def test_the_writer_trial_is_the_median_and_range_of_its_runs(copy):
    from seqcompare import results

    path = copy / results.WRITER_TRIAL
    trial = json.loads(path.read_text(encoding="utf-8"))
    trial["trials"] = [{"procedure": "one", "machine": "a CPU", "runs": {"90 calls": {"writer": {
        "commit": "abc1234", "p95_s": [3.0, 1.0, 2.5, 9.0], "failed": [0, 1, 0, 0]}}}},
        {"procedure": "two", "machine": "another CPU", "runs": {}}]
    path.write_text(json.dumps(trial), encoding="utf-8")
    text = results.writer_trial(copy)
    assert "| 90 calls | textgen.Writer (abc1234) | 4 | 1 | **2.75** | 1.00–9.00 |" in text
    assert "Trial 1: one (a CPU)" in text and "Trial 2: two (another CPU)" in text
    path.unlink()
    assert "no writer trial" in results.writer_trial(copy)


def test_machines_are_named_or_said_to_be_unrecorded():
    assert machine.label(None) == machine.label({}) == "machine not recorded"
    assert machine.label({"cpu": "AMD EPYC", "cores": 2, "gpu": None, "torch": "2.1"}) == "AMD EPYC, 2 cores, torch 2.1"
    assert machine.label("Intel Xeon, 2 cores") == "Intel Xeon, 2 cores"


CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: {model}
model name\t: AMD EPYC
flags\t\t: fpu avx2

processor\t: 1
model name\t: another CPU
"""


def test_cpus_named_alike_by_a_virtual_machine_are_told_apart_by_generation():
    zen3, zen4 = (machine.cpuinfo(CPUINFO.format(model=m)) for m in (1, 17))
    assert machine.cpu_name(zen3) == "AMD EPYC (Zen 3)" and machine.cpu_name(zen4) == "AMD EPYC (Zen 4)"
    assert machine.cpu_name(machine.cpuinfo(CPUINFO.format(model=99))) == "AMD EPYC (family 25 model 99)"
    assert machine.cpuinfo(CPUINFO.format(model=1))["flags"] == "fpu avx2"      # the first processor's fields
    assert machine.cpu_name({"model name": "Some CPU"}) == "Some CPU"           # no family: the name alone
    assert machine.cpu_name({}) and machine.cpuinfo("") == {}

def test_a_saved_checkpoint_records_its_machine(tmp_path):
    checkpoints.save(tmp_path, "tiny", torch.nn.Linear(2, 2), {"config": {}})
    recorded = checkpoints.read_json(tmp_path / "tiny.json")["machine"]
    assert recorded == machine.describe() and recorded["cpu"] and recorded["torch"] == torch.__version__
    assert (recorded["gpu"] is None) == (not torch.cuda.is_available())


def test_the_bigram_model_is_a_distribution_and_beats_the_unigram():
    from seqcompare.baselines import Bigram

    rng = np.random.default_rng(0)
    text = np.array([i % 5 for i in range(2000)] + list(rng.integers(0, 7, 200)))       # a pattern, then noise
    model = Bigram(text, 8)
    for prev in range(8):
        assert sum(model.probability(prev, c) for c in range(8)) == pytest.approx(1.0)
    pattern = np.array([i % 5 for i in range(200)])
    uniform_bits = np.log2(8)
    assert model.bits_per_character(pattern)["bpc"] < 1.0 < uniform_bits
    assert model.bits_per_character(pattern)["characters"] == 199


def test_the_tutorial_rerun_writes_what_report_reads(data_dir, tmp_path):
    out = tmp_path / "mnist.json"
    done = run("tutorial", "mnist", "--epochs", "1", "--limit", "128", "--data-dir", str(data_dir), "--out", str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result["models"]) == {"rnn", "lstm", "gru", "lenet"}
    for m in result["models"].values():
        assert len(m["seconds_per_epoch"]) == 1 and 0 <= m["test"]["accuracy"] <= 1 and m["test"]["n"] == 10000
    assert result["ran"] == {**result["ran"], "epochs": 1, "limit": 128, "threads": 1}
    assert result["machine"] == machine.describe() and result["recipe"]["epochs"] == 20


def test_tutorial_refuses_nonsense_in_one_line():
    out = run("tutorial", "mnist", "--epochs", "0")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "at least 1" in out.stderr


def test_the_earlier_precision_entry_is_read_from_its_artifact(copy):
    """The paragraph comparing the shipped entry of a kind of CPU with an earlier one is computed from the two
    files: change the earlier totals and the paragraph follows; without the artifact it says there is none."""
    from seqcompare import precision_table

    path = copy / precision_table.EARLIER
    earlier = json.loads(path.read_text(encoding="utf-8"))
    earlier["total_ms"] = {"fp32": 300.0, "auto": 100.0}
    path.write_text(json.dumps(earlier), encoding="utf-8")
    text = precision_table.earlier_block(copy)
    now = precision_table.shipped_table(copy)["measured"][earlier["cpu_features"]["key"]]["total_ms"]
    assert "gave fp32 300.0 ms and auto 100.0 ms, 3.00× faster" in text
    assert f"fp32 took {(1 - now['fp32'] / 300) * 100:.0f}% less time" in text
    assert text.endswith("moved most.") == (now["fp32"] / 300 < now["auto"] / 100)
    earlier["total_ms"] = {"fp32": 100.0, "auto": 300.0}                # auto moved more: no such clause
    path.write_text(json.dumps(earlier), encoding="utf-8")
    assert not precision_table.earlier_block(copy).endswith("moved most.")
    path.unlink()
    assert precision_table.earlier_block(copy).startswith("_no earlier measurement")


def test_the_classifiers_fp32_sentence_names_their_largest_matrix_from_the_checkpoints(tmp_path):
    """precision block: the classifiers' largest multiplied matrix (embedding tables, only looked up, left out)
    against the text models' largest, read from the safetensors headers."""
    import torch
    from safetensors.torch import save_file

    from seqcompare import precision_table

    for task, weights in {"mnist": {"rnn.weight_ih_l0": (64, 28), "head.weight": (10, 64)},
                          "imdb": {"embed.weight": (5000, 32), "rnn.weight_hh_l0": (96, 32)},
                          "hotel": {"decoder.weight": (300, 40), "embed.weight": (300, 40)}}.items():
        (tmp_path / "checkpoints" / task).mkdir(parents=True)
        save_file({k: torch.zeros(s) for k, s in weights.items()}, tmp_path / "checkpoints" / task / "lstm.safetensors")
    said = precision_table.classifier_text(tmp_path)
    assert "LSTM's `rnn.weight_hh_l0` in checkpoints/imdb, is 96 × 32 (0.01 MB in fp32" in said
    assert "against 300 × 40 (0.05 MB) for the text models' largest" in said
    shipped = precision_table.classifier_text(ROOT)
    assert "LSTM's `rnn.weight_ih_l0` in checkpoints/imdb, is 512 × 256" in shipped and "3,073 × 384" in shipped
