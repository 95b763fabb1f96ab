"""`deploy --dry-run` on a fresh clone lists exactly what a Space needs; without a token, one line."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    path = tmp_path_factory.mktemp("clone") / "seqcompare"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True, timeout=120)
    return path


def run(cwd, *args, env=None):
    return subprocess.run([sys.executable, "-m", "seqcompare", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_dry_run_lists_the_app_package_requirements_and_weights_only(clone):
    out = run(clone, "deploy", "someone/seqcompare", "--dry-run", env={"HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    *lines, total = out.stdout.strip().splitlines()
    listed = [line.split("\t")[0] for line in lines]
    tracked = subprocess.run(["git", "ls-files"], cwd=clone, capture_output=True, text=True).stdout.split()
    expected = sorted(name for name in tracked if name in ("app.py", "requirements.txt", "README.md")
                      or (name.startswith(("seqcompare/", "checkpoints/")) and "__pycache__" not in name))
    assert listed == expected
    assert {"app.py", "requirements.txt", "README.md", "checkpoints/hotel/transformer.safetensors",
            "seqcompare/ui/__init__.py"} <= set(listed)
    assert not [n for n in listed if n.startswith(("tests/", ".ci/", ".git", "data/")) or n.endswith((".db", ".pyc"))]
    sizes = [int(line.split("\t")[1].split()[0].replace(",", "")) for line in lines]
    assert sizes == [(clone / n).stat().st_size for n in listed]
    assert total.startswith(f"total: {len(listed)} files, {sum(sizes):,} bytes")


def test_without_a_token_it_says_what_to_set(clone, tmp_path):
    out = run(clone, "deploy", "someone/seqcompare", env={"HF_TOKEN": "", "HF_HOME": str(tmp_path)})
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "HF_TOKEN" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_bad_space_id_is_one_line(clone):
    out = run(clone, "deploy", "no-owner")
    assert out.returncode == 2 and "OWNER/NAME" in out.stderr and out.stderr.count("\n") == 1
