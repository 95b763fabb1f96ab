"""The load test's client pool: a reused gradio_client never loses a call to its closing event stream, and a
failed call always says what failed."""

import concurrent.futures
import json
import threading
import types

import gradio as gr
import pytest
from gradio_client import client as gc

from seqcompare import loadtest


@pytest.fixture(scope="module")
def echo_url():
    with gr.Blocks() as demo:
        text, out = gr.Textbox(), gr.JSON()
        gr.Button().click(lambda t: {"models": {"echo": {"text": t}}}, text, out, api_name="echo")
        gr.Button().click(lambda t: {"models": {"echo": {"error": f"cannot read {t}"}}}, text, out, api_name="refuse")
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield demo.local_url
    demo.close()


@pytest.fixture
def lagging_reader(monkeypatch):
    """The client's stream reader handles the server's close_stream only after the next call was submitted
    (or 3 s later): the interleaving that a reader thread starved under load produces now and then."""
    submitted = threading.Event()

    def loads(text):
        msg = json.loads(text)
        if msg.get("msg") == "process_completed":
            submitted.clear()
        elif msg.get("msg") == "close_stream":
            submitted.wait(3)
        return msg

    send_data = gc.Client.send_data

    def send_and_tell(self, *args, **kwargs):
        event_id = send_data(self, *args, **kwargs)
        submitted.set()
        return event_id

    monkeypatch.setattr(gc, "json", types.SimpleNamespace(loads=loads, dumps=json.dumps))
    monkeypatch.setattr(gc.Client, "send_data", send_and_tell)


def test_reused_client_survives_its_stream_closing(echo_url, lagging_reader):
    clients = loadtest.Clients(echo_url, 1, timeout=30)
    results = [clients.call("echo", (f"call {i}",)) for i in range(3)]
    assert [why for _, ok, _, why in results if not ok] == []
    assert all(ok and seconds > 0 for _, ok, seconds, _ in results)


def test_every_failure_names_its_type_and_a_message():
    assert loadtest.describe(concurrent.futures.CancelledError()) == \
        "CancelledError: the client's event stream closed before the result arrived"
    assert loadtest.describe(concurrent.futures.TimeoutError()) == "TimeoutError: no result within the time allowed"
    assert loadtest.describe(KeyError()) == "KeyError: (no message)"
    assert loadtest.describe(ValueError("Queue is full")) == "ValueError: Queue is full"


def test_an_answer_with_an_error_is_a_failure_that_carries_it(echo_url):
    endpoint, ok, _, why = loadtest.Clients(echo_url, 1, timeout=30).call("refuse", ("this",))
    assert endpoint == "refuse" and not ok and why.startswith("refuse: ") and "cannot read this" in why


def test_saved_result_names_the_machine_and_the_training(app_url):
    result = loadtest.run(app_url, calls_per_endpoint=1, threads=3, while_training=True)
    assert result["calls"] == 3 and result["failed"] == 0, result["failures"]
    assert result["training"] == {"ran": True, "running_at_end": True}
    assert "cores" in result["machine"] and "torch" in result["machine"]


@pytest.mark.parametrize("training, clause", [
    ({"ran": True, "running_at_end": True}, "ran all along"),
    ({"ran": True, "running_at_end": False}, "finished before the calls did"),
    ({"ran": False, "running_at_end": False}, "not under way")])
def test_readme_caption_says_how_the_training_went(training, clause):
    from seqcompare import results

    assert clause in results.training_clause({"training": training})
