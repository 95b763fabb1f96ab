"""`python -m seqcompare report`: the generated blocks of README.md and docs/*.md, written from the
repository's own files (checkpoints/*.json, checkpoints/*/*.json); `report --check` only compares.

A generated block sits between two markers, each on a line of its own:

    <!-- report:NAME -->
    …markdown that `report` writes…
    <!-- /report:NAME -->

and its content is what the function registered under NAME returns. A block function takes the
repository root (a Path) and returns markdown. It reads only files in the repository (never a data
folder), holds no measured number of its own, and labels each figure with the machine the artifact names.
To add one: decorate a function with `@report.block("NAME")` in a module listed in BLOCK_MODULES (or add
your module there), then put the two markers where the block belongs in README.md or a file in docs/. A block
of one JSON artifact takes `@report.artifact_block("NAME", path, missing)` and is given the artifact itself.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Callable

from seqcompare import UserError

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "docs/results.md", "docs/experiments.md", "docs/precision.md")
BLOCK_MODULES = ("seqcompare.results", "seqcompare.tutorial_results", "seqcompare.bf16_results",
                 "seqcompare.precision_table", "seqcompare.cells_report", "seqcompare.bench_layout",
                 "seqcompare.bench_kernels", "seqcompare.bench_compiled")
MARKER = re.compile(r"(<!-- report:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /report:(?P=name) -->)", re.S)

BLOCKS: dict[str, Callable[[Path], str]] = {}


def block(name: str):
    """Register `fn(root: Path) -> str` as the generated block NAME."""
    def register(fn):
        if name in BLOCKS and BLOCKS[name] is not fn:
            raise ValueError(f"report block {name!r} is registered twice")
        BLOCKS[name] = fn
        return fn
    return register


def read(path: Path) -> dict | None:
    """A JSON artifact, or None when it is not there or not a JSON object (a block then says so or stays short)."""
    from seqcompare import checkpoints

    try:
        result = checkpoints.read_json(path)
    except checkpoints.CheckpointError:
        return None
    return result if isinstance(result, dict) else None


def artifact_block(name: str, artifact: Path, missing: str):
    """Register `fn(found: dict) -> str` as the block NAME over one JSON artifact (`artifact`, under the root): the
    block, returned in fn's place, reads the artifact and gives fn(found), or says `missing` while there is none
    (which command writes it)."""
    def register(fn):
        def from_root(root: Path) -> str:
            found = read(root / artifact)
            return fn(found) if found else f"_{missing}_"
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):      # fn's name, the root's signature
            setattr(from_root, attribute, getattr(fn, attribute))
        return block(name)(from_root)
    return register


def blocks() -> dict[str, Callable[[Path], str]]:
    for module in BLOCK_MODULES:
        importlib.import_module(module)
    return BLOCKS


def render(text: str, root: Path, where: str = "") -> str:
    """`text` with every generated block rewritten; a block name nobody registered is a UserError."""
    known = blocks()

    def fill(m: re.Match) -> str:
        if m["name"] not in known:
            raise UserError(f"{where}: no report block named {m['name']!r}; known: {', '.join(sorted(known))}")
        return f"{m[1]}{known[m['name']](root).strip()}\n{m[4]}"
    return MARKER.sub(fill, text)


def documents(root: Path) -> list[Path]:
    return [root / name for name in DOCUMENTS if (root / name).is_file()]


def update(root: Path = ROOT) -> list[Path]:
    """Rewrite the generated blocks in place; the documents that changed."""
    changed = []
    for path in documents(root):
        text = path.read_text(encoding="utf-8")
        new = render(text, root, str(path))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def first_difference(path: Path, old: str, new: str) -> str | None:
    """"FILE:LINE: found … / report writes …" for the first line where `old` and `new` differ."""
    a, b = old.splitlines(), new.splitlines()
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"{path}:{i + 1}: found {x!r}; report writes {y!r}"
    if len(a) != len(b):
        n = min(len(a), len(b))
        return f"{path}:{n + 1}: found {a[n] if n < len(a) else '(end)'!r}; report writes {b[n] if n < len(b) else '(end)'!r}"
    return None


def check(root: Path = ROOT) -> str | None:
    """The first line of a generated block that differs from what `update` would write, or None."""
    for path in documents(root):
        text = path.read_text(encoding="utf-8")
        diff = first_difference(path.relative_to(root), text, render(text, root, str(path)))
        if diff:
            return diff
    return None


def add_parser(sub) -> None:
    r = sub.add_parser("report", help="rewrite the generated blocks of README.md and docs/ from the repository's files")
    r.add_argument("--check", action="store_true", help="change nothing; exit 1 at the first block that differs")
    r.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    r.set_defaults(func=run)


def run(args) -> None:
    if not (args.root / "README.md").is_file():
        raise UserError(f"{args.root}: no README.md there")
    if args.check:
        diff = check(args.root)
        if diff:
            print(diff)
            sys.exit(1)
        print("generated blocks are current")
        return
    changed = update(args.root)
    print(", ".join(str(p.relative_to(args.root)) for p in changed) + " updated" if changed else
          "generated blocks already current")
