"""Input influence (seqcompare.influence): the gradient against finite differences, causality, padding and
batches, the distance curve, the memory views of the three tabs, and the explain / memory commands."""

import json
import shutil
from dataclasses import asdict

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from conftest import CHECKPOINTS
from seqcompare import influence, reviews, sketches, textgen
from seqcompare.cli import main as cli_main
from seqcompare.models import (CharLM, CharLMConfig, ReviewClassifier, ReviewClassifierConfig, RowClassifier,
                               RowClassifierConfig, TransformerLM, TransformerLMConfig)
from seqcompare.ui import memory_views
from test_digits import cli

VOCAB = 11


def tiny_text_models(dtype=torch.float32):
    """Tiny character models of each kind, in evaluation mode."""
    out = {}
    for cell in ("rnn", "lstm", "gru"):
        torch.manual_seed(0)
        out[cell] = CharLM(CharLMConfig(cell=cell, vocab_size=VOCAB, embed_size=4, hidden_size=6, dropout=0.3))
    torch.manual_seed(0)
    out["transformer"] = TransformerLM(TransformerLMConfig(vocab_size=VOCAB, context=8, width=6, layers=2, heads=2,
                                                           dropout=0.3))
    return {n: m.to(dtype).eval() for n, m in out.items()}


def tiny_review_model(cell="gru", dtype=torch.float32):
    torch.manual_seed(0)
    return ReviewClassifier(ReviewClassifierConfig(cell=cell, vocab_size=VOCAB, embed_size=4, hidden_size=5,
                                                   word_dropout=0.2)).to(dtype).eval()


def finite_difference_norms(logp, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central differences of the scalar logp(x) for every coordinate of x (1, T, D): the norm per position."""
    grad = torch.zeros_like(x)
    for t in range(x.shape[1]):
        for d in range(x.shape[2]):
            up, down = x.clone(), x.clone()
            up[0, t, d] += eps
            down[0, t, d] -= eps
            grad[0, t, d] = (logp(up) - logp(down)) / (2 * eps)
    return grad.norm(dim=-1)[0]


# --- the measure ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "transformer"])
def test_text_gradient_matches_finite_differences(name):
    model = tiny_text_models(torch.float64)[name]
    ids = torch.tensor([[1, 4, 2, 7, 3, 9]])
    x, target = influence.embedded(model, ids), torch.tensor([5])
    norms, _ = influence.gradient_norms(model, lambda v: influence.text_logits(model, v, torch.tensor([5])), x, target)
    logp = lambda v: influence.text_logits(model, v, torch.tensor([5])).log_softmax(-1)[0, 5].item()
    assert torch.allclose(norms[0], finite_difference_norms(logp, x), rtol=1e-5, atol=1e-9)
    assert (norms > 0).all()


def test_review_and_digit_gradients_match_finite_differences():
    model = tiny_review_model("lstm", torch.float64)
    ids, lengths = torch.tensor([[3, 5, 2, 8, 1]]), torch.tensor([5])
    x = influence.embedded(model, ids)
    norms, target = influence.gradient_norms(model, lambda v: model.forward_embedded(v, lengths), x)
    assert target.item() == model(ids, lengths).argmax().item()                 # the model's own answer
    logp = lambda v: model.forward_embedded(v, lengths).log_softmax(-1)[0, target.item()].item()
    assert torch.allclose(norms[0], finite_difference_norms(logp, x), rtol=1e-5, atol=1e-9)

    torch.manual_seed(0)
    rows = RowClassifier(RowClassifierConfig(cell="gru", input_size=4, hidden_size=6)).double().eval()
    image = torch.randn(1, 5, 4, dtype=torch.float64)                           # 5 rows of 4 pixels
    norms, target = influence.gradient_norms(rows, rows, image)
    logp = lambda v: rows(v).log_softmax(-1)[0, target.item()].item()
    assert torch.allclose(norms[0], finite_difference_norms(logp, image), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "transformer"])
def test_positions_after_the_target_have_exactly_zero_influence(name):
    model = tiny_text_models()[name]
    x = influence.embedded(model, torch.tensor([[1, 4, 2, 7, 3, 9, 6, 5]]))
    norms, _ = influence.gradient_norms(model, lambda v: influence.text_logits(model, v, torch.tensor([4])), x,
                                        torch.tensor([2]))
    assert (norms[0, 5:] == 0).all() and (norms[0, :5] > 0).all()


def test_no_dropout_and_no_masking():
    model = tiny_text_models()["lstm"]
    model.train()
    with pytest.raises(ValueError, match="evaluation mode"):
        influence.text_influence(model, [1, 2, 3], 4)
    model.eval()
    a, _ = influence.text_influence(model, [1, 2, 3], 0)      # the unknown character is a target like any other
    assert all(v > 0 and np.isfinite(v) for v in a)
    assert influence.text_influence(model, [1, 2, 3], 0) == (a, None)           # deterministic: no dropout


def test_the_embedded_paths_are_the_models_own():
    models = tiny_text_models()
    ids = torch.tensor([[1, 4, 2, 7, 3]])
    with torch.no_grad():
        for model in models.values():
            direct = model(ids)[0] if isinstance(model, CharLM) else model.run(ids)[0]
            via = (model.forward_embedded(model.embed(ids))[0] if isinstance(model, CharLM)
                   else model.run_embedded(model.embed(ids))[0])
            assert torch.equal(direct, via)
        review = tiny_review_model()
        assert torch.equal(review(ids, torch.tensor([5])), review.forward_embedded(review.embed(ids), torch.tensor([5])))


def test_padding_and_batch_do_not_change_a_result():
    """A row's influences are the same alone and in a right-padded batch with longer and shorter rows."""
    for name, model in tiny_text_models().items():
        rows = [[1, 4, 2, 7, 3], [2, 2, 5, 1, 8, 6, 3, 4], [9, 1, 3]]
        targets = [6, 1, 2]
        ids = torch.zeros(3, 8, dtype=torch.long)
        for r, seq in enumerate(rows):
            ids[r, :len(seq)] = torch.tensor(seq)
        lengths = torch.tensor([len(s) for s in rows])
        batch = influence.batch_influence("hotel", model, (ids, lengths, torch.tensor(targets)))
        for seq, target, got in zip(rows, targets, batch):
            alone, _ = influence.text_influence(model, seq, target)
            assert torch.allclose(got, torch.tensor(alone), rtol=1e-4, atol=1e-7), name
    model = tiny_review_model()
    rows = [[3, 5, 2], [4, 4, 7, 1, 9, 2]]
    batch = influence.batch_influence("imdb", model, (*reviews.pad(rows), None))
    for seq, got in zip(rows, batch):
        alone, _ = influence.gradient_norms(model, lambda v: model.forward_embedded(v, torch.tensor([len(seq)])),
                                            influence.embedded(model, torch.tensor([seq])))
        assert torch.allclose(got, alone[0], rtol=1e-4, atol=1e-7)


def test_the_transformer_sees_only_its_window():
    """Past its context the Transformer's last prediction reads the window its `forward` holds: the inputs
    before it have no influence, and the others are those of the window read alone."""
    model = tiny_text_models()["transformer"]
    ids = [1, 4, 2, 7, 3, 9, 6, 5, 2, 8, 1, 3, 3]                   # 13 inputs, context 8: the window is the last 5
    start = model.window_start(len(ids))
    assert start == 8
    full, layers = influence.text_influence(model, ids, 4, attention=True)
    window, _ = influence.text_influence(model, ids[start:], 4)
    assert full[:start] == [0.0] * start and np.allclose(full[start:], window, rtol=1e-5)
    assert len(layers) == 2 and all(len(w) == len(ids) and sum(w) == pytest.approx(1) for w in layers)


def test_distance_curve_and_memory_length():
    decay = torch.tensor([0.5 ** d for d in range(20)]).flip(0)    # input d back has influence 0.5^(d-1)
    curve = influence.distance_curve([decay, 3 * decay, decay.clone()], 10)
    assert np.allclose(curve, [0.5 ** (d - 1) for d in range(1, 11)])
    assert influence.memory_length(curve) == 8                     # 0.5^6 = 0.0156, 0.5^7 = 0.0078
    assert influence.memory_length(curve[:7]) is None              # above 1% at every measured distance
    flat = influence.distance_curve([torch.ones(30), torch.tensor([1.0] * 29 + [0.0])], 30)
    assert flat == [1.0] * 30                                      # a target with no influence at d=1 is left out


# --- the live views, on the shipped models -------------------------------------------------------

def test_explain_text_reads_as_generation(text_bank):
    result = influence.explain_text(text_bank, "早餐很丰富，房间干净")
    assert result["target"] == "净" and result["inputs"] == list(textgen.END + "早餐很丰富，房间干")
    assert set(result["models"]) == set(textgen.MODELS)
    for name, a in result["models"].items():
        assert len(a["influence"]) == 10 and all(v >= 0 for v in a["influence"]) and a["ms"] > 0
    assert len(result["models"]["transformer"]["attention"]) == text_bank.models["transformer"].cfg.layers
    middle = influence.explain_text(text_bank, "早餐很丰富，房间干净", position=3)
    assert middle["target"] == "丰" and len(middle["models"]["rnn"]["influence"]) == 4


def test_memory_views_return_figures_for_real_inputs(text_bank, review_bank, digit_bank):
    message, html, attention = memory_views.text_memory_view(text_bank, memory_views.EXAMPLE_TEXT)
    assert message == "" and html.count("<span title=") >= 4 * len(memory_views.EXAMPLE_TEXT)
    assert isinstance(attention, go.Figure) and len(attention.data[0].z) == 3
    slider, message, html, attention = memory_views.text_memory_for(text_bank, "房间很干净")
    assert slider.maximum == 5 and slider.value == 5 and "净" in html
    slider, message, html, attention = memory_views.text_memory_for(text_bank, "早餐")   # one character to explain
    assert (slider.minimum, slider.maximum, slider.value, slider.interactive) == (1, 2, 2, False)
    assert message == "" and "餐" in html and isinstance(attention, go.Figure)
    message, *_ = memory_views.text_memory_view(text_bank, "早餐很好", 1)
    assert "from 2 to 4" in message
    message, html, attention = memory_views.text_memory_view(text_bank, "好")
    assert "at least two characters" in message and attention is None

    html = memory_views.review_memory_view(review_bank, "Great cast, but the ending ruined it.")
    assert all(f"{name} →" in html for name in ("RNN", "LSTM", "GRU")) and "ruined" in html
    assert memory_views.review_memory_view(review_bank, "   ") == ""

    fig = memory_views.digit_memory_view(digit_bank, sketches.render(3))
    assert isinstance(fig, go.Figure) and len(fig.data[0].z) == 28 and len(fig.data[0].z[0]) == 3
    assert memory_views.digit_memory_view(digit_bank, np.zeros((100, 100), np.uint8)) is None


def test_distance_views(tmp_path):
    fig, text = memory_views.distance_view("mnist")                # the shipped curves
    assert isinstance(fig, go.Figure) and len(fig.data) == 6 and fig.layout.xaxis.type == "log"
    assert "Memory length" in text and "untrained" in text
    assert memory_views.distance_view("mnist", figure=False) == (None, text)      # the text alone, no figure
    fig, text = memory_views.distance_view("hotel", tmp_path)
    assert fig is None and "memory hotel --save" in text
    (tmp_path / influence.MEMORY_FILE).write_text("{}")
    fig, text = memory_views.distance_view("hotel", tmp_path)
    assert fig is None and "⚠️" in text
    assert memory_views.take_text("GRU", "早餐", "r", "l", "g", "t") == "g"
    assert memory_views.take_text("Seed", "早餐", "r", "l", "g", "t") == "早餐"


def test_memory_on_a_small_sample(data_dir):
    result = influence.memory("hotel", CHECKPOINTS / "hotel", data_dir, samples=6)
    assert result["targets"] == 6 and set(result["models"]) == set(textgen.MODELS)
    for part in (result["models"], result["untrained"]["models"]):
        for m in part.values():
            assert m["distance"] == list(range(1, 101)) and m["relative_influence"][0] == 1.0
            assert m["memory_length"] is None or m["relative_influence"][m["memory_length"] - 1] < 0.01
    model = influence.load_bank("hotel", CHECKPOINTS / "hotel").models["gru"]
    fresh = influence.untrained("hotel", "gru", model)
    assert asdict(fresh.cfg) == asdict(model.cfg) and not torch.equal(fresh.embed.weight, model.embed.weight)
    assert torch.equal(fresh.embed.weight, influence.untrained("hotel", "gru", model).embed.weight)   # fixed seed


# --- the command line ----------------------------------------------------------------------------

@pytest.fixture
def run_cli(capsys):
    """`python -m seqcompare ARGS` in this process (the CLI sets one torch thread: restored afterwards)."""
    threads = torch.get_num_threads()

    def run(*args):
        code = cli_main(list(args))
        out = capsys.readouterr()
        torch.set_num_threads(threads)
        return code, out.out, out.err
    return run


def test_cli_explain_json_shapes(run_cli):
    code, stdout, stderr = run_cli("explain", "hotel", "早餐很丰富，房间干净", "--json")
    assert code == 0, stderr
    out = json.loads(stdout)
    assert set(out) == {"text", "target", "inputs", "models"}
    assert out["text"] == "早餐很丰富，房间干净" and out["target"] == "净"
    assert "".join(out["inputs"]) == textgen.END + out["text"][:-1]          # what each influence is of, in order
    for name, a in out["models"].items():
        assert set(a) == ({"influence", "attention", "window_start"} if name == "transformer" else {"influence"})
        assert len(a["influence"]) == len(out["inputs"])
    assert out["models"]["transformer"]["window_start"] == 0                   # a short text: the whole of it seen

    code, stdout, stderr = run_cli("explain", "review", "Great cast, but the ending ruined it.", "--json")
    assert code == 0, stderr
    out = json.loads(stdout)
    assert set(out) == {"text", "tokens", "models"} and out["tokens"][-3:] == ["ruined", "it", "."]
    for a in out["models"].values():
        assert a["target"] in reviews.CLASS_NAMES and len(a["influence"]) == len(out["tokens"])

    image = str(CHECKPOINTS.parent / "seqcompare" / "assets" / "digits" / "7.png")
    code, stdout, stderr = run_cli("explain", "digits", image, "--json")
    assert code == 0, stderr
    out = json.loads(stdout)
    assert set(out) == {"image", "models"} and set(out["models"]) == {"rnn", "lstm", "gru"}   # LeNet has no rows
    assert all(a["target"] == 7 and len(a["influence"]) == 28 for a in out["models"].values())


def test_cli_memory_json_and_save(run_cli, data_dir, tmp_path):
    for f in (CHECKPOINTS / "mnist").glob("*"):
        if f.name != influence.MEMORY_FILE:
            shutil.copy(f, tmp_path / f.name)
    code, stdout, stderr = run_cli("memory", "mnist", "--samples", "20", "--json", "--save",
                                   "--checkpoints", str(tmp_path), "--data-dir", str(data_dir))
    assert code == 0, stderr
    out = json.loads(stdout)
    assert out == json.loads((tmp_path / influence.MEMORY_FILE).read_text())
    assert out["targets"] == 20 and set(out["models"]) == set(out["untrained"]["models"]) == {"rnn", "lstm", "gru"}
    for m in out["models"].values():
        assert m["distance"] == list(range(1, 29)) and len(m["relative_influence"]) == 28
        assert m["memory_length"] is None or isinstance(m["memory_length"], int)


@pytest.mark.parametrize("args,message", [
    (["hotel", ""], "type a text first"),
    (["hotel", "好"], "at least two characters"),
    (["hotel", "😀🙂 😀"], "cannot read this text"),
    (["review", "   "], "type or paste a review"),
    (["digits", str(CHECKPOINTS.parent / "README.md")], "not a readable image"),
    (["digits", "no-such.png"], "no such file"),
    (["digits"], "takes one image"),
])
def test_cli_explain_bad_input_is_one_line(run_cli, args, message):
    code, stdout, stderr = run_cli("explain", *args, "--json")
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("seqcompare: error:") and message in stderr, stderr


def test_cli_bad_input_end_to_end():
    """The real process: exit status 2 and one line, no traceback."""
    run = cli("explain", "hotel", "好")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == "seqcompare: error: the text needs at least two characters: its last one is predicted " \
                         "from those before it\n"
