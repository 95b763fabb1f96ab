"""Many users at once: concurrent gradio_client calls against a running dashboard (loopback only)."""

from __future__ import annotations

import queue
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from seqcompare import UserError, sketches


TRAINING = ("digits", "rnn,lstm,gru", 64, 1, 0.0, 0.005, 30, 120, "", 10000)   # a long live training


def run(url: str, calls_per_endpoint: int = 30, threads: int = 30, timeout: float = 120,
        while_training: bool = False) -> dict:
    """`calls_per_endpoint` calls to each of predict_digit, classify_review and generate_text, from
    `threads` client threads at once. Returns counts, failures and latency percentiles in seconds.
    With `while_training`, a live training (train_models) runs all the while on its own client."""
    from gradio_client import Client, handle_file

    if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise UserError("the load test only targets this machine (http://127.0.0.1:PORT/)")
    image = Path(tempfile.mkdtemp()) / "digit.png"
    sketches.render(5, size=560).save(image)
    jobs = []
    for i in range(calls_per_endpoint):
        jobs.append(("predict_digit", (handle_file(str(image)),)))
        jobs.append(("classify_review", (f"Review {i}: a warm, funny and well acted film.",)))
        jobs.append(("generate_text", ("早餐", 100, 0.8, 20, i)))
    clients = queue.Queue()                 # one client per thread, as for real users: never two calls on one
    for _ in range(threads):
        clients.put(Client(url, verbose=False))

    def call(job):
        endpoint, args = job
        client = clients.get()
        t0 = time.perf_counter()
        try:
            out = client.predict(*args, api_name=f"/{endpoint}")
            ok = isinstance(out, dict) and "models" in out and all("error" not in a for a in out["models"].values())
        except Exception as exc:  # a failed call is counted and reported, not raised
            ok, out = False, f"{type(exc).__name__}: {str(exc)[:200]}"
        finally:
            clients.put(client)
        return endpoint, ok, time.perf_counter() - t0, None if ok else f"{endpoint}: {str(out)[:300]}"

    training = None
    if while_training:
        training = Client(url, verbose=False).submit(*TRAINING, api_name="/train_models")
        deadline = time.perf_counter() + 60
        while training.status().code.name not in ("ITERATING", "FINISHED") and time.perf_counter() < deadline:
            time.sleep(0.2)                     # the inference calls start once the training is under way
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(call, jobs, timeout=timeout))
    wall = time.perf_counter() - start
    training_state = None
    if training is not None:
        training_state = "still training" if not training.done() else "finished"
        training.cancel()
    times = [t for _, _, t, _ in results]
    per = {e: sorted(t for name, _, t, _ in results if name == e)
           for e in ("predict_digit", "classify_review", "generate_text")}
    failures = [why for _, ok, _, why in results if not ok]
    return {"calls": len(results), "failed": len(failures), "failures": failures[:5], "wall_s": round(wall, 2),
            "p50_s": round(statistics.median(times), 3), "p95_s": round(float(np.percentile(times, 95)), 3),
            "max_s": round(max(times), 3),
            "per_endpoint_p95_s": {e: round(float(np.percentile(t, 95)), 3) for e, t in per.items()},
            **({"while_training": training_state} if while_training else {})}
