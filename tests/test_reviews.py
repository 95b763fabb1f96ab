"""Reviews: tokenisation, length batching, the shipped checkpoints on real IMDb, live input and the CLI."""

import json

import pytest
import torch

from conftest import CHECKPOINTS
from seqcompare import UserError, checkpoints, reviews
from test_digits import cli

SHORT_FLOOR = 0.85


def test_tokenizer_handles_html_case_numbers_and_unknown_words(review_bank):
    tokens = review_bank.tokenizer.encode("GREAT<br /><br />film, 10/10. Zorglubbery!").tokens
    assert tokens == ["great", "film", ",", "10", "/", "10", ".", "<unk>", "!"]


def test_length_batches_group_similar_lengths_and_keep_every_review():
    ids = [[1] * n for n in [5, 300, 7, 290, 6, 310, 8, 295]]
    labels = list(range(8))
    batches = list(reviews.length_batches(ids, labels, 4, shuffle=True, seed=3))
    seen = sorted(int(y) for _, ys in batches for y in ys)
    assert seen == labels
    for (tokens, lengths), _ in batches:
        assert tokens.shape[1] == int(lengths.max()) and int(lengths.max()) - int(lengths.min()) <= 20


def test_answer_depends_only_on_real_tokens(review_bank):
    ids, _, _ = review_bank.tokenize("A fine film with a silly ending.")
    for model in review_bank.models.values():
        alone = model(*reviews.pad([ids]))
        padded = model(*reviews.pad([ids, ids + [5] * 200]))[0]
        assert torch.allclose(alone[0], padded, atol=1e-5)


def test_trace_ends_at_the_answer(review_bank):
    result = review_bank.predict("Great cast, but the ending ruined it.")
    for name, a in result["models"].items():
        assert len(a["trace"]) == len(result["tokens"])
        assert a["trace"][-1] == pytest.approx(a["positive"], abs=1e-5)


def test_short_typed_reviews(review_bank):
    """The 40 one-sentence reviews written for the project, never trained on: the live use."""
    result = reviews.evaluate(CHECKPOINTS / "imdb", None, short=True)
    for name, m in result.items():
        assert m["n"] == 40 and m["accuracy"] >= SHORT_FLOOR, (name, m["accuracy"])


def test_the_trace_shows_a_change_of_mind(review_bank):
    """ "Great cast, but the ending ruined it.": every model's P(positive) falls at "ruined"; the gated
    cells end well below where "Great" put them (the plain RNN, the weakest reader, only dips)."""
    result = review_bank.predict("Great cast, but the ending ruined it.")
    ruined = result["tokens"].index("ruined")
    for name, a in result["models"].items():
        assert a["trace"][0] > 0.5 and max(a["trace"][ruined:]) < a["trace"][ruined - 1] - 0.05, (name, a["trace"])
        if name != "rnn":
            assert a["trace"][-1] < a["trace"][0] - 0.2, (name, a["trace"])


def test_crops_are_windows_of_their_reviews():
    ids = [list(range(n)) for n in (3, 50, 400, 1000)] * 50
    cropped = reviews.crops(ids, seed=1, share=0.5)
    assert len(cropped) == len(ids) and cropped == reviews.crops(ids, seed=1, share=0.5)
    assert reviews.crops(ids, seed=1, share=0.0) == ids
    shorter = [c for c, full in zip(cropped, ids) if len(c) < len(full)]
    assert 0.3 * len(ids) < len(shorter) < 0.6 * len(ids)
    for c in shorter:
        assert len(c) >= 5 and c == list(range(c[0], c[0] + len(c)))      # a contiguous window


def test_word_vectors_start_the_embeddings():
    ids = [[2, 3, 4, 5, 2, 3], [6, 7, 8, 2, 3, 4]] * 30
    vectors = reviews.word_vectors(ids, vocab_size=12, dim=8)
    assert vectors.shape == (12, 8) and torch.all(vectors[0] == 0)       # <pad> stays zero
    known = vectors[2:9]
    assert torch.allclose(known.mean(0), torch.zeros(8), atol=1e-5)


@pytest.mark.parametrize("text, message", [
    ("", "type or paste a review first"),
    ("   \n\t ", "type or paste a review first"),
    ("?!... ;-)", "no words"),
    ("😀😀🎬👍", "no words"),
    ("这部电影非常好看，演员的表演很出色", "none of these words are known"),
])
def test_bad_input_gets_a_clear_message(review_bank, text, message):
    with pytest.raises(UserError, match=message):
        review_bank.predict(text)


def test_html_and_huge_pastes_are_handled(review_bank):
    html = review_bank.predict("<p><b>Loved it.</b> A <i>wonderful</i> film.</p>")
    assert all(a["label"] == 1 for a in html["models"].values())
    huge = review_bank.predict("A dull and lifeless film. " * 5000)      # 125,000 characters
    assert any("only the first" in n for n in huge["notices"])
    assert all(a["label"] == 0 for a in huge["models"].values())


def test_evaluate_on_a_balanced_slice_clears_a_floor(data_dir):
    result = reviews.evaluate(CHECKPOINTS / "imdb", data_dir, limit=1000)
    for name in reviews.MODELS:
        m = result[name]
        assert m["n"] == 1000 and sum(m["confusion_matrix"][1]) == 500
        assert m["accuracy"] >= 0.84, (name, m["accuracy"])


def test_vocabulary_mismatch_is_caught(tmp_path):
    for f in (CHECKPOINTS / "imdb").iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    meta = checkpoints.read_json(tmp_path / "rnn.json")
    checkpoints.write_json(tmp_path / "rnn.json", {**meta, "tokenizer_sha256": "0" * 16})
    bank = reviews.ReviewModels(tmp_path)
    assert set(bank.errors) == {"rnn"} and "vocabulary" in bank.errors["rnn"]
    assert bank.predict("Great.")["models"]["rnn"]["error"].startswith("unavailable")


def test_cli_predict_review_and_file(tmp_path):
    run = cli("predict", "review", "A wonderful, moving film.", "--json")
    assert run.returncode == 0, run.stderr
    (entry,) = json.loads(run.stdout)
    assert entry["text"] == "A wonderful, moving film."
    assert set(entry["models"]) == {"rnn", "lstm", "gru"}
    assert set(entry["models"]["gru"]) == {"label", "positive", "ms"}

    run = cli("predict", "reviews", "--file", "-", "--json", stdin="Loved it.\n\nHated it.\n😀\n")
    assert run.returncode == 0, run.stderr
    entries = json.loads(run.stdout)
    assert [e["text"] for e in entries] == ["Loved it.", "Hated it.", "😀"]
    assert "error" in entries[2] and "models" in entries[0]


@pytest.mark.parametrize("args, message", [
    (["predict", "review", "   "], "type or paste a review first"),
    (["predict", "reviews", "--file", "nope.txt"], "no such file"),
    (["predict", "reviews"], "--file"),
])
def test_cli_review_errors(args, message):
    run = cli(*args)
    assert run.returncode == 2 and message in run.stderr and run.stderr.count("\n") == 1


def test_training_writes_checkpoints_the_app_loads(data_dir, tmp_path):
    """A smoke run of the real pipeline (tokenizer, word2vec, one epoch on 300 reviews) round-trips."""
    reviews.train(["gru"], data_dir, tmp_path, epochs=1, limit=300)
    bank = reviews.ReviewModels(tmp_path, names=("gru",))
    assert not bank.errors and bank.tokenizer.get_vocab_size() > 100
    meta = bank.meta["gru"]
    assert meta["train"]["epochs"] == 1 and len(meta["history"]) == 1 and meta["word2vec_seconds"] >= 0
    assert meta["test"]["n"] == 300 and meta["config"]["pooling"] == ["last", "attention"]
    # the same slice, and the checkpoint's metrics exactly (a classifier is served in fp32)
    recomputed = reviews.evaluate(tmp_path, data_dir, limit=300, models=("gru",))["gru"]
    assert recomputed == {**meta["test"], "serving_precision": "fp32"}
    answer = bank.predict("A wonderful film.")["models"]["gru"]
    assert 0 <= answer["positive"] <= 1 and len(answer["trace"]) == 4
