"""The named API endpoints, called the way a user's script would: through gradio_client."""

import pytest

from seqcompare import sketches

client_mod = pytest.importorskip("gradio_client")


@pytest.fixture(scope="module")
def client(app_url):
    return client_mod.Client(app_url, verbose=False)


def test_predict_digit(client, tmp_path):
    path = tmp_path / "three.png"
    sketches.render(3).save(path)
    out = client.predict(client_mod.handle_file(str(path)), api_name="/predict_digit")
    assert set(out["models"]) == {"rnn", "lstm", "gru", "lenet"}
    for a in out["models"].values():
        assert a["label"] == 3 and a["ms"] > 0 and len(a["probabilities"]) == 10


def test_predict_digit_refuses_a_non_image(client, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    out = client.predict(client_mod.handle_file(str(path)), api_name="/predict_digit")
    assert "not a readable image" in out["error"]


def test_classify_review(client):
    out = client.predict("Dreadful. Boring from start to finish.", api_name="/classify_review")
    assert set(out["models"]) == {"rnn", "lstm", "gru"}
    assert all(a["label"] == 0 and 0 <= a["positive"] < 0.5 and a["ms"] > 0 for a in out["models"].values())
    assert "type or paste" in client.predict("", api_name="/classify_review")["error"]


def test_generate_text(client):
    out = client.predict("房间", 30, 0.8, 20, 5, api_name="/generate_text")
    again = client.predict("房间", 30, 0.8, 20, 5, api_name="/generate_text")
    assert out == {**again, "models": {n: {**a, "ms": out["models"][n]["ms"]} for n, a in again["models"].items()}}
    assert all(a["text"].startswith("房间") for a in out["models"].values())
    assert "length" in client.predict("房间", -5, 0.8, 20, 5, api_name="/generate_text")["error"]
    assert set(out["models"]) == {"rnn", "lstm", "gru", "transformer"}


def test_generate_text_decoding_settings(client):
    """top_p and beams come after the random seed; left out, they keep plain sampling."""
    plain = client.predict("房间", 30, 0.8, 20, 5, api_name="/generate_text")
    explicit = client.predict("房间", 30, 0.8, 20, 5, 1.0, 1, api_name="/generate_text")
    assert {n: a["text"] for n, a in plain["models"].items()} == {n: a["text"] for n, a in explicit["models"].items()}
    beams = client.predict("房间", 30, 0.8, 20, 5, 1.0, 3, api_name="/generate_text")
    other_seed = client.predict("房间", 30, 1.5, 0, 99, 0.5, 3, api_name="/generate_text")
    assert {n: a["text"] for n, a in beams["models"].items()} == {n: a["text"] for n, a in other_seed["models"].items()}
    assert all("score" in a for a in beams["models"].values()) and any("beam search" in n for n in beams["notices"])
    assert "top-p must be" in client.predict("房间", 30, 0.8, 20, 5, 0, 1, api_name="/generate_text")["error"]
    assert "beams must be" in client.predict("房间", 30, 0.8, 20, 5, 1.0, 12, api_name="/generate_text")["error"]


def test_concurrent_requests_share_no_state(client):
    """Generations and classifications run side by side on the queue's workers give exactly what they
    give one at a time: no hidden state or random generator is shared between requests."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(("早餐", 40, 0.9, 20, seed), "/generate_text") for seed in range(6)]
    jobs += [((text,), "/classify_review") for text in ("A wonderful film.", "Dull and far too long.")] * 3

    batches = []

    def call(job):
        out = client.predict(*job[0], api_name=job[1])
        batches.append(out.get("batch", 1))
        return {n: {k: v for k, v in a.items() if k != "ms"} for n, a in out["models"].items()}

    alone = [call(job) for job in jobs]
    assert set(batches) == {1}
    with ThreadPoolExecutor(len(jobs)) as pool:
        together = list(pool.map(call, jobs))
    assert together == alone
    assert len({str(a) for a in alone[:6]}) == 6          # different seeds, different texts
    assert max(batches) > 1                               # the queue wrote some generations as one batch


def test_load_test_command_reports_every_call(app_url):
    from seqcompare import loadtest

    result = loadtest.run(app_url, calls_per_endpoint=2, threads=3)
    assert result["calls"] == 6 and result["failed"] == 0 and result["failures"] == []
    assert 0 < result["p50_s"] <= result["p95_s"] <= result["max_s"]
    assert set(result["per_endpoint_p95_s"]) == {"predict_digit", "classify_review", "generate_text"}


def test_train_models_streams_and_clamps(client):
    job = client.submit("digits", "rnn,gru", 16, 1, 0, 1e9, 2, 1e6, "", 600, api_name="/train_models")
    updates = list(job)
    final = job.outputs()[-1]
    assert len(job.outputs()) >= 2 and final["done"] and set(final["models"]) == {"rnn", "gru"}
    assert any("learning rate" in n for n in final["notices"]) and any("time budget" in n for n in final["notices"])
    assert all(len(m["history"]) == 2 and m["status"] == "done" for m in final["models"].values())
    assert updates


def test_train_models_one_at_a_time_for_two_clients(app_url):
    """Two users train at once: the second training starts only after the first one has ended (the other
    waits in the queue), and both get their own models' results."""
    import threading
    import time

    from gradio_client import Client

    runs = {}

    def follow(model):                  # arrival times of a run's first and last update, and the last one
        job = Client(app_url, verbose=False).submit("digits", model, 32, 1, 0, 0.005, 3, 60, "", 2000,
                                                     api_name="/train_models")
        arrivals = [time.monotonic() for _ in job]
        runs[model] = (arrivals[0], arrivals[-1], job.outputs()[-1])

    threads = [threading.Thread(target=follow, args=(model,)) for model in ("rnn", "lstm")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert [set(runs[m][2]["models"]) for m in ("rnn", "lstm")] == [{"rnn"}, {"lstm"}]
    assert all(runs[m][2]["done"] and "error" not in runs[m][2] for m in runs)
    first, second = sorted(runs.values(), key=lambda run: run[0])
    assert second[0] > first[1], "the second training sent an update before the first one had ended"


def test_train_models_bad_input(client):
    for args, message in ((("digits", "rnn", 0, 1, 0, 0.005, 1, 30, "", 600), "hidden size"),
                          (("text", "rnn", 16, 1, 0, 0.005, 1, 30, "", 600), "paste or upload"),
                          (("digits", "cnn", 16, 1, 0, 0.005, 1, 30, "", 600), "choose models"),
                          (("digits", "rnn", 16, -1, 0, 0.005, 1, 30, "", 600), "layers")):
        out = client.predict(*args, api_name="/train_models")
        assert message in out["error"] and out["done"]
