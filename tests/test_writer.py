"""The server's writer (continuous batching): requests that arrive while a model writes join it at its next
step, each still gets the answer it gets alone, and a failing stage fails only its own requests."""

import threading
import time

import pytest

from seqcompare import UserError, textgen
from seqcompare.textgen import writer as writer_module


def texts(answer: dict) -> dict:
    return {n: a["text"] for n, a in answer["models"].items()}


def wait_for(condition, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("the writer did not get there")
        time.sleep(0.005)


def test_concurrent_callers_get_what_they_get_alone(text_bank):
    writer = textgen.Writer(text_bank)
    calls = [[("早餐", 30, 0.8, 20, 1)], [("房间很", 25, 1.0, 0, 2, 0.9), ("早餐", 0, 0.8, 20, 1)],
             [("服务", 20, 0.8, 20, 3, 1.0, 2)], [("早餐", 30, 0.8, 20, 5)]]
    answers = [None] * len(calls)

    def call(i):
        answers[i] = writer.generate_many(calls[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive(), "a caller is still waiting for the writer"
    assert isinstance(answers[1][1], UserError) and "length" in str(answers[1][1])
    for requests, got in zip(calls, answers):
        for request, answer in zip(requests, got):
            if isinstance(answer, UserError):
                continue
            alone = text_bank.generate(*request)
            assert texts(answer) == texts(alone)
            assert answer["seed"] == alone["seed"] and answer["notices"] == alone["notices"]
            assert all(a["ms"] > 0 and a["characters"] == len(a["text"]) - len(answer["seed"])
                       for a in answer["models"].values())
    assert max(a.get("batch", 1) for got in answers for a in got if isinstance(a, dict)) > 1   # some shared
    assert answers[2][0]["models"]["gru"]["score"] == text_bank.generate(*calls[2][0])["models"]["gru"]["score"]
    assert writer.generate_many([("早餐", -1, 0.8, 20, 0)])[0].key == "errors.length"     # refused, not queued


@pytest.mark.parametrize("admit_steps, stages", [(100, 4), (0, 5)])
def test_an_arrival_joins_the_model_writing(text_bank, monkeypatch, admit_steps, stages):
    """A request arriving at step 5 of the first model's stage joins it at the next step (one stage per model
    in all); with admission only before the first step it waits for that model's next stage (a fifth). The
    texts run to their length (no END), so the first request is still being written at step 5."""
    writer = textgen.Writer(text_bank, admit_steps=admit_steps, stop_at_end=False)
    steps, step_jobs = [], writer_module.step_jobs           # (stage, jobs) of every step
    late: list = []

    def counted(model, jobs):
        steps.append((writer.stages, len(jobs)))
        if len(steps) == 5:                                  # step 5 of the first stage: another user asks
            threading.Thread(target=lambda: late.append(writer.generate_many([("房间", 12, 0.8, 20, 7)]))).start()
            wait_for(lambda: len(writer.waiting) == 2)
        return step_jobs(model, jobs)

    monkeypatch.setattr(writer_module, "step_jobs", counted)
    first = writer.generate_many([("早餐", 40, 0.8, 20, 1)])[0]
    wait_for(lambda: late)
    assert writer.stages == stages
    assert texts(first) == texts(text_bank.generate("早餐", 40, 0.8, 20, 1, stop_at_end=False))
    assert texts(late[0][0]) == texts(text_bank.generate("房间", 12, 0.8, 20, 7, stop_at_end=False))
    joined = max(jobs for stage, jobs in steps if stage == 1) == 2       # in the first model's stage
    assert joined == (admit_steps > 0)
    assert late[0][0].get("batch") == 2 and first.get("batch") == 2     # other models wrote the two together


def test_a_failing_stage_fails_its_requests_and_the_writer_goes_on(text_bank, monkeypatch):
    """The request in the failing stage gets an error in its place; the caller's other requests and later
    callers are answered as ever."""
    writer = textgen.Writer(text_bank)
    step_jobs, failures = writer_module.step_jobs, []

    def failing(model, jobs):
        if not failures:
            failures.append(model)
            raise RuntimeError("a model failed")
        return step_jobs(model, jobs)

    monkeypatch.setattr(writer_module, "step_jobs", failing)
    failed, refused = writer.generate_many([("早餐", 10, 0.8, 20, 1), ("早餐", 0, 0.8, 20, 1)])
    assert isinstance(failed, UserError) and failed.key == "errors.unavailable"
    assert failed.render("en") == "unavailable: a model failed" and refused.key == "errors.length"
    answer = writer.generate_many([("早餐", 10, 0.8, 20, 1)])[0]
    assert texts(answer) == texts(text_bank.generate("早餐", 10, 0.8, 20, 1))
    assert writer.waiting == []


def test_two_workers_write_two_models_at_once_and_the_same_texts(text_bank, monkeypatch):
    writer = textgen.Writer(text_bank, workers=2)
    busy, step_jobs = [], writer_module.step_jobs

    def watched(model, jobs):
        busy.append(len(writer.busy))
        return step_jobs(model, jobs)

    monkeypatch.setattr(writer_module, "step_jobs", watched)
    requests = [("早餐", 30, 0.8, 20, seed) for seed in range(3)] + [("房间", 20, 0.8, 20, 0, 1.0, 2)]
    answers = writer.generate_many(requests)
    for request, answer in zip(requests, answers):
        assert texts(answer) == texts(text_bank.generate(*request))
    assert max(busy) == 2 and len(writer.threads) == 2 and writer.waiting == []
