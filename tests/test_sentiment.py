"""The sentiment probes: the shipped JSON's shape, the probe read back as the app reads it, the states the
probes read, writing with a unit held, the view and its errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqcompare import UserError, sentiment, textgen

ROOT = Path(__file__).resolve().parent.parent
REVIEW = "房间很干净，服务也很热情。但是隔音太差了，晚上很吵，再也不会来了。"


@pytest.fixture(scope="module")
def shipped():
    result = sentiment.load(ROOT / "checkpoints" / "hotel")
    assert result is not None, "checkpoints/hotel/sentiment.json is missing"
    return result


def test_probe_json_shape(shipped):
    out = sentiment.table(shipped)
    assert set(out) >= {"baseline", "models"} and 0.5 < out["baseline"]["bag_of_ngrams"] <= 1
    assert set(out["models"]) == set(textgen.MODELS)
    for name, m in out["models"].items():
        assert 0.5 <= m["all_units"] <= 1 and 0 <= m["single_unit"] <= 1
        assert m["reading"] in sentiment.READINGS and m["unit"]["state"] in ("hidden", "cell", "residual")
        full = shipped["models"][name]
        probe = full["readings"][full["reading"]]["probe"]
        assert len(probe["coef"]) == len(probe["mean"]) == len(probe["scale"]) == full["hidden_size"] * len(full["states"])
    assert shipped["models"]["lstm"]["states"] == ["hidden", "cell"]
    assert shipped["models"]["transformer"]["states"] == ["residual"]
    assert set(out["fixed"]) == {"rnn", "lstm", "gru"}             # the recurrent models only
    for f in out["fixed"].values():
        for d in ("positive", "negative", "free"):
            assert 0 <= f[d]["probe_positive"] <= 1 and 0 <= f[d]["ngram_positive"] <= 1
    assert shipped["reviews"]["train"] + shipped["reviews"]["validation"] == 7765       # one review is empty


def test_split_follows_the_language_models(data_dir):
    train, y_train, val, y_val = sentiment.labelled_split(data_dir)
    _, lm_val = textgen.split_reviews(__import__("seqcompare").data.hotel_reviews(data_dir))
    assert val == [textgen.clean(r) for r in lm_val] and len(y_val) == len(val) and len(y_train) == len(train)
    assert 0.6 < np.mean(y_train) < 0.75 and set(y_val) == {0, 1}


def test_probe_read_back_as_the_app_reads_it(text_bank, data_dir):
    """A probe fitted on a small real slice gives, through its JSON, the probabilities scikit-learn gives."""
    train, y_train, _, _ = sentiment.labelled_split(data_dir)
    pick = list(range(0, len(train), 70))                          # ~100 reviews, both labels
    texts, labels = [train[i][:80] for i in pick], [y_train[i] for i in pick]
    x = sentiment.review_states(text_bank.models["gru"], text_bank.vocab, texts)["mean"]
    probe, cv = sentiment.fit_probe(x, labels)
    assert np.allclose(sentiment.positive_probability(sentiment.probe_json(probe), x),
                       probe.predict_proba(x)[:, 1], atol=1e-4)
    unit, auc = sentiment.best_unit(x, labels)
    assert 0 <= unit < x.shape[1] and abs(auc - 0.5) > 0


def test_states_do_not_depend_on_the_batch(text_bank):
    """A review read beside a longer one (padded) has the states it has alone; the LSTM's are hidden + cell."""
    texts = ["早餐很好", REVIEW]
    for name in ("lstm", "transformer"):
        model = text_bank.models[name]
        together = sentiment.review_states(model, text_bank.vocab, texts)
        alone = sentiment.review_states(model, text_bank.vocab, texts[:1])
        assert np.allclose(together["last"][0], alone["last"][0], atol=1e-4)
        assert np.allclose(together["mean"][0], alone["mean"][0], atol=1e-4)
    assert together["last"].shape[1] == 192
    lstm = sentiment.review_states(text_bank.models["lstm"], text_bank.vocab, texts)
    assert lstm["last"].shape[1] == 2 * 384


def test_transformer_state_is_what_generation_predicts_from(text_bank):
    """Past its 128-character context, the residual stream at the last position, through the final layer
    norm and the tied output layer, gives the logits generation's windowed reading gives."""
    model = text_bank.models["transformer"]
    ids = torch.tensor([text_bank.vocab.encode(textgen.END + REVIEW * 6)])          # > 2 windows
    with torch.no_grad():
        residual = model.states(ids)["residual"]
        logits, _ = model(ids)
    assert residual.shape[:2] == ids.shape
    assert torch.allclose(F.linear(model.ln(residual[:, -1]), model.embed.weight), logits[:, -1], atol=1e-3)


def test_hold_sets_one_unit_of_the_held_state(text_bank):
    model = text_bank.models["lstm"]
    with torch.no_grad():
        _, state = model(torch.tensor([[1, 2, 3]]))
    held = model.hold(state, 5, 2.5)
    assert held[1][-1, 0, 5] == 2.5 and torch.equal(held[0], state[0])
    assert torch.equal(torch.cat([held[1][..., :5], held[1][..., 6:]], -1),
                       torch.cat([state[1][..., :5], state[1][..., 6:]], -1))
    texts = sentiment.write_held(text_bank.models["gru"], text_bank.vocab, 3, 1.0, n=2)
    assert len(texts) == 2 and all(isinstance(t, str) and textgen.END not in t for t in texts)


def test_view_answers_for_a_typed_review(text_bank, shipped):
    from seqcompare.ui import sentiment_view
    result = sentiment.analyse(text_bank, REVIEW, shipped)
    for name in textgen.MODELS:
        a = result["models"][name]
        assert 0 <= a["positive"] <= 1 and len(a["values"]) == len(a["lean"]) == len(REVIEW)
    html = sentiment_view.sentiment_html(text_bank, REVIEW, "zh-CN", shipped)
    assert "P(正面)" in html and "Transformer" in html and html.count("<span") >= 4 * len(REVIEW)


def test_bad_input_is_a_user_error(text_bank, shipped):
    from seqcompare.ui import sentiment_view
    with pytest.raises(UserError, match="hotel review"):
        sentiment.analyse(text_bank, "   ", shipped)
    said = sentiment_view.sentiment_html(text_bank, "", "zh-CN", shipped)
    assert "酒店评论" in said and said.startswith("<p>") and "**" not in said       # HTML, not Markdown's marks
    run = subprocess.run([sys.executable, "-m", "seqcompare", "sentiment", "hotel", "--models", "cnn"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 2 and "unknown text model cnn" in run.stderr and "Traceback" not in run.stderr


def test_report_blocks_read_the_shipped_json():
    from seqcompare import report
    blocks = report.blocks()
    for name in ("saturation", "sentiment", "sentiment_fixed"):
        text = blocks[name](ROOT)
        assert text.startswith("| model |") and "Not measured" not in text
    assert "LSTM" in blocks["sentiment"](ROOT) and "1–2-grams" in blocks["sentiment"](ROOT)
    assert json.loads(json.dumps(sentiment.table(sentiment.load(ROOT / "checkpoints" / "hotel"))))


def test_api_sentiment(text_bank, shipped):
    from seqcompare.ui import cells_api
    assert cells_api.api_sentiment(text_bank, REVIEW, None) == {"error": "the sentiment probes are not computed yet"}
    answer = cells_api.api_sentiment(text_bank, REVIEW, shipped)
    assert set(answer["models"]) == set(textgen.MODELS) and "bag_of_ngrams" in answer["table"]["baseline"]
    assert json.loads(json.dumps(answer))["characters"] == list(REVIEW)


def test_tables_of_the_view(shipped):
    from seqcompare.ui import sentiment_view
    probes = sentiment_view.probe_rows(shipped, "zh-CN")
    assert [row[0] for row in probes[:4]] == ["RNN", "LSTM", "GRU", "Transformer"] and "词袋" in probes[-1][0]
    fixed = sentiment_view.fixed_rows(shipped, "zh-CN")
    assert [row[0] for row in fixed] == ["RNN", "LSTM", "GRU"] and fixed[1][1].startswith("细胞状态")


def test_the_views_notices_follow_the_page(text_bank, shipped):
    from seqcompare.ui import sentiment_view

    long = "早餐很好。" * (sentiment.MAX_REVIEW // 5 + 10)
    assert "只使用前 2,000 个" in sentiment_view.sentiment_html(text_bank, long, "zh-CN", shipped)
    assert "the first 2,000 are used" in sentiment_view.sentiment_html(text_bank, long, "en", shipped)


def test_no_model_to_probe_is_one_line_naming_each_reason_once(tmp_path):
    """Without the vocabulary no text model loads: the error names the missing file once, not once per model."""
    import shutil

    for f in (ROOT / "checkpoints" / "hotel").glob("*.json"):
        if f.name != "vocab.json":
            shutil.copy(f, tmp_path)
    with pytest.raises(UserError) as refused:
        sentiment.compute(tmp_path, None)
    assert str(refused.value) == f"no text model could be loaded: {tmp_path / 'vocab.json'} is missing"
