"""The causal Transformer and the decoding settings: shapes, causality, the key/value cache, the
half-window evaluation, beam search and nucleus sampling — on tiny models, no checkpoint needed."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqcompare import CELLS, UserError, checkpoints, precision, textgen
from seqcompare.models import CharLM, CharLMConfig, TransformerLM, TransformerLMConfig
from seqcompare.models.transformer import gelu


@pytest.fixture(scope="module")
def vocab():
    return textgen.Vocab(sorted(set("早餐很好不错房间干净服务热情，。\n")))


@pytest.fixture(scope="module")
def tiny(vocab):
    torch.manual_seed(0)
    cfg = TransformerLMConfig(vocab_size=len(vocab), context=16, width=24, layers=2, heads=3, dropout=0.0)
    return TransformerLM(cfg).eval()


def test_shapes_and_tied_output_layer(tiny, vocab):
    logits, (window, cache, _) = tiny(torch.randint(0, len(vocab), (3, 10)))
    assert logits.shape == (3, 10, len(vocab)) and window.shape == (3, 10)
    assert len(cache) == 2 and cache[0][0].shape == (3, 3, 10, 8)          # (batch, heads, positions, head width)
    names = dict(tiny.named_parameters())
    assert "embed.weight" in names and not any("head" in n or "decoder" in n for n in names)  # one matrix, tied


def test_small_initial_weights(tiny):
    assert tiny.embed.weight.std().item() == pytest.approx(0.02, rel=0.1)


def test_a_later_character_never_changes_an_earlier_prediction(tiny, vocab):
    x = torch.randint(1, len(vocab), (1, 12))
    y = x.clone()
    y[0, 7:] = (y[0, 7:] + 1) % len(vocab)
    with torch.no_grad():
        a, _ = tiny(x)
        b, _ = tiny(y)
    assert torch.equal(a[0, :7], b[0, :7]) and not torch.allclose(a[0, 7:], b[0, 7:])


STEP_TOLERANCE = {"fp32": 1e-5, "int8": 2 ** -7, "w8a8": 2 ** -5, "int8-head": 2 ** -7, "bf16": 0.05, "int8+bf16": 0.05,
                  "int4+int8": 2 ** -7}
# int8's products come back in bfloat16 (8 bits of mantissa: logits near 0.5 in steps of 2⁻⁹); bf16 computes in it;
# w8a8 rounds each input row to 255 levels, where a float-rounding difference can move one value a level


@pytest.mark.parametrize("plan", precision.PLANS)
def test_cached_steps_equal_a_full_read(tiny, vocab, plan):
    """At every serving precision (within it: the cached steps and the full read share the weights; this
    model's width, 24, is not a multiple of the int8 kernel's blocks, so its int8 layers pad their inputs;
    test_precision checks the shipped models)."""
    tiny, _ = precision.convert(tiny, plan)
    x = torch.randint(0, len(vocab), (2, 16))
    with torch.no_grad():
        full, _ = tiny(x)
        logits, state = tiny(x[:, :5])
        steps = [logits]
        for t in range(5, 16):
            logits, state = tiny(x[:, t:t + 1], state)
            steps.append(logits)
    assert torch.allclose(torch.cat(steps, 1).float(), full.float(), atol=STEP_TOLERANCE[plan])


def test_the_flat_decoding_step_is_the_blocks_arithmetic(tiny, vocab):
    """`step` (one position, written flat over the weights) gives the logits and the cache that the
    blocks give through `run`, for every sequence of a batch."""
    x = torch.randint(0, len(vocab), (3, 9))
    with torch.no_grad():
        _, state = tiny(x[:, :8])
        fast, (window, cache, pad) = tiny.step(x[:, 8:], state)
        slow, slow_cache, _ = tiny.run(x[:, 8:], state[1])
    assert fast.shape == (3, 1, len(vocab)) and torch.allclose(fast, slow, atol=1e-6)
    assert torch.equal(window, x) and pad is None
    for (k, v), (slow_k, slow_v) in zip(cache, slow_cache):
        assert k.shape == (3, 3, 9, 8) and torch.allclose(k, slow_k, atol=1e-6) and torch.allclose(v, slow_v, atol=1e-6)


def test_the_decoding_step_reads_the_current_weights(tiny, vocab):
    """Weights loaded after a first step (in place) or a replaced embedding are the ones the next step uses."""
    torch.manual_seed(1)
    other = TransformerLM(tiny.cfg).eval()
    x = torch.randint(0, len(vocab), (1, 6))
    with torch.no_grad():
        _, state = other(x[:, :5])
        before, _ = other(x[:, 5:], state)
        other.load_state_dict(tiny.state_dict())
        _, state = other(x[:, :5])
        after, _ = other(x[:, 5:], state)
        expected, _ = tiny(x)
        assert not torch.allclose(before[0, -1], expected[0, -1], atol=1e-3)
        assert torch.allclose(after[0, -1], expected[0, -1], atol=1e-5)
        other.embed = torch.nn.Embedding(len(vocab), tiny.cfg.width)
        _, state = other(x[:, :5])
        replaced, _ = other(x[:, 5:], state)
        assert torch.allclose(replaced[0, -1], other.run(x)[0][0, -1], atol=1e-5)


def test_training_mode_never_takes_the_decoding_step(vocab):
    """With dropout on, a step after a state goes through the blocks (whose dropout the step lacks)."""
    model = TransformerLM(TransformerLMConfig(vocab_size=len(vocab), context=16, width=24, layers=2, heads=3,
                                              dropout=0.5)).train()
    x = torch.randint(0, len(vocab), (1, 6))
    _, state = model(x[:, :5])
    torch.manual_seed(0)
    a, _ = model(x[:, 5:], state)
    torch.manual_seed(1)
    b, _ = model(x[:, 5:], state)
    assert not torch.allclose(a, b)                     # dropout made them differ: not the deterministic step


def test_past_the_context_it_rereads_the_last_half_window(tiny, vocab):
    x = torch.randint(0, len(vocab), (1, 30))
    with torch.no_grad():
        logits, (window, _, _) = tiny(x)
        # after 16 + 8 + 6 characters the window holds the last 8 re-read ones and the 6 after them
        assert logits.shape[1] == 30 and torch.equal(window, x[:, -14:])
        fresh, _ = tiny(x[:, 16:24])                      # the first re-read window, read from scratch …
        again, _ = tiny(x[:, 16:30])
    assert torch.allclose(logits[0, 24:], again[0, 8:], atol=1e-5)   # … goes on exactly as the model read it
    assert torch.allclose(again[0, :8], fresh[0], atol=1e-5)


def reread_sample(model, vocab, seed, length, temperature, top_k, generator, top_p=1.0):
    """Generation without the cache: the whole text so far is read again for every character."""
    ids = vocab.encode(textgen.END + seed)
    out = []
    for _ in range(length):
        with torch.no_grad():
            logits, _ = model(torch.tensor([ids]))
        logits = logits[0, -1]
        logits[0] = -math.inf
        nxt = textgen.pick(logits, temperature, top_k, top_p, generator)
        if nxt == vocab.index[textgen.END]:
            break
        out.append(nxt)
        ids.append(nxt)
    return vocab.decode(out)


@pytest.fixture(scope="module")
def lively(vocab):
    """A tiny Transformer with large random weights: its greedy text varies (small tied weights only copy)."""
    torch.manual_seed(3)
    model = TransformerLM(TransformerLMConfig(vocab_size=len(vocab), context=16, width=24, layers=2, heads=3,
                                              dropout=0.0)).eval()
    with torch.no_grad():
        for p in model.parameters():
            torch.nn.init.normal_(p, std=1.0)
    return model


@pytest.mark.parametrize("plan", ["fp32", "int8"])
@pytest.mark.parametrize("temperature,top_k,top_p", [(0.0, 0, 1.0), (1.5, 0, 1.0), (1.2, 5, 0.9)])
def test_cached_generation_equals_rereading_token_for_token(lively, vocab, temperature, top_k, top_p, plan):
    """Token for token where the cached and the full read share their arithmetic (fp32, int8: weight-only,
    row by row). In bfloat16 they round apart by about 1%, enough to flip a near tie of this model with
    huge random weights: test_cached_steps_equal_a_full_read bounds them, test_precision checks the shipped."""
    lively = precision.convert(lively, plan)[0]
    texts = set()
    for seed, start in enumerate(("早餐", "房间干净", "服务热情", "不错")):
        run = lambda fn: fn(lively, vocab, start, 12, temperature, top_k, torch.Generator().manual_seed(seed),
                            top_p=top_p)
        text = run(textgen.sample)
        assert text == run(reread_sample)
        texts.add(text)
    assert len(set("".join(texts))) > 2                      # a text that could show a broken cache


def test_every_character_scored_once_with_half_a_window_of_history(tiny, vocab):
    ids = torch.randint(0, len(vocab), (61,))
    result = textgen.score_text(tiny, ids, batch_size=1)          # one stream: the whole text
    total = 0.0
    for j in range(len(ids) - 1):                         # target j + 1, read from the window it is scored in
        start = 0 if j < 16 else (j - 8) // 8 * 8
        assert j - start >= 8 or start == 0
        with torch.no_grad():
            logits, _ = tiny(ids[start:j + 1][None])
        total -= F.log_softmax(logits[0, -1], -1)[ids[j + 1]].item()
    assert result["characters"] == 60
    assert result["bpc"] == pytest.approx(total / 60 / math.log(2), abs=1e-3)


def test_all_four_models_score_the_same_characters_of_a_text(tiny, vocab):
    """One definition of the characters scored: 16 contiguous streams (a remainder dropped), each scored
    after its first character; the Transformer reads each stream on its own, in half-advancing windows."""
    torch.manual_seed(1)
    ids = torch.randint(0, len(vocab), (16 * 7 + 5,))              # 7 characters a stream, 5 left over
    cells = [CharLM(CharLMConfig(cell=c, vocab_size=len(vocab), embed_size=8, hidden_size=12)) for c in CELLS]
    scores = [textgen.score_text(m, ids) for m in (*cells, tiny)]
    assert [s["characters"] for s in scores] == [16 * 6] * 4
    long = torch.randint(0, len(vocab), (16 * 40 + 3,))           # windows of 16 advance by 8 within a stream
    streams = textgen.streams(long, 16)
    total = 0.0
    for row in streams:
        for j in range(streams.shape[1] - 1):
            start = 0 if j < 16 else (j - 8) // 8 * 8
            with torch.no_grad():
                logits, _ = tiny(row[start:j + 1][None])
            total -= F.log_softmax(logits[0, -1], -1)[row[j + 1]].item()
    result = textgen.score_text(tiny, long)
    assert result["characters"] == 16 * 39 == textgen.score_text(cells[1], long)["characters"]
    assert result["bpc"] == pytest.approx(total / (16 * 39) / math.log(2), abs=1e-3)


def test_callers_need_not_know_the_model_class(tiny, vocab):
    lstm = CharLM(CharLMConfig(vocab_size=len(vocab), embed_size=8, hidden_size=12)).eval()
    x = torch.randn(2, 40, 8)
    logits, weights = lstm.logits_from_embedded(x, need_weights=True)
    assert logits.shape == (2, 40, len(vocab)) and weights is None
    assert lstm.window_start(1000) == 0 and lstm.context is None
    logits, weights = tiny.logits_from_embedded(torch.randn(2, 16, 24), need_weights=True)
    assert logits.shape == (2, 16, len(vocab)) and [w.shape for w in weights] == [(2, 3, 16, 16)] * 2
    assert tiny.logits_from_embedded(torch.randn(2, 16, 24))[1] is None
    assert tiny.context == 16 and tiny.window_start(16) == 0 and tiny.window_start(17) == 8
    assert tiny.textbook_count() == sum(p.numel() for p in tiny.parameters())


def test_an_odd_context_is_refused():
    with pytest.raises(ValueError, match="must be even"):
        TransformerLM(TransformerLMConfig(vocab_size=10, context=15, width=8, layers=1, heads=2))


def test_random_windows_reach_the_last_start_and_refuse_too_little_text():
    ids = torch.arange(20)
    starts = {int(x[0, 0]) for _ in range(50) for x, _ in textgen.random_windows(ids, 16, 64, seed=_)}
    assert max(starts) == 3                                  # 20 ids, windows of 17: starts 0–3
    with pytest.raises(UserError, match="too little text"):
        next(textgen.random_windows(torch.arange(16), 16, 4, seed=0))


def test_checkpoint_round_trip(tiny, vocab, tmp_path):
    checkpoints.save(tmp_path, "transformer", tiny, {"config": {**tiny.cfg.__dict__}})
    model, _ = checkpoints.load(tmp_path, "transformer", lambda c: textgen.build("transformer", c))
    x = torch.randint(0, len(vocab), (1, 9))
    with torch.no_grad():
        assert torch.equal(model(x)[0], tiny(x)[0])


class Bigram(torch.nn.Module):
    """A model whose next-character log-probabilities depend only on the last character: small enough to
    work out beam search by hand. Characters: 0 unknown, 1 END, 2 'a', 3 'b'."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.log(torch.tensor(table))

    def forward(self, tokens, state=None):
        return self.table[tokens], None

    @staticmethod
    def reorder_state(state, index):
        return state


def test_beam_search_finds_the_best_continuation_greedy_misses():
    vocab = textgen.Vocab(["\n", "a", "b"])               # ids: <unk> 0, END 1, a 2, b 3
    table = [[0, .02, .49, .49],                             # after <unk> (never written)
             [0, .01, .55, .44],                             # after END: a is likelier than b …
             [0, .50, .25, .25],                             # after a: END .5, a or b .25
             [0, .01, .01, .98]]                             # … but after b, b again is almost certain
    model = Bigram(table)
    greedy = textgen.sample(model, vocab, "", 2, 0.0, 0, torch.Generator())
    assert greedy == "a"                                     # a (.55), then END (.5)
    text, score = textgen.beam_search(model, vocab, "", 2, beams=2)
    # by hand, mean log-probability per character: "bb" (unfinished at the length limit) (log .44 + log .98) / 2
    # = -0.421; "a" + END (log .55 + log .5) / 2 = -0.646; "aa", "ab" (log .55 + log .25) / 2 = -0.992
    assert text == "bb" and score == pytest.approx((math.log(.44) + math.log(.98)) / 2, abs=1e-5)
    text, score = textgen.beam_search(model, vocab, "", 2, beams=1)
    assert text == "a" and score == pytest.approx((math.log(.55) + math.log(.5)) / 2, abs=1e-5)


def test_beam_search_is_deterministic_with_real_state(vocab):
    torch.manual_seed(1)
    for model in (CharLM(CharLMConfig(cell="lstm", vocab_size=len(vocab), embed_size=8, hidden_size=16)).eval(),
                  TransformerLM(TransformerLMConfig(vocab_size=len(vocab), context=16, width=24, layers=2,
                                                    heads=3, dropout=0.0)).eval()):
        text, score = textgen.beam_search(model, vocab, "早餐", 25, beams=4)
        assert (text, score) == textgen.beam_search(model, vocab, "早餐", 25, beams=4)
        assert "\n" not in text and "□" not in text and score <= 0
        # the reported score is the text's own mean log-probability, re-read from scratch (a wrong state
        # reorder during the search would break this)
        ids = vocab.encode(textgen.END + "早餐" + text) + ([vocab.index[textgen.END]] if len(text) < 25 else [])
        with torch.no_grad():
            logits, _ = model(torch.tensor([ids[:-1]]))
        logits[..., 0] = -math.inf
        logp = logits[0].log_softmax(-1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
        n = len(ids) - len(vocab.encode(textgen.END + "早餐"))
        assert score == pytest.approx(logp[-n:].sum().item() / n, abs=1e-4)


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    probs = torch.tensor([0.05, 0.4, 0.3, 0.2, 0.05])
    logits = probs.log()
    kept = lambda p, k=0: textgen.candidates(logits, 1.0, k, p)[1].tolist()
    assert kept(0.4) == [1]                                  # .4 alone reaches .4
    assert kept(0.41) == [1, 2]
    assert kept(0.7) == [1, 2]                               # .4 + .3 reaches .7 exactly
    assert kept(0.75) == [1, 2, 3]
    assert sorted(kept(1.0)) == [0, 1, 2, 3, 4]
    assert kept(1.0, k=2) == [1, 2] and kept(0.3, k=2) == [1]   # top-k first, then the nucleus
    p, ids = textgen.candidates(logits, 1.0, 0, 0.75)
    assert p.tolist() == pytest.approx([0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9])   # renormalised over the nucleus
    p, _ = textgen.candidates(logits, 0.5, 0, 1.0)           # temperature sharpens: p_i^2 / sum p^2
    assert p[0].item() == pytest.approx(0.16 / (0.05**2 * 2 + 0.16 + 0.09 + 0.04), rel=1e-5)


def test_sampling_draws_only_from_the_candidates():
    logits = torch.tensor([0.05, 0.4, 0.3, 0.2, 0.05]).log()
    g = torch.Generator().manual_seed(0)
    draws = {textgen.pick(logits, 1.0, 0, 0.6, g) for _ in range(300)}
    assert draws == {1, 2}
    assert {textgen.pick(logits, 1.0, 3, 1.0, g) for _ in range(300)} == {1, 2, 3}
    assert textgen.pick(logits, 0.0, 0, 0.1, g) == 1         # temperature 0: greedy, the rest ignored


def lively_cell(cell: str, vocab) -> CharLM:
    """A tiny recurrent model with large random weights (its texts vary from seed to seed)."""
    torch.manual_seed(4)
    model = CharLM(CharLMConfig(cell=cell, vocab_size=len(vocab), embed_size=8, hidden_size=16, dropout=0.0)).eval()
    with torch.no_grad():
        for p in model.parameters():
            torch.nn.init.normal_(p, std=1.0)
    return model


@pytest.mark.parametrize("plan", precision.PLANS)
@pytest.mark.parametrize("kind", ["transformer", "lstm", "gru", "rnn"])
@pytest.mark.parametrize("stop_at_end", [True, False])
def test_batched_sampling_writes_each_request_the_text_it_gets_alone(kind, stop_at_end, lively, vocab, plan):
    """Concurrent requests decoded as one batch: different settings, generators, lengths and seeds (of
    other lengths: the Transformer's rows at different positions, padded), some past its 16-character context; at every
    serving precision."""
    model = precision.convert(lively if kind == "transformer" else lively_cell(kind, vocab), plan)[0]
    draws = lambda: [textgen.Draw("早餐", 24, 1.2, 0, 1.0, torch.Generator().manual_seed(1)),
                     textgen.Draw("早餐", 7, 0.0, 0, 1.0, None),                     # greedy, shorter
                     textgen.Draw("房间干净", 24, 1.5, 5, 0.9, torch.Generator().manual_seed(2)),
                     textgen.Draw("早餐", 24, 1.2, 0, 1.0, torch.Generator().manual_seed(3)),
                     textgen.Draw("不错", 24, 0.9, 3, 1.0, torch.Generator().manual_seed(4))]
    together = textgen.sample_many(model, vocab, draws(), stop_at_end)
    alone = [textgen.sample_many(model, vocab, [d], stop_at_end)[0] for d in draws()]
    assert together == alone
    assert alone[0] == textgen.sample(model, vocab, "早餐", 24, 1.2, 0, torch.Generator().manual_seed(1), stop_at_end)
    assert len(set(together)) >= 3 and len(together[1]) <= 7     # texts that could show rows mixed up
    if not stop_at_end:
        assert [len(t) for t in together] == [24, 7, 24, 24, 24]


def test_states_at_different_positions_share_a_batch_each_row_as_alone(lively, vocab):
    """Rows at different positions merge left-padded; a padded step gives each row the logits and cache it gets
    alone (its own position, its own keys), also when one row's window fills and is re-read, and taking rows
    out cuts the padding none of them needs."""
    seeds = ["早餐", "房间干净又安静", "不错"]
    with torch.no_grad():
        alone = [lively(torch.tensor([vocab.encode(s)])) for s in seeds]
        states = [state for _, state in alone]
        merged = lively.merge_states(states)
        assert merged.tokens.shape == (3, 7) and merged.pad.tolist() == [5, 0, 5]
        assert merged.lengths.tolist() == [2, 7, 2] and merged.cache[0][0].shape[:3] == (3, 3, 7)
        assert lively.merge_states(states[::2]).pad is None              # one position: no padding
        none = lively.reorder_state(merged, torch.tensor([], dtype=torch.long))     # no rows, 7 wide: adds nothing
        assert lively.merge_states([none, states[0]]).tokens.shape == (1, 2)
        chars = torch.randint(2, len(vocab), (3, 12))                     # row 1 passes the 16-character context
        for t in range(12):
            logits, merged = lively(chars[:, t:t + 1], merged)
            for i in range(3):
                one, states[i] = lively(chars[i:i + 1, t:t + 1], states[i])
                # float32 rounding only: a batch's products may sum in another order. With these large weights
                # the logits reach ±13 and an AMX Xeon's kernels put a row of 3 up to 1.2e-4 from the row
                # alone (40 random texts); another row's logits would differ by whole units
                assert torch.allclose(logits[i], one[0], atol=5e-4), (t, i)
        assert merged.lengths.tolist() == [s.tokens.shape[1] for s in states] == [14, 11, 14]
        for i, state in enumerate(states):
            row = lively.reorder_state(merged, torch.tensor([i]))
            assert row.pad is None and torch.equal(row.tokens, state.tokens)
            assert all(torch.allclose(k, k1, rtol=1e-5, atol=1e-4) and torch.allclose(v, v1, rtol=1e-5, atol=1e-4)
                       for (k, v), (k1, v1) in zip(row.cache, state.cache))
        assert lively.reorder_state(merged, torch.tensor([2, 0])).pad is None
        more = torch.randint(2, len(vocab), (3, 4))                       # several tokens: each row read alone
        logits, after = lively(more, merged)
        for i, state in enumerate(states):
            one, alone_after = lively(more[i:i + 1], state)
            assert torch.allclose(logits[i], one[0], atol=1e-4)
            assert torch.equal(lively.reorder_state(after, torch.tensor([i])).tokens, alone_after.tokens)
        assert lively.reorder_state(merged, torch.tensor([1, 0])).pad.tolist() == [3, 0]


@pytest.mark.filterwarnings("ignore:TF32 acceleration")      # torch's note when its oneDNN flags are set
def test_the_steps_gelu_is_the_exact_gelu_on_pytorchs_own_kernel():
    """`transformer.gelu` gives F.gelu's function through the native kernel (bit for bit what F.gelu gives with
    oneDNN switched off), returns a contiguous row per input row, and each row's values do not depend on
    its batch."""
    torch.manual_seed(0)
    x = torch.randn(3, 768) * 3
    got = gelu(x)
    with torch.backends.mkldnn.flags(enabled=False):
        native = F.gelu(x)
    assert got.shape == x.shape and got.is_contiguous() and torch.equal(got, native)
    assert torch.allclose(got, F.gelu(x), atol=1e-6)
    assert torch.equal(gelu(x[1:2]), got[1:2])


def test_keys_and_values_grow_in_place_and_no_window_changes_under_another():
    """`extend` gives what concatenation gives; a window made by the last `extend` of its buffer grows in it
    (same memory, no copy of the window), a full buffer moves to a larger one, and an earlier state extended
    again copies, so the keys of the window made from it first stay as they were."""
    from seqcompare.models.transformer import GROW, extend

    torch.manual_seed(0)
    keys, values = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4)
    steps = [torch.randn(2, 2, 3, 1, 4) for _ in range(GROW + 2)]
    with torch.inference_mode():                   # as decoding runs (inference tensors keep no view base)
        k, v = extend(keys, values, steps[0], context=64)
        assert torch.equal(k, torch.cat([keys, steps[0][:, 0]], 2))
        assert torch.equal(v, torch.cat([values, steps[0][:, 1]], 2))
        k2, v2 = extend(k, v, steps[1], context=64)
        assert k2.data_ptr() == k.data_ptr() and v2.data_ptr() == v.data_ptr()          # the same buffer
        first = k2.clone()
        again, _ = extend(k, v, steps[2], context=64)          # the earlier state, extended another way
        assert again.data_ptr() != k2.data_ptr() and torch.equal(k2, first)
        assert torch.equal(again[:, :, -1:], steps[2][:, 0]) and torch.equal(again[:, :, :-1], k)
        for s in steps[3:]:                                     # past the buffer's room: moved, values kept
            k2, v2 = extend(k2, v2, s, context=64)
        expected = torch.cat([keys, *(s[:, 0] for s in steps[:2]), *(s[:, 0] for s in steps[3:])], 2)
        assert torch.equal(k2, expected) and k2.shape[2] == 5 + GROW + 1


def test_rows_at_one_position_attend_together_wherever_they_sit_in_the_batch():
    """`positions` groups the rows of a padded window by their padding: a slice where they sit together, their
    indices where they are scattered; `attend_apart` gives every row the attention it gets alone, over exactly
    its own keys."""
    from seqcompare.models.transformer import attend_apart, positions

    torch.manual_seed(0)
    pad = torch.tensor([0, 3, 3, 7, 0])
    groups = positions(pad)
    assert [(r if isinstance(r, slice) else r.tolist(), p) for r, p in groups] == \
        [([0, 4], 0), (slice(1, 3), 3), (slice(3, 4), 7)]
    q, k, v = torch.randn(5, 2, 1, 4), torch.randn(5, 2, 9, 4), torch.randn(5, 2, 9, 4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                  # as the server runs (with more, the kernel splits a batch its own way)
    try:
        got = attend_apart(q, k, v, groups)
        for i, p in enumerate(pad.tolist()):
            own = k[i:i + 1, :, p:].contiguous(), v[i:i + 1, :, p:].contiguous()
            assert torch.equal(got[i:i + 1], F.scaled_dot_product_attention(q[i:i + 1], *own))
    finally:
        torch.set_num_threads(threads)


def test_a_decoding_step_with_gradients_keeps_the_earlier_steps_differentiable(tiny, vocab):
    """With gradients recorded, keys and values are not written in place (`extend`): an earlier step's logits
    still backpropagate after later steps, into the embedding."""
    x = torch.randint(0, len(vocab), (2, 6))
    _, state = tiny(x[:, :3])
    first, state = tiny.step(x[:, 3:4], state)
    for t in range(4, 6):
        _, state = tiny.step(x[:, t:t + 1], state)
    first.sum().backward()
    assert tiny.embed.weight.grad is not None and tiny.embed.weight.grad.abs().sum() > 0
    tiny.zero_grad()


def test_step_products_are_the_matrices_a_step_multiplies_in_order(tiny, vocab):
    """`TransformerLM.step_products` (bench's anatomy of a step): every block's attention input and output
    projections and its MLP's two layers, in order, then the tied output layer; each changes the step's logits."""
    products = tiny.step_products()
    want = [(layer.weight, layer.bias) for block in tiny.blocks
            for layer in (block.attn.qkv, block.attn.proj, block.mlp[0], block.mlp[2])] + [(tiny.embed.weight, None)]
    assert len(products) == len(want) and all(w is a and b is c for (w, b), (a, c) in zip(products, want))
    with torch.inference_mode():
        _, state = tiny(torch.tensor([[1, 2, 3]]))
    with torch.no_grad():
        logits, _ = tiny.step(torch.tensor([[4]]), state)
        for i, (w, _) in enumerate(products):
            kept = w.clone()
            w.mul_(2)
            assert not torch.equal(tiny.step(torch.tensor([[4]]), state)[0], logits), i
            w.copy_(kept)
