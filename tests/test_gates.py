"""The gates view: PyTorch's gates recomputed from the checkpoints, checked against nn.LSTM / nn.GRU."""

import json
import subprocess
import sys

import pytest
import torch

from seqcompare import UserError, gates, sketches, textgen

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
TEXT = "早餐很丰富，但是房间的隔音太差了。"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "seqcompare", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


@pytest.fixture(scope="module")
def hotel_json():
    run = cli("gates", "hotel", TEXT, "--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def module_states(model, text):
    """The module's own hidden states (1, S, H) for END + text, and the layer-0 input."""
    vocab = textgen.load_vocab(ROOT / "checkpoints" / "hotel")
    with torch.no_grad():
        x = model.embed(torch.tensor([vocab.encode(textgen.END + text)])).float()
        rnn = model.rnn.float()
        out, _ = rnn(x)
    return x[0], out[0]


def test_shapes_and_keys(hotel_json):
    S = len(TEXT) + 1
    assert hotel_json["text"] == TEXT and len(hotel_json["steps"]) == S and hotel_json["steps"][0] == textgen.END_SHOWN
    models = hotel_json["models"]
    assert set(models["lstm"]["layers"][0]) == {"input", "forget", "output", "cell"}
    assert set(models["gru"]["layers"][0]) == {"reset", "update"}
    assert set(models["rnn"]["layers"][0]) == {"hidden"}
    for a in models.values():
        for values in a["layers"][0].values():
            assert len(values) == S and len(values[0]) == 384


def test_lstm_gates_match_the_module(hotel_json, text_bank):
    """Gates from the CLI = σ/tanh of nn.LSTM's documented slices (i, f, g, o) applied to the module's own
    previous hidden state; and c = f·c₋₁ + i·g, h = o·tanh(c) reproduce the module's hidden states."""
    model = text_bank.models["lstm"]
    x, h = module_states(model, TEXT)
    layer = {k: torch.tensor(v) for k, v in hotel_json["models"]["lstm"]["layers"][0].items()}
    w_ih, w_hh = model.rnn.weight_ih_l0.float(), model.rnn.weight_hh_l0.float()
    b = model.rnn.bias_ih_l0.float() + model.rnn.bias_hh_l0.float()
    H = w_hh.shape[1]
    h_prev = torch.cat([torch.zeros(1, H), h[:-1]])
    pre = x @ w_ih.T + h_prev @ w_hh.T + b
    i, f, g, o = (pre[:, k * H:(k + 1) * H] for k in range(4))
    for name, expected in (("input", i.sigmoid()), ("forget", f.sigmoid()), ("output", o.sigmoid())):
        assert torch.allclose(layer[name], expected, atol=1e-4), name
    c_prev = torch.cat([torch.zeros(1, H), layer["cell"][:-1]])
    assert torch.allclose(layer["cell"], layer["forget"] * c_prev + layer["input"] * g.tanh(), atol=1e-4)
    assert torch.allclose(layer["output"] * layer["cell"].tanh(), h, atol=1e-4)


def test_gru_gates_match_the_module(hotel_json, text_bank):
    """r, z from the CLI = nn.GRU's (r, z, n order) on the module's own states; h = (1 − z)·n + z·h₋₁ with
    them reproduces the module's hidden states."""
    model = text_bank.models["gru"]
    x, h = module_states(model, TEXT)
    layer = {k: torch.tensor(v) for k, v in hotel_json["models"]["gru"]["layers"][0].items()}
    rnn = model.rnn.float()
    H = rnn.weight_hh_l0.shape[1]
    h_prev = torch.cat([torch.zeros(1, H), h[:-1]])
    gi = x @ rnn.weight_ih_l0.T + rnn.bias_ih_l0
    gh = h_prev @ rnn.weight_hh_l0.T + rnn.bias_hh_l0
    r = (gi[:, :H] + gh[:, :H]).sigmoid()
    z = (gi[:, H:2 * H] + gh[:, H:2 * H]).sigmoid()
    assert torch.allclose(layer["reset"], r, atol=1e-4) and torch.allclose(layer["update"], z, atol=1e-4)
    n = (gi[:, 2 * H:] + layer["reset"] * gh[:, 2 * H:]).tanh()
    stepped, state = [], torch.zeros(H)
    for t in range(len(x)):
        state = (1 - layer["update"][t]) * n[t] + layer["update"][t] * state
        stepped.append(state)
    assert torch.allclose(torch.stack(stepped), h, atol=1e-4)


def test_rnn_column_is_the_hidden_state(hotel_json, text_bank):
    _, h = module_states(text_bank.models["rnn"], TEXT)
    assert torch.allclose(torch.tensor(hotel_json["models"]["rnn"]["layers"][0]["hidden"]), h, atol=1e-4)


def test_review_and_digit_steps(review_bank, digit_bank):
    review = "A wonderful film, but the ending was far too long."
    result = gates.explain_bank("imdb", review_bank, review)
    ids, tokens, _ = review_bank.tokenize(review)
    assert result["steps"] == tokens
    assert len(result["models"]["lstm"]["layers"][0]["forget"]) == len(ids)
    digit = gates.explain_bank("mnist", digit_bank, sketches.render(4))
    assert len(digit["steps"]) == 28 and len(digit["models"]["gru"]["layers"]) == 2
    for layer in digit["models"]["gru"]["layers"]:
        assert len(layer["update"]) == 28 and len(layer["update"][0]) == 128
    assert "lenet" not in digit["models"]


def test_bad_input_is_a_user_error(text_bank):
    with pytest.raises(UserError) as err:
        gates.explain_bank("hotel", text_bank, "   ")
    assert "type" in str(err.value).lower()
    run = cli("gates", "hotel", "--json")
    assert run.returncode == 2 and run.stderr.startswith("seqcompare: error:") and "Traceback" not in run.stderr


def test_view_shows_gates_and_units(text_bank, digit_bank):
    from seqcompare.ui import gates_view
    figure, _ = gates_view.gates_figure(text_bank, "hotel", TEXT, lang="zh-CN")
    titles = [a.text for a in figure.layout.annotations]
    assert any("遗忘门" in title for title in titles) and any("细胞状态" in title for title in titles)
    heatmaps = [trace for trace in figure.data if trace.type == "heatmap"]
    assert len(heatmaps) == 1 + 4 + 2                       # RNN hidden; LSTM i, f, o, c; GRU r, z
    assert all(len(h.z) == gates_view.TOP and len(h.z[0]) == len(TEXT) + 1 for h in heatmaps)
    assert "早" in figure.layout.xaxis.ticktext or any("早" in (ax.ticktext or ()) for ax in
                                                       [figure.layout[k] for k in figure.layout if k.startswith("xaxis")])
    one, _ = gates_view.gates_figure(text_bank, "hotel", TEXT, unit=7)
    assert all(list(h.y) == ["7"] for h in one.data if h.type == "heatmap")
    assert any("the gates of unit 7" in a.text for a in one.layout.annotations)        # not "mean over the units"
    lines = [trace for trace in one.data if trace.type == "scatter"]                 # LSTM i, f, o; GRU r, z
    assert len(lines) == 5 and len({trace.line.color for trace in lines}) == 5       # each gate its own colour
    # a unit or layer typed outside the sliders' range shows the nearest one
    last, _ = gates_view.gates_figure(text_bank, "hotel", TEXT, unit=999, layer=-4)
    assert {tuple(h.y) for h in last.data if h.type == "heatmap"} == {("383",)}       # the last of 384
    none, message = gates_view.gates_figure(text_bank, "hotel", "", lang="zh-CN")
    assert none is None and "请先输入文本" in message
    digit, _ = gates_view.gates_figure(digit_bank, "mnist", sketches.render(2), layer=2)
    assert [h for h in digit.data if h.type == "heatmap"][0].z[0].__len__() == 28


def test_the_gates_panels_keep_room_for_the_step_labels_and_the_next_title(text_bank):
    """Between two panels, one unit or sixteen: at least GAP_PX pixels (the panel's step labels above the next
    panel's title); each title sits at the top of its own panel."""
    from seqcompare.ui import gates_view
    for unit in (None, 7):
        figure, _ = gates_view.gates_figure(text_bank, "hotel", TEXT, unit=unit)
        layout = figure.layout
        plot_px = layout.height - layout.margin.t - layout.margin.b
        domains = sorted((layout[k].domain for k in layout if k.startswith("yaxis")), key=lambda d: -d[1])
        assert len(domains) == len(layout.annotations) >= 9
        for above, below in zip(domains, domains[1:]):
            assert (above[0] - below[1]) * plot_px >= gates_view.GAP_PX - 0.5
        assert sorted((a.y for a in layout.annotations), reverse=True) == [d[1] for d in domains]


def test_saturation_json_shape():
    result = gates.load_saturation(ROOT / "checkpoints" / "hotel")
    assert result is not None and set(result["models"]) == {"lstm", "gru"}
    lstm = result["models"]["lstm"]
    assert set(lstm) == {"trained", "untrained"}
    for kind in lstm.values():
        for fractions in kind[0].values():
            assert len(fractions["left"]) == 384
            assert all(0 <= a + b <= 1 for a, b in zip(fractions["left"], fractions["right"]))


def test_saturation_is_measured_on_a_slice_of_the_validation_text(data_dir):
    """`gates hotel --saturation` on its first 1,600 characters: the LSTM's and GRU's gates, trained and untrained,
    each unit's fractions of steps near 0 and near 1 (the shape the shipped file has)."""
    result = gates.saturation(ROOT / "checkpoints" / "hotel", data_dir, limit=1600, log=lambda line: None)
    assert result["characters"] == 1600 and set(result["models"]) == {"lstm", "gru"}
    assert set(result["models"]["gru"]["trained"][0]) == set(gates.GATES["gru"])
    for kinds in result["models"].values():
        for layers in kinds.values():
            for fractions in layers[0].values():
                assert len(fractions["left"]) == 384
                assert all(0 <= a + b <= 1 for a, b in zip(fractions["left"], fractions["right"]))
    trained, untrained = (result["models"]["lstm"][k][0]["forget"]["right"] for k in ("trained", "untrained"))
    assert trained != untrained                                   # the untrained model is another model


def test_api_endpoints_answer_as_the_views(text_bank, review_bank, digit_bank, tmp_path):
    from seqcompare.ui import cells_api
    banks = {"hotel": text_bank, "imdb": review_bank, "mnist": digit_bank}
    hotel = cells_api.api_gates(banks, "text", TEXT, None)
    assert len(hotel["models"]["gru"]["layers"][0]["update"]) == len(TEXT) + 1
    path = tmp_path / "five.png"
    sketches.render(5).save(path)
    digit = cells_api.api_gates(banks, "digits", "", {"path": str(path)})
    assert len(digit["models"]["lstm"]["layers"][1]["forget"]) == 28
    explained = cells_api.api_explain(banks, "hotel", TEXT, None)
    assert set(explained["models"]) == set(textgen.MODELS) and len(explained["models"]["lstm"]["influence"]) == len(TEXT)
    assert json.dumps(cells_api.api_explain(banks, "mnist", "", str(path)))           # the digit as a list
    memory = cells_api.api_memory(banks, "imdb")
    assert set(memory["models"]) == {"rnn", "lstm", "gru"}
    (tmp_path / "memory.json").write_text("{not json", encoding="utf-8")     # a bank whose stored curves are broken
    broken = {**banks, "imdb": type("Bank", (), {"folder": tmp_path})()}
    assert "memory.json is not valid JSON" in cells_api.api_memory(broken, "imdb")["error"]
    from seqcompare.ui.common import as_json
    assert "error" in as_json(cells_api.api_gates)(banks, "hotel", "  ", None)
    assert "error" in as_json(cells_api.api_gates)(banks, "chess", TEXT, None)
    # the digit views read the uploaded image only: a text naming a file on the server is not opened
    for text in (str(path), "/etc/passwd", "x" * 5000):
        for endpoint in (cells_api.api_gates, cells_api.api_explain):
            answer = as_json(endpoint)(banks, "mnist", text, None)
            assert set(answer) == {"error"} and "draw" in answer["error"].lower(), (text[:20], answer)


def test_endpoints_are_api_only():
    from gradio.components.api_component import Api
    from seqcompare import ui
    demo = ui.build()
    endpoints = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}
    for name in ("explain", "memory", "gates", "sentiment"):
        assert all(isinstance(block, Api) for block in endpoints[name].inputs + endpoints[name].outputs), name


def test_notices_are_said_in_the_readers_language(text_bank):
    """A text cut to its last MAX_TEXT characters is told so in Chinese on a Chinese page, in English otherwise."""
    from seqcompare.ui import gates_view

    long = "早餐很好。" * (textgen.MAX_TEXT // 5 + 10)
    assert "只读取最后" in gates_view.gates_figure(text_bank, "hotel", long, lang="zh-CN")[1]
    assert "only the last" in gates_view.gates_figure(text_bank, "hotel", long, lang="en")[1]


def test_characters_the_models_never_saw_are_named(text_bank):
    """As generation, the explanations and the sentiment view do: the gates view names unknown characters."""
    from seqcompare.ui import gates_view

    from seqcompare import i18n

    result = gates.explain_bank("hotel", text_bank, "早餐😀很好 Ω")
    assert [i18n.render(n, "en") for n in result["notices"] if "Ω😀" in i18n.render(n, "en")]
    said = gates_view.gates_figure(text_bank, "hotel", "早餐😀很好 Ω", lang="en")[1]
    assert "Ω😀**\n\nRNN: " in said                              # the notice, then the timings below it
    assert not gates.explain_bank("hotel", text_bank, "早餐很好")["notices"]


def test_the_gates_and_the_memory_view_read_a_typed_text_alike(text_bank):
    """One reading of a typed text (textgen.read_text): a text of characters the models never saw is refused by
    the gates view as by the memory view, and a long one is cut to the same last characters."""
    from seqcompare import influence

    for view in (lambda t: gates.explain_bank("hotel", text_bank, t), lambda t: influence.explain_text(text_bank, t)):
        with pytest.raises(UserError, match="none of its characters occur in the hotel reviews"):
            view("🙂🎬🍿")
    long = "早餐很好。" * (textgen.MAX_TEXT // 5 + 10)
    assert gates.explain_bank("hotel", text_bank, long)["text"] == influence.explain_text(text_bank, long)["text"]
