"""Serving precision on the shipped checkpoints: the int8 and bf16 copies decode exactly as their own
full reads, batch or no batch; their logits stay close to fp32; the setting's errors; evaluate's JSON."""

import json

import pytest
import torch

from conftest import CHECKPOINTS
from seqcompare import UserError, precision, textgen
from seqcompare.textgen.decode import step
from test_digits import cli


@pytest.fixture(scope="module", params=precision.PLANS)
def served(request, text_bank):
    """The shipped text models at one plan (copies of the fp32 bank's models)."""
    bank = textgen.TextModels.__new__(textgen.TextModels)
    bank.__dict__.update(text_bank.__dict__)
    bank.served = {n: precision.convert(m, request.param)[0] for n, m in text_bank.models.items()}
    bank.plans = {n: request.param for n in bank.served}
    return bank


def test_batched_requests_get_the_texts_they_get_alone(served):
    requests = [("早餐", 40, 0.8, 20, 1), ("房间很", 30, 1.0, 0, 2, 0.9), ("服务", 20, 0.8, 20, 3, 1.0, 3),
                ("早餐", 40, 0.8, 20, 5)]
    answers = served.generate_many(requests)
    for request, answer in zip(requests, answers):
        alone = served.generate(*request)
        assert {n: a["text"] for n, a in answer["models"].items()} == {n: a["text"] for n, a in alone["models"].items()}


def test_transformer_rows_at_other_positions_get_what_they_get_alone(served):
    """The Transformer's rows at different positions decode as one padded batch; where each row's products
    are computed from that row alone (every plan but fp32 and int8-head, whose float32 products round a batch's
    rows unlike a lone one), its logits are exactly those it gets alone: its own position, its own keys, also
    when its window fills (128) and is re-read. A sum over the padded width would round them otherwise, and
    the next int8 product can turn that into another character."""
    model, plan = served.served["transformer"], served.plans["transformer"]
    torch.manual_seed(0)
    with torch.no_grad():
        V = model.cfg.vocab_size
        alone = [model(torch.randint(2, V, (1, n)))[1] for n in (1, 60, 127)]
        merged = model.merge_states(alone)
        for _ in range(12):
            chars = torch.randint(2, V, (3,)).tolist()
            logits, merged = step(model, chars, merged)    # as decoding runs them (`min_rows`)
            for i in range(3):
                one, alone[i] = step(model, chars[i:i + 1], alone[i])
                if plan in ("fp32", "int8-head"):                        # bf16 output steps: STEP
                    assert torch.allclose(logits[i], one[0], atol=STEP[plan])
                else:
                    assert torch.equal(logits[i], one[0]), (plan, i)
    assert merged.lengths.tolist() == [13, 72, 75]           # the third filled its 128, kept 64, read 11 more


# logits below 16: bf16 steps of 2⁻⁴ at most; w8a8 keeps its sums in float32 but rounds each input row to 255
# levels, where a float-rounding difference can move one value a level
STEP = {"fp32": 1e-4, "int8": 2 ** -4, "w8a8": 2 ** -4, "int8-head": 2 ** -4, "bf16": 2 ** -3, "int8+bf16": 2 ** -3,
        "int4+int8": 2 ** -4}


def test_cached_steps_equal_a_full_read(served):
    ids = torch.tensor([served.vocab.encode(textgen.END + "早餐很丰富，房间干净整洁，服务员的态度也很热情。")])
    for name, model in served.served.items():
        with torch.no_grad():
            full, _ = model(ids)
            logits, state = model(ids[:, :5])
            steps = [logits]
            for t in range(5, ids.shape[1]):
                logits, state = model(ids[:, t:t + 1], state)
                steps.append(logits)
        # the recurrent full read runs the sequence kernel, the steps the cell kernel: they agree to float
        # rounding, which a bfloat16 result (int8's output, every bf16 product) shows as 1–2 of its steps
        torch.testing.assert_close(torch.cat(steps, 1).float(), full.float(), atol=STEP[served.plans[name]], rtol=0)


def test_int8_and_bf16_logits_stay_close_to_fp32(text_bank):
    ids = torch.tensor([text_bank.vocab.encode(textgen.END + "早餐很丰富，房间干净整洁，服务员的态度也很热情。")])
    for name, model in text_bank.models.items():
        with torch.no_grad():
            fp32 = model(ids)[0].log_softmax(-1)
            for plan in precision.PLANS[1:]:
                quantised, got = precision.convert(model, plan)
                assert got == plan and quantised is not model
                other = quantised(ids)[0].float().log_softmax(-1)
                probs = fp32.exp()
                # the expected log-probability moves by little, and most argmax characters agree
                assert ((other - fp32) * probs).sum(-1).abs().max() < 0.1, (name, plan)
                assert (other.argmax(-1) == fp32.argmax(-1)).float().mean() > 0.9, (name, plan)
    assert all(m.embed.weight.dtype == torch.float32 for m in text_bank.models.values())   # the bank's own: fp32


def test_int8_reads_fewer_bytes_and_analysis_stays_fp32(text_bank):
    from seqcompare import bench
    from seqcompare.models.int8 import Int8Cells, Int8Linear

    lstm = text_bank.models["lstm"]
    head, _ = precision.convert(lstm, "int8-head")
    assert bench.weight_bytes(lstm) - bench.weight_bytes(head) > 0.7 * 384 * 3073 * 4    # the output layer: ¼
    assert head.decoder.weight.dtype == torch.int8 and lstm.decoder.weight.dtype == torch.float32
    int8, _ = precision.convert(lstm, "int8")                 # the cell too: about a quarter of every byte
    assert isinstance(int8.rnn, Int8Cells) and isinstance(lstm.rnn, torch.nn.LSTM)
    assert bench.weight_bytes(int8) < 0.3 * bench.weight_bytes(lstm)
    transformer, _ = precision.convert(text_bank.models["transformer"], "int8")
    assert all(isinstance(layer, Int8Linear) for b in transformer.blocks
               for layer in (b.attn.qkv, b.attn.proj, b.mlp[0], b.mlp[2]))
    assert bench.weight_bytes(transformer) < 0.35 * bench.weight_bytes(text_bank.models["transformer"])


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "rnn_relu"])
def test_int8_cells_compute_the_cells_they_replace(kind, dynamic):
    """`Int8Cells`: PyTorch's cell arithmetic with int8 weights: close to the fp32 module (every gate in its
    place), a step at a time equal to a whole read, and each row of a batch computed from that row alone.
    Two layers; the input width, 40, is not a multiple of the weight-only kernel's blocks (padded). With
    int8 activations (`dynamic`) too."""
    from seqcompare.models.int8 import DynamicInt8Linear, Int8Cells, Int8Linear

    torch.manual_seed(0)
    make = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind.split("_")[0]]
    extra = {"nonlinearity": "relu"} if kind == "rnn_relu" else {}
    rnn = make(40, 64, num_layers=2, batch_first=True, **extra).eval()
    cells = Int8Cells(rnn, DynamicInt8Linear if dynamic else Int8Linear)
    x = torch.randn(3, 12, 40)
    with torch.no_grad():
        want, want_state = rnn(x)
        got, state = cells(x)
        stepped, step_state = [], None
        for t in range(12):
            out, step_state = cells.step(x[:, t], step_state)
            stepped.append(out)
        alone, _ = cells(x[1:2])
    assert got.shape == want.shape and got.dtype == torch.float32
    for a, b in zip(state if kind == "lstm" else (state,), want_state if kind == "lstm" else (want_state,)):
        assert a.shape == b.shape == (2, 3, 64)
    error = (got - want).abs()
    assert error.mean() < 0.005 and error.max() < 0.05, (kind, error.mean(), error.max())
    assert torch.equal(torch.stack(stepped, 1), got) and torch.equal(alone, got[1:2])


def test_int8_activations_are_scaled_row_by_row_and_summed_exactly():
    """`DynamicInt8Linear`: each row rounded to int8 on its own scale, exact integer sums: a row gives the same
    bits alone or in any batch, and the result is the float product of the rounded operands."""
    from seqcompare.models.int8 import DynamicInt8Linear

    torch.manual_seed(1)
    weight, bias = torch.randn(300, 96) * 0.1, torch.randn(300)
    layer = DynamicInt8Linear(weight, bias)
    x = torch.randn(17, 96) * torch.logspace(-3, 2, 17)[:, None]          # rows of very different sizes
    x[4] = 0                                                               # an all-zero row
    y = layer(x)
    for i in (0, 4, 9, 16):
        assert torch.equal(layer(x[i:i + 1]), y[i:i + 1])
    step = x.abs().amax(1, keepdim=True).clamp(min=1e-12) / 127
    rounded = torch.round(x / step) * step                                 # what the kernel multiplies
    want = rounded @ (layer.weight.float() * layer.scale[:, None]).t() + bias
    torch.testing.assert_close(y, want, rtol=1e-5, atol=1e-4)
    assert torch.equal(y[4], bias) and (y - torch.nn.functional.linear(x, weight, bias)).abs().max() < 0.05 * x.abs().max()


def test_the_setting_and_its_errors(monkeypatch):
    monkeypatch.delenv(precision.ENV_VAR, raising=False)
    assert precision.resolve(None) == "auto" and precision.resolve("INT8") == "int8"
    monkeypatch.setenv(precision.ENV_VAR, "bf16")
    assert precision.resolve(None) == "bf16" and precision.resolve("fp32") == "fp32"
    monkeypatch.setenv(precision.ENV_VAR, "fp8")
    with pytest.raises(UserError, match="unknown precision 'fp8'"):
        precision.resolve(None)
    table = {"auto": {"avx512_bf16": {"hotel/lstm": "int8+bf16"}}}
    assert precision.auto_plans(table, "amx_bf16") == {"hotel/lstm": "int8+bf16"}      # the nearest lesser kind
    assert precision.auto_plans(table, "AVX2") == {}


@pytest.mark.parametrize("command", [["generate", "早餐", "--length", "5"], ["evaluate", "hotel", "--limit", "5"],
                                     ["predict", "review", "great film"], ["bench", "--tasks", "textgen"]])
def test_a_bad_precision_is_one_line_exit_2(command):
    run = cli(*command, "--precision", "fp4")
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith("seqcompare: error: unknown precision 'fp4'; choose one of auto, fp32, bf16, int8")


def test_evaluate_json_names_the_precision_and_fp32_reproduces_the_checkpoints(data_dir):
    run = cli("evaluate", "hotel", "--models", "rnn,transformer", "--limit", "40", "--json", "--precision", "int8",
              "--data-dir", str(data_dir))
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert set(result) == {"rnn", "transformer"}
    for m in result.values():
        assert m["precision"] == "int8" and {"bpc", "perplexity", "characters"} <= set(m)
    fp32 = textgen.evaluate(CHECKPOINTS / "hotel", data_dir, models=("rnn",), precision="fp32")["rnn"]
    stored = json.loads((CHECKPOINTS / "hotel" / "rnn.json").read_text())["validation"]
    assert fp32 == {**stored, "precision": "fp32"}


def test_classifiers_are_served_in_fp32_and_keep_their_precision_metric(data_dir):
    from seqcompare import digits

    result = digits.evaluate(CHECKPOINTS / "mnist", data_dir, limit=100, models=("gru", "lenet"), precision="int8")
    for m in result.values():
        assert m["serving_precision"] == "fp32" and isinstance(m["precision"], float) and 0 <= m["precision"] <= 1


@pytest.mark.parametrize("plan", ["fp32", "int8"])
def test_the_layout_trial_stores_the_same_weights_column_major(text_bank, plan):
    """bench --tasks layout: every text model, relaid, keeps its values and shapes with the output layer stored
    column-major, gives the logits it gave, and writes the texts it wrote; lookup tables keep their rows."""
    from seqcompare.bench_layout import column_major

    x = torch.tensor([text_bank.vocab.encode("早餐很丰富，房间干净")])
    for name, model in text_bank.models.items():
        served = precision.convert(model, plan)[0]
        relaid = column_major(served)
        out = relaid.output_weights()[0]
        if plan == "fp32":                                  # at int8 the output layer is the int8 copy
            assert out.stride() == (1, out.shape[0]) and torch.equal(out, served.output_weights()[0])
        if plan != "fp32" or out is not relaid.embed.weight:
            assert relaid.embed.weight.is_contiguous()      # looked up only: rows kept
        with torch.no_grad():
            torch.testing.assert_close(relaid(x)[0], served(x)[0], atol=1e-4, rtol=0)
    bank = textgen.TextModels.__new__(textgen.TextModels)
    bank.__dict__.update(text_bank.__dict__)
    bank.served = {n: precision.convert(m, plan)[0] for n, m in text_bank.models.items()}
    before = bank.generate("早餐", 30, 0.8, 20, 4)
    bank.served = {n: column_major(m) for n, m in bank.served.items()}
    after = bank.generate("早餐", 30, 0.8, 20, 4)
    assert {n: a["text"] for n, a in after["models"].items()} == {n: a["text"] for n, a in before["models"].items()}


def test_variants_compared_in_one_run_take_turns():
    """Each round runs every variant once, in an order reversed every other round; warm-up rounds are dropped."""
    from seqcompare.machine import take_turns

    order = []
    kept = take_turns(("a", "b", "c"), 3, lambda v, i: order.append(v) or f"{v}{i}", warmup=1)
    assert order == list("abccbaabccba")
    assert kept == {"a": ["a1", "a2", "a3"], "b": ["b1", "b2", "b3"], "c": ["c1", "c2", "c3"]}


def test_auto_takes_the_fastest_plan_within_limits_and_a_burst_breaks_near_ties():
    from seqcompare import precision_table

    scores = {"hotel/lstm": {"fp32": {"bpc": 4.94}, "int8": {"bpc": 4.94}, "w8a8": {"bpc": 4.94},
                             "bf16": {"bpc": 4.951}},                 # within 0.02, but over the ceiling, 4.95
              "hotel/gru": {"fp32": {"bpc": 4.90}, "int8": {"bpc": 4.91}, "w8a8": {"bpc": 4.91}}}
    ms = {"lstm": {"fp32": 40.0, "int8": 30.0, "w8a8": 31.0, "bf16": 20.0},
          "gru": {"fp32": 40.0, "int8": 30.0, "w8a8": 34.0}}
    burst = {"lstm": {"fp32": 900.0, "int8": 1400.0, "w8a8": 950.0, "bf16": 500.0},
             "gru": {"fp32": 900.0, "int8": 1400.0, "w8a8": 950.0}}
    # w8a8 is within 10% of int8 for one request and faster for thirty; the GRU's w8a8 is 13% slower: not a tie
    assert precision_table.choose(ms, scores, burst) == {"hotel/lstm": "w8a8", "hotel/gru": "int8"}
    assert precision_table.choose(ms, scores) == {"hotel/lstm": "int8", "hotel/gru": "int8"}
    scores["hotel/gru"]["int8"] = {"bpc": 4.93}                       # 0.03 above fp32: past the 0.02 limit
    assert precision_table.choose(ms, scores, burst)["hotel/gru"] == "w8a8"


def test_the_readme_summary_shows_each_cpu_kinds_plan_with_its_bits_per_character_and_times():
    """The README's precision block: per model its fp32 bpc and, for every kind of CPU in the shipped table,
    the plan auto serves there, that plan's bpc and its ms at fp32 and served (the figures of the table)."""
    from seqcompare import precision_table

    t = precision.load_table(CHECKPOINTS)
    text = precision_table.precision_summary_block(CHECKPOINTS.parent)
    lstm = next(line for line in text.splitlines() if line.startswith("| LSTM |"))
    assert f"| {t['quality']['hotel/lstm']['fp32']['bpc']:.4f} |" in lstm
    for key, m in t["measured"].items():
        plan = t["auto"][key]["hotel/lstm"]
        assert f"| {plan} | {t['quality']['hotel/lstm'][plan]['bpc']:.4f} | " \
               f"{m['ms']['lstm']['fp32']:.1f} → {m['ms']['lstm'][plan]:.1f} |" in lstm
        assert f"({key}): all four {m['total_ms']['fp32']:.1f} ms at fp32" in text


def test_the_precision_paragraph_gives_the_transformer_to_lstm_ratio_at_fp32():
    """Each kind of CPU's paragraph in docs/precision.md states the Transformer's fp32 time as a multiple of the
    LSTM's, from the table's own medians; a table without either model states nothing."""
    from seqcompare import precision_table

    t = precision.load_table(CHECKPOINTS)
    text = precision_table.precision_block(CHECKPOINTS.parent)
    for m in t["measured"].values():
        ratio = m["ms"]["transformer"]["fp32"] / m["ms"]["lstm"]["fp32"]
        assert f"at fp32 the Transformer took {ratio:.2f}× the LSTM's time" in text
    assert precision_table.transformer_to_lstm({"lstm": {"fp32": 30.0}}) == ""
    assert precision_table.transformer_to_lstm({"lstm": {"fp32": 30.0}, "transformer": {"fp32": 45.0}}) \
        == "; at fp32 the Transformer took 1.50× the LSTM's time, within the 1.5× bar"
    assert precision_table.transformer_to_lstm({"lstm": {"fp32": 30.0}, "transformer": {"fp32": 48.6}}) \
        == "; at fp32 the Transformer took 1.62× the LSTM's time, over the 1.5× bar"


def test_the_precision_doc_takes_one_float32_step_apart_from_the_bench():
    """docs/precision.md's block shows the bench's anatomy of a float32 step (`textgen.fp32_step`): per model its
    products alone, the rest and the whole step, and the Transformer's figures as multiples of the LSTM's."""
    from seqcompare import precision_table
    from seqcompare.report import read

    steps = read(CHECKPOINTS / "bench.json")["textgen"]["fp32_step"]
    text = precision_table.precision_block(CHECKPOINTS.parent)
    t, l = steps["transformer"], steps["lstm"]
    assert (f"| Transformer | {t['products']} | {t['products_us']:.0f} | {t['rest_us']:.0f} | "
            f"{t['step_us']:.0f} |") in text
    assert (f"The Transformer's step took {t['step_us'] / l['step_us']:.2f}× the LSTM's: its {t['products']} "
            f"products alone {t['products_us'] / l['products_us']:.2f}× the LSTM's {l['products']}") in text


def test_bench_kernels_times_every_variant_on_the_shipped_weights(tmp_path):
    """bench --tasks kernels: each case's variants timed in one run (µs per call), the cache's in-place variant
    writing into the buffer it was given; the report block reads the saved artifact."""
    from seqcompare import bench_kernels

    cases = bench_kernels.cases(CHECKPOINTS)
    with torch.inference_mode():                                               # as `run` times them
        grown = cases["cache_30"][1]["in_place"]()
        again = cases["cache_30"][1]["in_place"]()
    assert again[0].buffer is grown[0].buffer and again[0].shape[2] == 101        # no copy: the same buffer
    r = bench_kernels.run(CHECKPOINTS, 1)
    assert {c: set(v) for c, v in r["us"].items()} == {
        "head_1": {"fp32", "int8", "w8a8", "int_mm"}, "head_30": {"fp32", "int8", "w8a8", "int_mm"},
        "qkv_1": {"int8", "w8a8"}, "gelu_1": {"onednn", "native"}, "cache_30": {"concatenated", "in_place"}}
    assert all(t > 0 for v in r["us"].values() for t in v.values()) and r["runs"] == 5
    from seqcompare import bench

    (tmp_path / "checkpoints").mkdir()
    bench.save_result({"kernels": r}, tmp_path / "checkpoints")                      # `bench --save`, as the CLI
    said = bench_kernels.kernels_block(tmp_path)
    assert f"fp32 {r['us']['head_30']['fp32']:.0f} µs" in said and "3,073 × 384" in said and "576 × 192" in said


def test_the_compiled_trial_steps_compute_what_the_models_step_computes(text_bank):
    """bench --tasks compiled times each model's step written as one function of tensors (the form a compiler
    takes): run eagerly, it gives the logits the model's own step gives, character after character, and writes
    the same greedy text."""
    from seqcompare.bench_compiled import SEED, pure_step, write

    with torch.inference_mode():
        for name, model in text_bank.models.items():
            step, state = pure_step(name, model.eval())
            logits, model_state = model(torch.tensor([list(SEED)]))
            for at, token in enumerate(SEED):
                pure, state = step(torch.tensor([token]), torch.tensor([at]), state)
                torch.testing.assert_close(pure, logits[:, at], atol=2e-4, rtol=0, msg=name)
            greedy = []
            for at in range(len(SEED), len(SEED) + 20):
                token = int(logits[0, -1].argmax())
                greedy.append(token)
                pure, state = step(torch.tensor([token]), torch.tensor([at]), state)
                logits, model_state = model(torch.tensor([[token]]), model_state)
                torch.testing.assert_close(pure, logits[:, 0], atol=2e-4, rtol=0, msg=name)
            seconds, written = write(step, pure_step(name, model)[1])
            assert seconds > 0 and len(written) == 100 and written[:20] == greedy, name


def test_int4_output_layer_computes_its_stored_weights_with_half_the_bytes_of_int8(text_bank):
    """Int4Linear's kernel multiplies what it stores: each group's 4-bit steps between its least and largest
    weight (scale and offset in bfloat16), for rows padded to 16 and cut back; every weight within half a step of
    the checkpoint's; each row of a batch as alone; half of int8's bytes for the output layer."""
    from seqcompare.models.int8 import GROUP4, Int4Linear, Int8Linear

    w, b = text_bank.models["rnn"].output_weights()
    layer = Int4Linear(w, b)
    eye = torch.eye(w.shape[1])
    stored = (layer(eye) - b).t()                           # the weights the kernel uses, column by column
    groups = w.detach().view(w.shape[0], -1, GROUP4)
    half_step = ((groups.amax(-1) - groups.amin(-1)) / 15 / 2)[..., None]
    assert stored.shape == w.shape
    assert ((stored - w).view_as(groups).abs() <= half_step * 1.02 + 2e-2 * groups.abs()).all()   # + bf16 rounding
    x = torch.randn(5, w.shape[1])
    assert torch.equal(layer(x)[3], layer(x[3:4])[0])
    stored_bytes = lambda m: sum(t.nbytes for name, t in m.named_buffers() if name != "bias")
    assert stored_bytes(layer) < 0.6 * stored_bytes(Int8Linear(w, b))


def test_a_weight_only_layer_adds_its_bias_whatever_the_input_dtype():
    """The weight-only layers give their output in the input's dtype with the bias added, also when the bias is
    float32 and the input bfloat16 (the bias was left out in that case)."""
    from seqcompare.models.int8 import Int4Linear, Int8Linear

    torch.manual_seed(0)
    w, b = torch.randn(48, 128) * 0.05, torch.full((48,), 3.0)
    x = torch.randn(2, 128)
    for layer in (Int8Linear(w, b), Int4Linear(w, b)):
        for dtype in (torch.float32, torch.bfloat16):
            out = layer(x.to(dtype))
            assert out.dtype == dtype
            torch.testing.assert_close(out.float(), x @ w.t() + b, atol=0.1, rtol=0.02)
