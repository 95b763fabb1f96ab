"""`deploy --dry-run` on a fresh clone lists exactly what a Space needs; without a token, one line."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from seqcompare import deploy


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
    expected = sorted(name for name in tracked if name in ("app.py", "requirements.txt", "README.md", deploy.SCREENSHOT)
                      or (name.startswith(("seqcompare/", "checkpoints/")) and "__pycache__" not in name))
    assert listed == expected
    assert {"app.py", "requirements.txt", "README.md", "checkpoints/hotel/transformer.safetensors",
            "seqcompare/ui/__init__.py", deploy.SCREENSHOT} <= set(listed)      # the README shows the screenshot
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


def test_without_network_it_says_what_to_check(clone, tmp_path):
    out = run(clone, "deploy", "someone/seqcompare",
              env={"HF_TOKEN": "hf_test", "HF_HOME": str(tmp_path), "HF_ENDPOINT": "http://127.0.0.1:9"})
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "network" in out.stderr
    assert "Traceback" not in out.stderr


class FakeHub:
    """Stands in for huggingface_hub.HfApi: records what deploy/publish ask of the Hub."""
    calls: list = []
    remote = [".gitattributes", "README.md", "app.py", "seqcompare/old_module.py", "checkpoints/mnist/gone.json",
              "notes.txt"]

    def __init__(self, token=None):
        self.calls.append(("token", token))

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def list_repo_files(self, repo_id, **kwargs):
        return list(self.remote)

    def create_commit(self, repo_id, operations, **kwargs):
        self.calls.append(("create_commit", repo_id, operations, kwargs))


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub

    FakeHub.calls = []
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    return FakeHub


def test_deploy_creates_a_gradio_space_and_uploads_exactly_the_listed_files(hub, clone):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    from seqcompare import deploy

    url = deploy.deploy("someone/seqcompare", private=True, root=clone)
    assert url == "https://huggingface.co/spaces/someone/seqcompare"
    (_, token), (_, repo, create), (_, commit_repo, operations, commit) = hub.calls
    assert token == "hf_test" and repo == commit_repo == "someone/seqcompare"
    assert create == {"repo_type": "space", "space_sdk": "gradio", "private": True, "exist_ok": True}
    assert commit["repo_type"] == "space"
    added = [op.path_in_repo for op in operations if isinstance(op, CommitOperationAdd)]
    deleted = [op.path_in_repo for op in operations if isinstance(op, CommitOperationDelete)]
    assert added == [name for name, _ in deploy.files(clone)]
    assert deleted == ["checkpoints/mnist/gone.json", "seqcompare/old_module.py"]   # ours, no longer shipped


def test_a_hub_failure_is_one_line(hub, monkeypatch):
    from seqcompare import UserError, deploy

    def refuse(self, repo_id, **kwargs):
        raise ConnectionError("Connection refused\nmore detail")

    monkeypatch.setattr(FakeHub, "create_repo", refuse)
    with pytest.raises(UserError, match=r"could not be reached \(ConnectionError: Connection refused\); check HF_TOKEN"):
        deploy.deploy("someone/seqcompare")


def test_publish_writes_a_model_card_from_the_checkpoints(hub):
    from huggingface_hub import CommitOperationAdd

    from seqcompare import checkpoints, publish

    folder = ROOT / "checkpoints" / "mnist"
    card = publish.card("mnist", folder)
    assert card.startswith("---\n") and 'datasets: ["ylecun/mnist"]' in card
    lenet = checkpoints.read_json(folder / "lenet.json")
    assert f"| LeNet-5 | {lenet['test']['accuracy']:.4f} |" in card              # the measured metric, not typed
    assert "## Intended use" in card and "## Limitations" in card
    url = publish.publish("mnist", "someone/seqcompare-mnist", folder)
    assert url == "https://huggingface.co/someone/seqcompare-mnist"
    (_, _), (_, _, create), (_, _, operations, _) = hub.calls
    assert create["repo_type"] == "model"
    added = [op.path_in_repo for op in operations if isinstance(op, CommitOperationAdd)]
    assert added == ["README.md", *(name for name, _ in publish.files("mnist", folder))]
    assert {f"{m}.{ext}" for m in ("rnn", "lstm", "gru", "lenet") for ext in ("json", "safetensors")} == set(added[1:])


def test_publish_dry_run_prints_the_card_and_the_files(tmp_path):
    out = run(ROOT, "publish", "imdb", "someone/x", "--dry-run", env={"HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    assert "# seqcompare — IMDb movie-review sentiment" in out.stdout
    listed = [line.split("\t")[0] for line in out.stdout.splitlines() if "\t" in line]
    assert listed[0] == "README.md" and "tokenizer.json" in listed and "gru.safetensors" in listed
    assert "memory.json" not in listed and "study.json" not in listed
    out = run(ROOT, "publish", "imdb", "someone/x", "--checkpoints", str(tmp_path), "--dry-run")
    assert out.returncode == 2 and "no trained model" in out.stderr and out.stderr.count("\n") == 1


def test_a_new_module_goes_up_and_ignored_or_stray_files_do_not(tmp_path):
    from seqcompare import deploy

    path = tmp_path / "seqcompare"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True, timeout=120)
    extra = {"seqcompare/new_module.py": True,                 # not committed yet, not ignored: it goes up
             "seqcompare/__pycache__/cli.cpython-311.pyc": False, "checkpoints/mnist/.lenet.json.x.tmp": False,
             "data/imdb/train.jsonl.gz": False, "tests/screenshots/shot.png": False, "notes.txt": False,
             ".venv/lib/site.py": False}
    for name in extra:
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text("x")
    listed = {name for name, _ in deploy.files(path)}
    assert {name for name, shipped in extra.items() if shipped} == listed & set(extra)
    assert "app.py" in listed and "checkpoints/mnist/lenet.safetensors" in listed
