import pytest
import torch
import torch.nn.functional as F

from seqcompare import CELLS, checkpoints, digits
from seqcompare.models import (ReviewClassifier, ReviewClassifierConfig, RowClassifier, RowClassifierConfig,
                               make_rnn)


@pytest.mark.parametrize("cell", CELLS)
def test_row_classifier_shapes(cell):
    model = RowClassifier(RowClassifierConfig(cell=cell)).eval()
    images = torch.randn(3, 28, 28)
    logits, rows = model(images), model.row_logits(images)
    assert logits.shape == (3, 10)
    assert rows.shape == (3, 28, 10)
    assert torch.allclose(rows[:, -1], logits, atol=1e-5)   # the belief after the last row is the answer


@pytest.mark.parametrize("pooling", [("last", "attention"), ("attention",), ("last",)])
@pytest.mark.parametrize("cell", CELLS)
def test_review_classifier_prefix_answers_match_whole_answers(cell, pooling):
    """After each token the prefix logits are what the model answers for the review cut there,
    whatever the padding behind it."""
    model = ReviewClassifier(ReviewClassifierConfig(cell=cell, vocab_size=40, embed_size=8, hidden_size=6,
                                                    pooling=pooling)).eval()
    tokens = torch.randint(1, 40, (1, 9))
    prefix = model.prefix_logits(tokens)[0]
    for t in range(1, 10):
        cut = torch.zeros(2, 12, dtype=torch.long)
        cut[0, :t], cut[1] = tokens[0, :t], torch.randint(1, 40, (12,))
        whole = model(cut, torch.tensor([t, 12]))
        assert torch.allclose(whole[0], prefix[t - 1], atol=1e-5)


def test_lenet_shapes():
    assert digits.build("lenet")(torch.randn(5, 1, 28, 28)).shape == (5, 10)


def test_cells_differ_in_parameter_count():
    counts = {cell: sum(p.numel() for p in digits.build(cell).parameters()) for cell in CELLS}
    # one recurrent layer of h units on x inputs has g·(h·x + h·h + 2h) weights, g = 1, 4, 3 gates
    assert counts["rnn"] < counts["gru"] < counts["lstm"]
    rnn = make_rnn("lstm", 28, 128, 1, 0.0)
    assert sum(p.numel() for p in rnn.parameters()) == 4 * (128 * 28 + 128 * 128 + 2 * 128)


def test_unknown_cell_is_refused():
    with pytest.raises(ValueError, match="unknown cell"):
        make_rnn("transformer", 28, 8, 1, 0.0)


def test_safetensors_round_trip(tmp_path):
    model = digits.build("gru").eval()
    checkpoints.save(tmp_path, "gru", model, {"config": {"cell": "gru"}, "history": []})
    loaded, meta = checkpoints.load(tmp_path, "gru", lambda c: digits.build("gru", c))
    x = torch.randn(2, 28, 28)
    assert torch.equal(model(x), loaded(x))
    assert meta["model"] == "gru" and "torch" in meta["versions"]
    assert not list(tmp_path.glob("*.tmp"))                 # atomic writes leave no temporary files


def test_corrupt_and_mismatched_checkpoints_are_reported(tmp_path):
    checkpoints.save(tmp_path, "lstm", digits.build("lstm"), {"config": {"cell": "lstm"}})
    (tmp_path / "lstm.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(checkpoints.CheckpointError, match="corrupt"):
        checkpoints.load(tmp_path, "lstm", lambda c: digits.build("lstm", c))

    checkpoints.save(tmp_path, "rnn", digits.build("rnn"), {"config": {"cell": "rnn", "hidden_size": 64}})
    with pytest.raises(checkpoints.CheckpointError, match="shape"):
        checkpoints.load(tmp_path, "rnn", lambda c: digits.build("rnn", c))

    with pytest.raises(checkpoints.CheckpointError, match="missing"):
        checkpoints.load(tmp_path, "gru", lambda c: digits.build("gru", c))


def test_half_precision_checkpoint_round_trip(tmp_path):
    model = checkpoints.round_to_half(digits.build("rnn").eval())
    checkpoints.save(tmp_path, "rnn", model, {"config": {"cell": "rnn"}}, dtype=torch.float16)
    loaded, _ = checkpoints.load(tmp_path, "rnn", lambda c: digits.build("rnn", c))
    assert next(loaded.parameters()).dtype == torch.float32
    x = torch.randn(4, 28, 28)
    assert torch.equal(model(x), loaded(x))
    full = tmp_path / "full"
    checkpoints.save(full, "rnn", model, {"config": {"cell": "rnn"}})
    assert (tmp_path / "rnn.safetensors").stat().st_size < 0.6 * (full / "rnn.safetensors").stat().st_size


def test_shipped_checkpoints_are_small_and_pickle_free():
    from conftest import CHECKPOINTS

    files = [f for f in CHECKPOINTS.rglob("*") if f.is_file()]
    assert {f.suffix for f in files} <= {".safetensors", ".json"}
    assert sum(f.stat().st_size for f in files) <= 60 * 2**20


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_single_steps_through_the_cell_kernels_match_the_whole_sequence(cell, layers):
    from seqcompare.models import rnn_step

    rnn = make_rnn(cell, 8, 16, layers, 0.0).eval()
    x = torch.randn(3, 6, 8)
    with torch.no_grad():
        full, full_state = rnn(x)
        state, outs = None, []
        for t in range(6):
            out, state = rnn_step(rnn, x[:, t:t + 1], state)
            outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 1), full)
    for a, b in zip(state if cell == "lstm" else [state], full_state if cell == "lstm" else [full_state]):
        torch.testing.assert_close(a, b)
    assert not torch.equal(torch.cat(outs, 1)[:, 1:], torch.cat(outs, 1)[:, :-1])    # the state moved on


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_step_products_are_the_matrices_a_step_multiplies(cell, layers):
    """`CharLM.step_products` (bench's anatomy of a step): each layer's input and recurrent weights with their
    own biases, layer by layer, then the output layer; every one of them changes the step's logits, and for the
    tanh RNN the first two give the new hidden state and the last its logits."""
    from seqcompare.models import CharLM, CharLMConfig

    torch.manual_seed(0)
    model = CharLM(CharLMConfig(cell=cell, vocab_size=30, embed_size=8, hidden_size=12, num_layers=layers,
                                dropout=0.0)).eval()
    products = model.step_products()
    rnn = model.rnn
    want = [(getattr(rnn, f"weight_{kind}_l{k}"), getattr(rnn, f"bias_{kind}_l{k}"))
            for k in range(layers) for kind in ("ih", "hh")] + [(model.decoder.weight, model.decoder.bias)]
    assert len(products) == len(want) and all(w is a and b is c for (w, b), (a, c) in zip(products, want))
    tokens = torch.tensor([[3], [7]])
    with torch.no_grad():
        _, state = model.step(torch.tensor([[1], [2]]))                 # a state that is not zero
        logits, _ = model.step(tokens, state)
        if cell == "rnn" and layers == 1:
            (w_ih, b_ih), (w_hh, b_hh), (w_out, b_out) = products
            h = torch.tanh(F.linear(model.embed.weight[tokens[:, 0]], w_ih, b_ih) + F.linear(state[0], w_hh, b_hh))
            torch.testing.assert_close(logits[:, 0], F.linear(h, w_out, b_out))
        for i, (w, _) in enumerate(products):
            kept = w.clone()
            w.mul_(2)
            assert not torch.equal(model.step(tokens, state)[0], logits), i
            w.copy_(kept)


def test_dropout_keeps_each_value_with_probability_one_minus_p_and_scales_it():
    """The models' Dropout (a mask of uniform numbers compared with p on the CPU) keeps 1 − p of the values, each
    scaled by 1 / (1 − p), passes the gradient through the same mask, and is the identity in evaluation."""
    from seqcompare.models.dropout import Dropout

    torch.manual_seed(0)
    drop, x = Dropout(0.25), torch.ones(200, 500, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.75) < 0.005              # 100,000 values: 4 standard deviations
    assert torch.allclose(y[kept], torch.full_like(y[kept], 4 / 3))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())                              # d(x · mask · 4/3)/dx, the same mask
    assert torch.equal(drop.eval()(x), x) and torch.equal(Dropout(0.0)(x), x)
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))
