"""Many users at once: concurrent gradio_client calls against a running dashboard (loopback only)."""

from __future__ import annotations

import concurrent.futures
import queue
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from seqcompare import UserError, sketches


TRAINING = ("digits", "rnn,lstm,gru", 64, 1, 0.0, 0.005, 30, 120, "", 10000)   # a long live training
ENDPOINTS = ("predict_digit", "classify_review", "generate_text")
# What an exception without a message means when a gradio_client call raises it.
SILENT = {concurrent.futures.CancelledError: "the client's event stream closed before the result arrived",
          TimeoutError: "no result within the time allowed"}


def describe(exc: BaseException) -> str:
    """'Type: message' for a failed call, never an empty message (CancelledError() and TimeoutError() have none)."""
    message = str(exc).strip() or next((m for t, m in SILENT.items() if isinstance(exc, t)), "(no message)")
    return f"{type(exc).__name__}: {message[:200]}"


def settle(client, timeout: float) -> None:
    """Wait until the server has closed `client`'s event stream (it does once the session has no call pending).

    gradio_client reuses an open stream for the next call: a call submitted while the server is already
    closing that stream is registered with the closing reader, which ends it with an empty CancelledError
    when the close arrives. Under load the reader thread lags, so a client reused at once hit this."""
    stream = getattr(client, "streaming_future", None)
    if stream is not None:
        concurrent.futures.wait([stream], timeout)


class Clients:
    """gradio_clients shared by the load test's threads, one call at a time each, as for real users; a client is
    handed out again only once its previous call's event stream has closed (see `settle`)."""

    def __init__(self, url: str, count: int, timeout: float):
        from gradio_client import Client

        self.timeout, self.free = timeout, queue.Queue()
        for _ in range(count):      # gradio_client's own 5 s default would fail a submission the server is slow to accept
            self.free.put(Client(url, verbose=False, httpx_kwargs={"timeout": timeout}))

    @contextmanager
    def client(self):
        client = self.free.get()
        try:
            yield client
        finally:
            settle(client, self.timeout)
            self.free.put(client)

    def call(self, endpoint: str, args: tuple) -> tuple[str, bool, float, str | None]:
        """(endpoint, ok, seconds, why it failed): a call fails on an exception or an answer with an "error"."""
        with self.client() as client:
            t0 = time.perf_counter()
            job = client.submit(*args, api_name=f"/{endpoint}")
            try:
                out = job.result(timeout=self.timeout)
                ok = isinstance(out, dict) and "models" in out and all("error" not in a for a in out["models"].values())
                why = None if ok else str(out)[:300]
            except Exception as exc:  # a failed call is counted and reported, not raised
                job.cancel()
                ok, why = False, describe(exc)
            return endpoint, ok, time.perf_counter() - t0, None if ok else f"{endpoint}: {why}"


def jobs(calls_per_endpoint: int) -> list[tuple[str, tuple]]:
    from gradio_client import handle_file

    image = Path(tempfile.mkdtemp()) / "digit.png"
    sketches.render(5, size=560).save(image)
    out = []
    for i in range(calls_per_endpoint):
        out.append(("predict_digit", (handle_file(str(image)),)))
        out.append(("classify_review", (f"Review {i}: a warm, funny and well acted film.",)))
        out.append(("generate_text", ("早餐", 100, 0.8, 20, i)))
    return out


def start_training(url: str, timeout: float = 60):
    """A live training (train_models) on its own client, once it streams its first update (or None)."""
    from gradio_client import Client

    training = Client(url, verbose=False).submit(*TRAINING, api_name="/train_models")
    deadline = time.perf_counter() + timeout
    while training.status().code.name not in ("ITERATING", "FINISHED") and time.perf_counter() < deadline:
        time.sleep(0.2)                     # the inference calls start once the training is under way
    return training


def run(url: str, calls_per_endpoint: int = 30, threads: int = 30, timeout: float = 120,
        while_training: bool = False) -> dict:
    """`calls_per_endpoint` calls to each of predict_digit, classify_review and generate_text, from
    `threads` client threads at once. Returns counts, failures ("endpoint: Type: message") and latency
    percentiles in seconds. With `while_training`, a live training (train_models) runs all the while on its
    own client; "training" says whether one ran and whether it was still running when the calls ended."""
    from seqcompare.machine import machine

    if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise UserError("the load test only targets this machine (http://127.0.0.1:PORT/)")
    work, clients = jobs(calls_per_endpoint), Clients(url, threads, timeout)
    training = start_training(url) if while_training else None
    ran = training is not None and training.status().code.name == "ITERATING"
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:      # every call ends within its own timeout
        results = list(pool.map(lambda job: clients.call(*job), work))
    wall = time.perf_counter() - start
    running = training is not None and not training.done()
    if training is not None:
        training.cancel()
    times = [t for _, _, t, _ in results]
    per = {e: sorted(t for name, _, t, _ in results if name == e) for e in ENDPOINTS}
    failures = [why for _, ok, _, why in results if not ok]
    return {"machine": machine(threads=False), "calls": len(results), "failed": len(failures),
            "failures": failures[:5], "wall_s": round(wall, 2),
            "p50_s": round(statistics.median(times), 3), "p95_s": round(float(np.percentile(times, 95)), 3),
            "max_s": round(max(times), 3),
            "per_endpoint_p95_s": {e: round(float(np.percentile(t, 95)), 3) for e, t in per.items()},
            "training": {"ran": ran, "running_at_end": ran and running}}
