"""Text generation pieces that need no checkpoint: vocabulary, split, batching, sampling, settings."""

import pytest
import torch

from seqcompare import UserError, textgen
from seqcompare.models import CharLM, CharLMConfig


def test_split_by_row_index_and_end_markers():
    reviews = [f"评论{i}" for i in range(20)] + [""]
    train, val = textgen.split_reviews(reviews)
    assert val == ["评论9", "评论19"] and len(train) == 18       # the empty review (row 20) is dropped
    text = textgen.corpus(["好\n吧", "差"])
    assert text == "\n好 吧\n差\n"                              # a newline only ever marks a review's end


def test_vocab_maps_unseen_characters_to_one_unknown_id():
    vocab = textgen.Vocab.from_text("\n早餐早餐很好很好\n")
    assert vocab.chars[0] == textgen.UNK and "\n" in vocab.chars
    ids = vocab.encode("早餐😀x")
    assert ids[:2] == [vocab.index["早"], vocab.index["餐"]] and ids[2:] == [0, 0]
    assert vocab.decode(ids) == "早餐□□"


def test_streams_and_windows_cover_the_text_in_order():
    ids = torch.arange(1000)
    s = textgen.streams(ids, 4)
    assert s.shape == (4, 250) and s[1, 0] == 250
    pairs = list(textgen.windows(s, 100))
    assert [x.shape[1] for x, _ in pairs] == [100, 100, 49]
    for x, y in pairs:
        assert torch.equal(x[:, 1:], y[:, :-1])                 # targets are the inputs shifted by one
    assert torch.equal(torch.cat([x for x, _ in pairs], 1), s[:, :-1])


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    vocab = textgen.Vocab(sorted(set("早餐很好不错房间干净服务热情\n")))
    return CharLM(CharLMConfig(cell="gru", vocab_size=len(vocab), embed_size=8, hidden_size=16)).eval(), vocab


def test_sampling_is_reproducible_per_seed(tiny):
    model, vocab = tiny
    run = lambda seed, temp=1.0: textgen.sample(model, vocab, "早餐", 40, temp, 5, torch.Generator().manual_seed(seed))
    assert run(1) == run(1)
    assert len({run(s) for s in range(6)}) > 1                  # different seeds, different texts
    assert run(1, 0.0) == run(2, 0.0)                           # temperature 0 is greedy
    assert "\n" not in run(3) and "□" not in run(3)             # stops at the end marker, never writes <unk>


def test_settings_are_checked_and_length_is_capped():
    length, temp, k, p, beams, notes = textgen.check_settings(10_000, 0.5, 10)
    assert length == textgen.MAX_LENGTH and notes and "capped" in notes[0] and (p, beams) == (1.0, 1)
    for bad in [(0, 1, 1), (-5, 1, 1), (10, -1, 1), (10, float("nan"), 1), (10, 1, -2), ("ten", 1, 1),
                (10, 1, 1, 0.0), (10, 1, 1, 1.01), (10, 1, 1, -1), (10, 1, 1, 1, 0), (10, 1, 1, 1, 9),
                (2.9, 1, 1), (10, 1, -0.5), (10, 1, 1, 1, 2.5), (True, 1, 1), (10, True, 1), (10, 1, 1, True)]:
        with pytest.raises(UserError):
            textgen.check_settings(*bad)


def test_textbook_count_differs_by_one_bias_per_gate():
    model = CharLM(CharLMConfig(cell="lstm", vocab_size=50, embed_size=8, hidden_size=16))
    assert model.textbook_count() == sum(p.numel() for p in model.parameters()) - 4 * 16
    two = CharLM(CharLMConfig(cell="gru", vocab_size=50, embed_size=8, hidden_size=16, num_layers=2))
    assert two.textbook_count() == sum(p.numel() for p in two.parameters()) - 2 * 3 * 16


def test_the_summary_takes_one_float32_step_apart_when_the_bench_did():
    """The text models' paragraph (README and Text generation tab) gives the bench's anatomy of a float32 step,
    the Transformer's beside the LSTM's, in each language; without that measurement it says nothing of it."""
    from seqcompare import textgen

    meta = {n: {"validation": {"bpc": b}, "parameters": p} for n, b, p in (("lstm", 4.9, 100), ("transformer", 4.8, 90))}
    step = {"lstm": {"products": 3, "step_us": 300.4, "products_us": 200.2, "rest_us": 100.2},
            "transformer": {"products": 13, "step_us": 520.0, "products_us": 240.4, "rest_us": 279.6}}
    bench = {"textgen": {"model_ms": {"lstm": {"median": 23.0}, "transformer": {"median": 54.0}}, "fp32_step": step}}
    en, zh = textgen.summary(meta, bench), textgen.summary(meta, bench, "zh-CN")
    assert ("the Transformer multiplies 13 matrices (240 µs for the products alone) and spends 280 µs on everything "
            "else") in en and "the LSTM multiplies 3 (200 µs) and spends 100 µs on the rest." in en
    assert "Transformer 做 13 次矩阵乘法（仅乘法 240 微秒）" in zh and "LSTM 做 3 次（200 微秒），其余 100 微秒" in zh
    del bench["textgen"]["fp32_step"]
    assert "float32" not in textgen.summary(meta, bench) and "Writing 100 characters" in textgen.summary(meta, bench)
