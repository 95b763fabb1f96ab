"""Continuous batching for a server: one thread writes every generation request, and a request that arrives
while a model is writing joins it at the next step instead of waiting for the batch to end.

The models write in turns (stages): a stage runs one model, stepping every request in it together (`step_jobs`:
the weights read once per step for all of them), and admits the requests that arrive during its first
ADMIT_STEPS steps. It ends when its last request is written; the next stage runs the next model some waiting
request still needs. A request's answer is complete when every model has written it, in whatever order its
stages came. Each request gets the text it gets alone (batched rows compute what lone rows do, up to float
rounding: a beam search's score can differ in its fourth decimal; see the tests), its own ms per model (from
joining the stage to its last character) and, in "batch", the most requests a model wrote together with it.
A request whose stage fails gets a UserError in its place; the others are answered as ever.

Stages take turns so that one model's weights stay in the CPU's caches while it writes, and admission closes so
that a stream of arrivals cannot hold one model's stage forever.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import torch

from seqcompare import UserError
from seqcompare.textgen.decode import start_jobs, step_jobs
from seqcompare.textgen.serve import written

ADMIT_STEPS = 100          # a stage admits arrivals during its first steps (a default request's length)
WORKERS = 1                # threads, each running one model's stage at a time


@dataclass
class Pending:
    """A request being written: its checked settings, the models still to write it, their answers so far."""
    checked: dict
    future: Future
    todo: list[str]                                   # models that have not admitted it yet
    models: dict = field(default_factory=dict)        # name → its part of the answer (`serve.written`)
    writing: int = 0                                  # the stages writing it now (one per worker at most)
    shared: int = 1                                   # the most requests a model wrote together with it


@dataclass
class Member:
    """A request in a stage: its job (and row in it, for sampling), when it joined."""
    request: Pending
    job: object
    row: int | None
    start: float
    shared: int = 1


def outcome(future: Future) -> dict | UserError:
    """A request's answer, or a UserError in its place when writing it failed."""
    try:
        return future.result()
    except Exception as exc:
        return UserError("errors.unavailable", reason=str(exc) or type(exc).__name__)


class Writer:
    """Writes a `TextModels` bank's generation requests on one thread, admitting arrivals between steps
    (see the module). `generate_many` takes and answers what the bank's does (its "ms" is each request's own
    time in a model's stage, "batch" the most requests written with it); the thread starts with the first."""

    def __init__(self, bank, admit_steps: int = ADMIT_STEPS, stop_at_end: bool = True, workers: int | None = None):
        self.bank, self.admit_steps, self.stop_at_end = bank, admit_steps, stop_at_end
        self.workers = workers or WORKERS
        self.waiting: list[Pending] = []              # submitted, not yet answered
        self.lock = threading.Condition()
        self.threads: list[threading.Thread] = []
        self.busy: set[str] = set()                   # the models whose stage is running
        self.last = -1                                # the model of the last stage (stages go round)
        self.stages = 0                               # stages run so far (the tests count them)

    def generate_many(self, requests: list[tuple]) -> list[dict | UserError]:
        """`TextModels.generate_many`, written by the thread together with every other caller's requests."""
        if not self.bank.served:                      # no model loaded: every answer says so at once
            return self.bank.generate_many(requests, self.stop_at_end)
        checked = self.bank.check_all(requests)
        pending = {i: Pending(c, Future(), list(self.bank.served)) for i, c in enumerate(checked)
                   if not isinstance(c, UserError)}
        if pending:
            with self.lock:
                while len(self.threads) < self.workers:
                    self.threads.append(threading.Thread(target=self._run, daemon=True, name="seqcompare-writer"))
                    self.threads[-1].start()
                self.waiting.extend(pending.values())
                self.lock.notify_all()
        return [c if i not in pending else outcome(pending[i].future) for i, c in enumerate(checked)]

    # --- the thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        finally:                                      # only a BaseException ends the loop: answer its callers
            with self.lock:                           # (when no other thread is left to write for them)
                self.threads.remove(threading.current_thread())
                left = [] if self.threads else self.waiting
                if not self.threads:
                    self.waiting, self.busy = [], set()
            for p in left:
                p.future.set_exception(RuntimeError("the writer stopped"))

    def _loop(self) -> None:
        names = list(self.bank.served)
        with torch.inference_mode():
            while True:
                with self.lock:
                    # the next model, going round, that a waiting request still needs and no stage is running
                    while (name := self._next(names)) is None:
                        self.lock.wait()
                    self.last, self.stages = names.index(name), self.stages + 1
                    self.busy.add(name)
                try:
                    self._stage(name, self.bank.served[name])
                except Exception as exc:              # a failing model fails its requests, not the thread
                    self._fail(name, exc)
                finally:
                    with self.lock:
                        self.busy.discard(name)
                        self.lock.notify_all()

    def _next(self, names: list[str]) -> str | None:
        order = [names[(self.last + k) % len(names)] for k in range(1, len(names) + 1)]
        return next((n for n in order if n not in self.busy and any(n in p.todo for p in self.waiting)), None)

    def _admit(self, name: str) -> list[Pending]:
        with self.lock:
            joining = [p for p in self.waiting if name in p.todo]
            for p in joining:
                p.todo.remove(name)
                p.writing += 1
        return joining

    def _stage(self, name: str, model) -> None:
        """Write with `model` until its last request is done, admitting arrivals for `admit_steps` steps."""
        members: list[Member] = []
        jobs: list = []
        steps = 0
        while True:
            if steps <= self.admit_steps:
                joining = self._admit(name)
                if joining:
                    members += self._start(model, joining, jobs)
            if not members:
                return
            step_jobs(model, jobs)
            steps += 1
            for m in members:
                m.shared = max(m.shared, len(members))
            going = []
            for m in members:
                done = m.job.done if m.row is None else m.row not in m.job.live
                if done:
                    self._written(name, m)
                else:
                    going.append(m)
            members = going
            jobs[:] = [job for job in jobs if not job.done]

    def _start(self, model, joining: list[Pending], jobs: list) -> list[Member]:
        """The jobs of the requests joining a stage (their seeds read now), added to `jobs`, and their members."""
        start = time.perf_counter()
        sampled = [p for p in joining if p.checked["beams"] == 1]
        searched = [p for p in joining if p.checked["beams"] > 1]
        sampling, beams = start_jobs(model, self.bank.vocab, [self.bank.draw(p.checked) for p in sampled],
                                     [self.bank.search(p.checked) for p in searched], self.stop_at_end)
        members = [Member(p, sampling, row, start) for row, p in enumerate(sampled)]
        members += [Member(p, job, None, start) for p, job in zip(searched, beams)]
        jobs += ([sampling] if sampling else []) + beams
        return members

    def _written(self, name: str, m: Member) -> None:
        """A request's text from one model, and its answer when that was the last model."""
        ms = round((time.perf_counter() - m.start) * 1000, 2)
        if m.row is None:
            chars, score = m.job.best()
            m.request.models[name] = written(m.request.checked, self.bank.vocab.decode(chars), ms, score)
        else:
            m.request.models[name] = written(m.request.checked, self.bank.vocab.decode(m.job.out[m.row]), ms)
        m.request.shared = max(m.request.shared, m.shared)
        self._finish(m.request)

    def _finish(self, p: Pending) -> None:
        with self.lock:
            p.writing -= 1
            if p.todo or p.writing:
                return
            self.waiting.remove(p)
        try:
            p.future.set_result(self.bank.answer(p.checked, {**self.bank._unavailable(), **p.models}, p.shared))
        except Exception as exc:                      # (it has left `waiting`: `_fail` would not find it)
            p.future.set_exception(exc)

    def _fail(self, name: str, exc: Exception) -> None:
        """Every request in the failed stage gets the exception (they are answered no further)."""
        with self.lock:
            failed = [p for p in self.waiting if name not in p.todo and name not in p.models and p.writing]
            for p in failed:
                self.waiting.remove(p)
        for p in failed:
            p.future.set_exception(exc)
