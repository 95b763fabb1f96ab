"""Many users at once: concurrent calls to a running dashboard's named endpoints (loopback only).

Each simulated user has a session of its own, as a browser tab or a gradio_client has, and calls the endpoints
through Gradio's HTTP API (POST /gradio_api/call/NAME, then its result as server-sent events; files through
/gradio_api/upload) over one pooled httpx client. The client has to be light: it runs on the same two cores as
the server it measures. gradio_client (a reader thread and an event stream per client) took about 20 s of CPU for
the 90 calls here, as much as the server; these calls take about 1 s."""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from seqcompare import UserError, sketches


TRAINING = ("digits", "rnn,lstm,gru", 64, 1, 0.0, 0.005, 30, 120, "", 10000)   # a long live training
ENDPOINTS = ("predict_digit", "classify_review", "generate_text")
SEEDS = ("早餐", "房间很干净", "服务", "位置不错，交通", "这家酒店")   # seeds of 2–7 characters: users' requests in one
                                                              # batch stand at different positions
API = "gradio_api"
CLIENT = "Gradio's HTTP API over httpx, a session per user"


class Upload(str):
    """A call argument that is a local file: uploaded first, then passed as the server's copy."""


def describe(exc: BaseException) -> str:
    """'Type: message' for a failed call, never an empty message (a timeout, for one, often has none)."""
    import httpx

    silent = {httpx.TimeoutException: "no result within the time allowed",
              httpx.RemoteProtocolError: "the server closed the connection before the result arrived",
              TimeoutError: "no result within the time allowed"}
    message = str(exc).strip() or next((m for t, m in silent.items() if isinstance(exc, t)), "(no message)")
    return f"{type(exc).__name__}: {message[:200]}"


def outcome(event: str | None, data: str | None):
    """(result, why it failed) from the last server-sent event of a call: `complete` carries the outputs, an
    `error` its message (Gradio sends null when the app did not choose to show it)."""
    if event == "complete":
        return json.loads(data)[0], None
    if event == "error":
        message = (json.loads(data) or {}).get("error") if data else None
        return None, f"error: {message or 'the server reported an error without a message'}"
    return None, "the event stream ended without a result"


class Users:
    """Simulated users, a session each: a thread of the load test is one user and keeps its session for all
    its calls."""

    def __init__(self, url: str, timeout: float):
        import httpx

        self.url, self.local = url.rstrip("/"), threading.local()
        self.http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=200, max_keepalive_connections=200))

    def session(self) -> str:
        if not hasattr(self.local, "session"):
            self.local.session = uuid.uuid4().hex[:12]
        return self.local.session

    def argument(self, value):
        if not isinstance(value, Upload):
            return value
        with open(value, "rb") as f:
            answer = self.http.post(f"{self.url}/{API}/upload", files={"files": (Path(value).name, f)})
        answer.raise_for_status()
        return {"path": answer.json()[0], "meta": {"_type": "gradio.FileData"}}

    def result(self, endpoint: str, args: tuple):
        """The endpoint's answer to `args`, as one user's call (result, why it failed)."""
        body = {"data": [self.argument(a) for a in args], "session_hash": self.session()}
        answer = self.http.post(f"{self.url}/{API}/call/{endpoint}", json=body)
        answer.raise_for_status()
        event = data = None
        with self.http.stream("GET", f"{self.url}/{API}/call/{endpoint}/{answer.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    data = line[5:].strip()
                    break
        return outcome(event, data)

    def call(self, endpoint: str, args: tuple) -> tuple[str, bool, float, str | None]:
        """(endpoint, ok, seconds, why it failed): a call fails on an exception, an error event, or an answer
        with an "error"."""
        t0 = time.perf_counter()
        try:
            out, why = self.result(endpoint, args)
            if why is None and not (isinstance(out, dict) and "models" in out
                                    and all("error" not in a for a in out["models"].values())):
                why = str(out)[:300]
        except Exception as exc:  # a failed call is counted and reported, not raised
            why = describe(exc)
        return endpoint, why is None, time.perf_counter() - t0, None if why is None else f"{endpoint}: {why}"

    def close(self) -> None:
        self.http.close()


def jobs(calls_per_endpoint: int) -> list[tuple[str, tuple]]:
    image = Path(tempfile.mkdtemp()) / "digit.png"
    sketches.render(5, size=560).save(image)
    out = []
    for i in range(calls_per_endpoint):
        out.append(("predict_digit", (Upload(image),)))
        out.append(("classify_review", (f"Review {i}: a warm, funny and well acted film.",)))
        out.append(("generate_text", (SEEDS[i % len(SEEDS)], 100, 0.8, 20, i, 1.0, 1)))   # every parameter: the HTTP API
                                                                                   # has no defaults
    return out


def start_training(url: str, timeout: float = 60):
    """A live training (train_models) on its own client, once it streams its first update (or None)."""
    from gradio_client import Client

    training = Client(url, verbose=False).submit(*TRAINING, api_name="/train_models")
    deadline = time.perf_counter() + timeout
    while training.status().code.name not in ("ITERATING", "FINISHED") and time.perf_counter() < deadline:
        time.sleep(0.2)                     # the inference calls start once the training is under way
    return training


def answering(url: str) -> None:
    """A UserError unless a server answers at `url` (the calls would all fail, and a saved result mean nothing)."""
    import httpx

    try:
        httpx.get(url, timeout=30).raise_for_status()
    except httpx.HTTPError as exc:
        raise UserError(f"no dashboard answers at {url} ({describe(exc)}); start one with `python app.py`") from None


def run(url: str, calls_per_endpoint: int = 30, threads: int = 30, timeout: float = 120,
        while_training: bool = False) -> dict:
    """`calls_per_endpoint` calls to each of predict_digit, classify_review and generate_text, from
    `threads` users at once (a session each). Returns counts, failures ("endpoint: Type: message") and latency
    percentiles in seconds. With `while_training`, a live training (train_models) runs all the while on its
    own client, and "training" says whether one ran and whether it was still running when the calls ended."""
    from seqcompare.machine import machine

    if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise UserError("the load test only targets this machine (http://127.0.0.1:PORT/)")
    answering(url)
    work, users = jobs(calls_per_endpoint), Users(url, timeout)
    training = start_training(url) if while_training else None
    ran = training is not None and training.status().code.name == "ITERATING"
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:      # every call ends within its own timeout
        results = list(pool.map(lambda job: users.call(*job), work))
    users.close()
    wall = time.perf_counter() - start
    running = training is not None and not training.done()
    if training is not None:
        training.cancel()
    times = [t for _, _, t, _ in results]
    per = {e: sorted(t for name, _, t, _ in results if name == e) for e in ENDPOINTS}
    failures = [why for _, ok, _, why in results if not ok]
    return {"machine": machine(threads=False), "client": CLIENT, "users": threads, "calls": len(results),
            "seeds": list(SEEDS), "failed": len(failures),
            "failures": failures[:5], "wall_s": round(wall, 2),
            "p50_s": round(statistics.median(times), 3), "p95_s": round(float(np.percentile(times, 95)), 3),
            "max_s": round(max(times), 3),
            "per_endpoint_p95_s": {e: round(float(np.percentile(t, 95)), 3) for e, t in per.items()},
            **({"training": {"ran": ran, "running_at_end": ran and running}} if while_training else {})}
