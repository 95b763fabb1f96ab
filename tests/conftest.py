import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"
DATA = Path(os.environ.get("SEQCOMPARE_DATA") or ROOT.parent / "shared" / "data")

torch.set_num_threads(min(2, torch.get_num_threads()))


def _loaded(bank):
    assert not bank.errors, bank.errors
    return bank


@pytest.fixture(scope="session")
def digit_bank():
    """The shipped digit models, loaded once for the whole session."""
    from seqcompare import digits

    return _loaded(digits.DigitModels(CHECKPOINTS / "mnist"))


@pytest.fixture(scope="session")
def review_bank():
    from seqcompare import reviews

    return _loaded(reviews.ReviewModels(CHECKPOINTS / "imdb"))


@pytest.fixture(scope="session")
def text_bank():
    from seqcompare import textgen

    return _loaded(textgen.TextModels(CHECKPOINTS / "hotel"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data folder; without one the test is skipped, except under CI (the `CI` variable set), where a
    missing folder fails the run instead of quietly skipping every test that reads real data."""
    if not (DATA / "MNIST").is_dir():
        message = f"no data folder at {DATA} (set SEQCOMPARE_DATA to a folder holding MNIST, imdb and hotel)"
        if os.environ.get("CI"):
            pytest.fail(message + ": under CI the tests that read real data must run", pytrace=False)
        pytest.skip(message)
    return DATA


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report on the test item (the browser tests screenshot failures)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: drives the real app in headless Chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    port = free_port()
    env = {**os.environ, "SEQCOMPARE_DATA": str(DATA), "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            pytest.fail("the app exited at start-up:\n" + proc.stdout.read()[-3000:])
    else:
        proc.kill()
        pytest.fail("the app did not answer within 90 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)
