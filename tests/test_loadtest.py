"""The load test's users: each keeps one session for all its calls, files are uploaded, and a failed call always
says what failed."""

import concurrent.futures

import gradio as gr
import httpx
import pytest

from seqcompare import loadtest


@pytest.fixture(scope="module")
def echo_url():
    def echo(text, request: gr.Request):
        return {"models": {"echo": {"text": text, "session": request.session_hash}}}

    def size(path):
        with open(path, "rb") as f:
            return {"models": {"file": {"bytes": len(f.read())}}}

    def fail(text):
        raise gr.Error(f"cannot read {text}")

    def crash(text):
        raise RuntimeError("a message the app does not show")

    with gr.Blocks() as demo:
        text, out, file = gr.Textbox(), gr.JSON(), gr.File(type="filepath")
        gr.Button().click(echo, text, out, api_name="echo")
        gr.Button().click(lambda t: {"models": {"echo": {"error": f"cannot read {t}"}}}, text, out, api_name="refuse")
        gr.Button().click(fail, text, out, api_name="fail")
        gr.Button().click(crash, text, out, api_name="crash")
        gr.Button().click(size, file, out, api_name="size")
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield demo.local_url
    demo.close()


def test_a_user_keeps_its_session_and_users_differ(echo_url):
    users = loadtest.Users(echo_url, timeout=30)
    mine = [users.result("echo", (f"call {i}",))[0]["models"]["echo"] for i in range(3)]
    with concurrent.futures.ThreadPoolExecutor(1) as other:
        theirs = other.submit(users.result, "echo", ("other",)).result()[0]["models"]["echo"]
    assert [m["text"] for m in mine] == ["call 0", "call 1", "call 2"]
    assert len({m["session"] for m in mine}) == 1 and theirs["session"] != mine[0]["session"]


def test_a_file_argument_is_uploaded(echo_url, tmp_path):
    path = tmp_path / "five.bin"
    path.write_bytes(b"12345")
    endpoint, ok, seconds, why = loadtest.Users(echo_url, timeout=30).call("size", (loadtest.Upload(path),))
    assert ok and why is None and seconds > 0
    assert loadtest.Users(echo_url, timeout=30).result("size", (loadtest.Upload(path),))[0] == \
        {"models": {"file": {"bytes": 5}}}


def test_every_failure_names_its_type_and_a_message():
    assert loadtest.describe(httpx.ReadTimeout("")) == "ReadTimeout: no result within the time allowed"
    assert loadtest.describe(TimeoutError()) == "TimeoutError: no result within the time allowed"
    assert loadtest.describe(KeyError()) == "KeyError: (no message)"
    assert loadtest.describe(ValueError("Queue is full")) == "ValueError: Queue is full"
    assert loadtest.outcome("error", "null") == (None, "error: the server reported an error without a message")
    assert loadtest.outcome(None, None) == (None, "the event stream ended without a result")


@pytest.mark.parametrize("endpoint, message", [
    ("refuse", "cannot read this"),                                      # an answer that carries an error
    ("fail", "error: cannot read this"),                                 # gr.Error: its message
    ("crash", "error: the server reported an error without a message"),  # an exception the app does not show
    ("nowhere", "HTTPStatusError")])                                     # no such endpoint
def test_a_failed_call_says_what_failed(echo_url, endpoint, message):
    got, ok, _, why = loadtest.Users(echo_url, timeout=30).call(endpoint, ("this",))
    assert got == endpoint and not ok and why.startswith(f"{endpoint}: ") and message in why


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


def test_no_server_is_a_clear_error_before_any_call():
    import socket

    with socket.socket() as sock:                    # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(loadtest.UserError, match=f"no dashboard answers at http://127.0.0.1:{port}/"):
        loadtest.run(f"http://127.0.0.1:{port}/", calls_per_endpoint=1, threads=1)


def test_generations_read_seeds_of_different_lengths_in_turn():
    """The generations come from several seeds of different lengths, so that a server's batch holds requests at
    different positions (as users' do); the saved file says which, and the report names them."""
    from seqcompare import results

    seeds = [args[0] for endpoint, args in loadtest.jobs(10) if endpoint == "generate_text"]
    assert seeds[:len(loadtest.SEEDS)] == list(loadtest.SEEDS) and seeds[len(loadtest.SEEDS):] == seeds[:5]
    assert len({len(s) for s in loadtest.SEEDS}) >= 3
    assert results.seeds({"seeds": ["早餐", "房间很干净", "服务"]}) == \
        "; the generations from 3 seeds of 2–5 characters in turn"
    assert results.seeds({}) == ""
