"""Deploy the dashboard to a Hugging Face Space through huggingface_hub's API.

The Hub refuses plain-git files over 10 MB; its API moves large files to LFS by itself, so the weights
go up as they are, while this repository keeps real files (its CI clone has no LFS server).
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

from seqcompare import UserError

ROOT = Path(__file__).resolve().parent.parent
# What a Space needs to run the app: the app, the package, the requirements, the README (its front
# matter configures the Space), the README's screenshot and the trained weights. Never data, caches, tests
# or venvs.
SCREENSHOT = "docs/screenshot.png"
INCLUDE = ("app.py", "requirements.txt", "README.md", SCREENSHOT, "seqcompare/*", "checkpoints/*")
EXCLUDE = ("*/__pycache__/*", "*.pyc", "*.tmp", "*/.*", "*.db", "*.sqlite")
OWNED = ("seqcompare/", "checkpoints/")      # on the Space, files here that the upload does not hold are deleted


def _candidates(root: Path) -> list[str]:
    """Repository-relative paths: in a checkout, the files git tracks and the new ones it does not ignore
    (the working tree as it is, so a module not yet committed is not left behind); else every file."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, check=True, timeout=60)
        names = [n for n in out.stdout.decode("utf-8").split("\0") if n]
        if names:
            return names
    except (OSError, subprocess.SubprocessError):
        pass
    return [str(p.relative_to(root)).replace(os.sep, "/") for p in root.rglob("*") if p.is_file()]


def files(root: Path = ROOT) -> list[tuple[str, int]]:
    """(path, bytes) of every file the Space gets, sorted."""
    keep = []
    for name in _candidates(root):
        path = root / name
        if not path.is_file():
            continue
        if any(fnmatch.fnmatch(name, pattern) for pattern in INCLUDE) and \
                not any(fnmatch.fnmatch("/" + name, pattern) for pattern in EXCLUDE):
            keep.append((name, path.stat().st_size))
    return sorted(keep)


def listing(entries: list[tuple[str, int]]) -> str:
    """One line per file, its path first, then a total line."""
    lines = [f"{name}\t{size:,} bytes" for name, size in entries]
    total = sum(size for _, size in entries)
    lines.append(f"total: {len(entries)} files, {total:,} bytes ({total / 2**20:.1f} MiB)")
    return "\n".join(lines)


def deploy(space_id: str, private: bool = False, root: Path = ROOT) -> str:
    """Create (or update) the Space `space_id` with the Gradio SDK and upload the files; its URL."""
    if space_id.count("/") != 1 or not all(space_id.split("/")):
        raise UserError(f"{space_id!r} is not a Space id: write it as OWNER/NAME")
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    names = [name for name, _ in files(root)]
    api = hub()
    try:
        api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
        stale = sorted(set(n for n in api.list_repo_files(space_id, repo_type="space") if n.startswith(OWNED))
                       - set(names))          # a module or checkpoint removed here leaves the Space too
        api.create_commit(space_id, repo_type="space", commit_message="Deploy seqcompare",
                          operations=[*(CommitOperationAdd(path_in_repo=n, path_or_fileobj=str(root / n)) for n in names),
                                      *(CommitOperationDelete(path_in_repo=n) for n in stale)])
    except Exception as exc:      # network, authentication and Hub errors come in many types
        raise refused(exc) from None
    return f"https://huggingface.co/spaces/{space_id}"


def hub():
    """An HfApi with the user's token (HF_TOKEN or a saved login); a UserError saying what to set without one."""
    from huggingface_hub import HfApi, get_token

    token = get_token()
    if not token:
        raise UserError("no Hugging Face token: set HF_TOKEN (a write token) or run `hf auth login`")
    return HfApi(token=token)


def refused(exc: Exception) -> UserError:
    """A Hub or network failure as one line."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return UserError(f"the Hub refused or could not be reached ({type(exc).__name__}: {first}); "
                     "check HF_TOKEN and the network")
