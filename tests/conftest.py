import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"
DATA = Path(os.environ.get("SEQCOMPARE_DATA") or ROOT.parent / "shared" / "data")

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "MNIST").is_dir():
        pytest.skip(f"no data folder at {DATA} (set SEQCOMPARE_DATA)")
    return DATA
