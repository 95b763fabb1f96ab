"""The two locale files: the same keys, the same formatting fields; keys the code uses exist."""

import re
from pathlib import Path

import pytest

from seqcompare import UserError, i18n

PACKAGE = Path(i18n.__file__).parent


def test_both_languages_have_the_same_keys():
    en, zh = i18n.words("en"), i18n.words("zh-CN")
    assert set(en) - set(zh) == set(), "keys missing from zh-CN.yaml"
    assert set(zh) - set(en) == set(), "keys missing from en.yaml"


def test_formatting_fields_match_between_translations():
    en, zh = i18n.words("en"), i18n.words("zh-CN")
    differ = {k: (i18n.fields(en[k]), i18n.fields(zh[k])) for k in en if i18n.fields(en[k]) != i18n.fields(zh[k])}
    assert differ == {}


def test_every_key_the_code_uses_exists():
    pattern = re.compile(r"""\b(?:t|L|UserError|Message|said)\(\s*["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")
    used = {(path.relative_to(PACKAGE), key) for path in PACKAGE.rglob("*.py") if path.name != "__init__.py"
            for key in pattern.findall(path.read_text(encoding="utf-8"))}
    missing = sorted((str(p), k) for p, k in used if not i18n.has(k))
    assert missing == []


@pytest.mark.parametrize("code, lang", [("zh-CN", "zh-CN"), ("zh-TW", "zh-CN"), ("zh", "zh-CN"),
                                        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("en-US,en;q=0.9", "en"),
                                        ("fr-FR", "en"), ("", "en"), (None, "en")])
def test_language_follows_the_code(code, lang):
    assert i18n.language(code) == lang


def test_a_user_error_is_said_in_either_language():
    assert UserError("language.name").render("zh-CN") == "中文"
    assert str(UserError("language.name")) == "English"
    assert str(UserError("a plain sentence, no key")) == "a plain sentence, no key"


def test_an_unknown_key_names_itself():
    with pytest.raises(KeyError, match="no.such.key"):
        i18n.t("no.such.key", "en")


# --- the dashboard in either language ----------------------------------------------------------------

class Browser:
    """What a callback sees of a request: the switch's cookie and the browser's Accept-Language."""

    def __init__(self, chosen=None, accept="en-US,en;q=0.9"):
        from seqcompare.ui import locale
        self.cookies = {locale.COOKIE: chosen} if chosen else {}
        self.headers = {"accept-language": accept}


def test_the_tutorials_terms_are_used():
    zh = "\n".join(i18n.words("zh-CN").values())
    for term in ("循环神经网络 (RNN)", "长短期记忆网络 (LSTM)", "门控循环单元 (GRU)", "困惑度", "每字符比特数", "混淆矩阵",
                 "准确率", "精确率", "召回率", "F1"):
        assert term in zh, term


@pytest.mark.parametrize("chosen, accept, lang", [(None, "zh-CN,zh;q=0.9", "zh-CN"), (None, "zh-TW", "zh-CN"),
                                                  (None, "en-US", "en"), ("zh-CN", "en-US", "zh-CN"),
                                                  ("en", "zh-CN", "en"), ("xx", "zh-CN", "zh-CN")])
def test_a_chosen_language_wins_over_the_browser(chosen, accept, lang):
    from seqcompare.ui import locale
    assert locale.of(Browser(chosen, accept)) == lang
    assert locale.of(None) == "en"


def test_an_empty_review_gets_a_chinese_notice_from_the_real_callback(review_bank):
    from seqcompare import ui
    message, *labels, trace = ui.review_view(review_bank, "   ", Browser(accept="zh-CN,zh;q=0.9"))
    assert "请先输入或粘贴一段影评" in message and trace is None
    message, *_ = ui.review_view(review_bank, "   ", Browser("en", accept="zh-CN"))
    assert "type or paste a review first" in message


def test_a_review_is_answered_with_chinese_labels_and_a_chinese_figure(review_bank):
    from seqcompare import ui
    message, *labels, trace = ui.review_view(review_bank, "A wonderful, moving film.", Browser("zh-CN"))
    assert {c["label"] for c in labels[0].value["confidences"]} == {"正面", "负面"}
    assert trace.layout.title.text == "每个词之后的 P(正面)" and trace.layout.yaxis.title.text == "P(正面)"
    _, *labels, trace = ui.review_view(review_bank, "A wonderful, moving film.")        # no request: English
    assert labels[0].value["label"] == "positive" and trace.layout.title.text == "P(positive) after each word"


def test_digit_figures_have_chinese_titles_and_axes(digit_bank):
    import numpy as np
    from seqcompare import sketches, ui
    sketch = {"background": None, "layers": [], "composite": np.asarray(sketches.render(3, size=400))}
    *_, beliefs, probs = ui.digit_view(digit_bank, sketch, Browser("zh-CN"))
    assert beliefs.layout.title.text == "各循环模型自上而下读图时判断如何变化"
    assert beliefs.layout.xaxis.title.text == "已读行数" and beliefs.layout.yaxis.title.text == "数字"
    assert probs.layout.title.text == "各类别概率"
    blank = {"background": None, "layers": [], "composite": np.full((400, 400, 4), 255, np.uint8)}
    assert "请先写一个数字" in ui.digit_view(digit_bank, blank, Browser(accept="zh"))[1]


def test_the_shipped_figures_are_redrawn_in_chinese():
    from seqcompare import plots
    history = {"rnn": [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "train_accuracy": 0.5, "val_accuracy": 0.4}]}
    fig = plots.curves(history, ["loss", "accuracy"], "zh-CN")
    assert fig.layout.title.text == "训练曲线" and [a.text for a in fig.layout.annotations] == ["损失", "准确率"]
    assert {trace.name for trace in fig.data} == {"RNN 训练", "RNN 验证"}
    cm = plots.confusion_matrix([[5, 1], [2, 7]], ["负面", "正面"], "GRU", lang="zh-CN")
    assert cm.layout.title.text == "GRU 混淆矩阵" and cm.layout.xaxis.title.text == "预测"
    assert plots.confusion_matrix([[5, 1], [2, 7]], ["a", "b"], "GRU").layout.title.text == "GRU"


def test_generation_notices_follow_each_request_in_a_batch(text_bank):
    from seqcompare.ui.textgen_tab import text_views
    settings = [["早餐", "早餐"], [1000, 1000], [0.8, 0.8], [20, 20], [0, 0], [1.0, 1.0], [1, 1]]
    (zh, en), *_ = text_views(text_bank, *settings, request=[Browser("zh-CN"), Browser("en")])
    assert "长度限制为" in zh and "length capped at" in en


def test_a_slider_number_typed_out_of_range_reaches_the_callback_that_says_so():
    """gr.Slider refuses a typed number outside its range in English before any callback knows the reader; the
    dashboard's sliders pass it on, and every slider on the page is one of them."""
    import gradio as gr

    from seqcompare import ui
    from seqcompare.ui.common import slider

    with pytest.raises(gr.Error, match="greater than maximum"):
        gr.Slider(1, 500).preprocess(600)
    assert slider(1, 500).preprocess(600) == 600 and slider(0, 383, step=1).preprocess(-3) == -3
    assert slider(0, 2).preprocess(None) is None and slider(0, 2, precision=0).preprocess(1.6) == 2
    sliders = [b for b in ui.build().blocks.values() if isinstance(b, gr.Slider)]
    assert len(sliders) >= 15 and all(b.preprocess(b.maximum + 7) == b.maximum + 7 for b in sliders)


def test_errors_and_notices_stay_english_for_the_cli_and_the_api(review_bank):
    import json
    from seqcompare import ui
    from seqcompare.ui.common import as_json
    assert as_json(ui.api_classify_review)(review_bank, "") == {"error": "type or paste a review first"}
    answer = ui.api_classify_review(review_bank, "zzqx blorf wibble frobnicate film")
    assert "unknown to the models" in json.loads(json.dumps(answer))["notices"][0]
    error = UserError("errors.at_least", what="hidden size", low=1)
    assert str(error) == "hidden size must be at least 1" and error.render("zh-CN") == "隐藏层大小 至少为 1"
    notice = i18n.said("notices.seed_cut", max=200)
    assert notice == "only the last 200 characters of the seed are read" and "200" in notice.render("zh-CN")


def test_every_word_the_page_asks_for_exists_in_both_languages():
    from seqcompare import ui
    from seqcompare.ui import locale
    demo = ui.build()
    asked = set(re.findall(r'"key":\s*"(seqcompare\.[^"]+)"', json_of(demo.config)))
    words = locale.WORDS.translations_dict
    assert len(asked) > 50 and asked <= set(words["en"]) and asked <= set(words["zh-CN"])
    assert words["zh-CN"]["seqcompare.app.tabs.train"] == "训练" and demo.i18n_instance is locale.WORDS


def json_of(config) -> str:
    import json
    return json.dumps(config, default=str).replace('\\"', '"')


def test_the_views_are_shown_once_the_redraw_has_answered_or_failed():
    """The script that shows the views redrawn in the page's language follows the redraw when it succeeds and when
    it fails (Gradio's .then follows a success only), so that no failure leaves them unseen."""
    import gradio as gr
    from seqcompare.ui import locale

    with gr.Blocks() as demo:
        locale.wire(demo, locale.switch(), [])
    deps = demo.config["dependencies"]
    rebuild = next(d for d in deps if d.get("js") == locale.START)
    shown = [d for d in deps if d.get("js") == locale.SHOWN]
    assert {(d["trigger_after"], d["trigger_only_on_success"], d["trigger_only_on_failure"]) for d in shown} == \
        {(rebuild["id"], True, False), (rebuild["id"], False, True)}


def test_the_page_starts_in_the_chosen_language_before_gradio_does():
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient
    from seqcompare.ui import locale

    page = Starlette(routes=[Route("/", lambda r: HTMLResponse("<html><head><title>x</title></head></html>")),
                             Route("/config", lambda r: JSONResponse({"head": "<head>"}))])
    client = TestClient(locale.EarlyLanguage(page))
    html = client.get("/")
    assert html.text.startswith("<html><head><script>") and "seqcompare-lang" in html.text
    assert int(html.headers["content-length"]) == len(html.content)
    assert client.get("/config").json() == {"head": "<head>"}                  # anything else untouched


def test_the_train_tab_answers_in_chinese(digit_bank):
    import importlib
    import numpy as np
    train_tab = importlib.import_module("seqcompare.ui.train_tab")
    message, *_ = list(train_tab.run("digits", ["rnn"], 0, 1, 0, 0.005, 1, 30, "", 600, 0, None, Browser("zh-CN")))[-1]
    assert "隐藏层大小 至少为 1" in message
    drawing = np.zeros((28, 28), np.uint8)
    assert "请先训练数字模型" in train_tab.try_digit(None, drawing, digit_bank, "zh-CN")
    assert "train digit models first" in train_tab.try_digit(None, drawing, digit_bank)
    assert "没有正在进行的训练" in train_tab.stopped(Browser(accept="zh-CN"))


def test_notices_on_one_line_are_separated_as_the_page_language_separates_clauses(review_bank):
    """A review too long in characters and in tokens gets two notices; a Chinese page joins them with "；"."""
    from seqcompare.ui.reviews_tab import review_view

    long_review = "great " * 30_000
    zh, en = (review_view(review_bank, long_review, Browser(lang))[0] for lang in ("zh-CN", "en"))
    assert "；" in zh and "; " not in zh and "只读取前 20,000 个" in zh
    assert "; " in en and "；" not in en


def test_the_words_gradio_and_plotly_write_are_matched_as_they_write_them():
    """page_words_script matches Gradio's and Plotly's own English: every fixed label is written somewhere in
    Gradio's front end (Plotly's toolbar included), and each pattern's named parts are the fields its words fill
    in both languages, so that an upgrade that rewords one fails here instead of leaving it in English."""
    import gradio

    from seqcompare.ui.common import LABEL_PATTERNS, PAGE_LABELS, PAGE_TEXTS

    assets = Path(gradio.__file__).parent / "templates" / "frontend" / "assets"
    bundle = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in assets.glob("*.js"))
    assert [english for english in PAGE_LABELS.values() if english not in bundle] == []
    for key, pattern in {**PAGE_TEXTS, **LABEL_PATTERNS}.items():
        groups = set(re.findall(r"\(\?<(\w+)>", pattern))
        for lang in i18n.LANGUAGES:
            assert i18n.fields(i18n.t(key, lang)) == groups, (key, lang)
    assert all(words in bundle for words in ("processing |", "queue: ", "range slider for", "number input for"))


def test_figure_hover_texts_speak_chinese(text_bank):
    """The values shown on hover, where a keyboard cannot go: the study's effects and the gates' heatmaps."""
    import json

    from seqcompare import plots
    from seqcompare.ui.gates_view import gates_figure

    study = json.loads((Path(__file__).resolve().parent.parent / "checkpoints/mnist/study.json").read_text())
    figures = [plots.study_effects(study, "zh-CN"), gates_figure(text_bank, "hotel", "房间很干净", lang="zh-CN")[0]]
    hovers = {trace.hovertemplate for fig in figures for trace in fig.data if trace.hovertemplate}
    assert hovers and any("单元" in h for h in hovers) and any("训练损失" in h for h in hovers)
    words = {w for h in hovers for w in re.findall(r"[A-Za-z]{2,}", re.sub(r"%\{[^}]*\}|<extra>.*?</extra>", "", h))}
    assert words <= {"RNN", "LSTM", "GRU", "dropout"}, words         # 丢弃率 (dropout) names the term


def test_lists_in_a_chinese_sentence_take_the_enumeration_comma():
    """"RNN 29（未训练 8）、LSTM 50", not an English comma inside a Chinese sentence (the memory summary, the
    study's baseline, the text models' paragraph, the short reviews' scores); English keeps ", "."""
    import json

    from seqcompare.textgen.summary import summary
    from seqcompare.ui.memory_views import memory_summary
    from seqcompare.ui.reviews_tab import short_line
    from seqcompare.ui.train_tab import study_caption

    root = Path(__file__).resolve().parent.parent / "checkpoints"
    memory, study = (json.loads((root / name).read_text()) for name in ("hotel/memory.json", "mnist/study.json"))
    text_models = {m: json.loads((root / "hotel" / f"{m}.json").read_text())
                   for m in ("rnn", "lstm", "gru", "transformer")}
    bench = json.loads((root / "bench.json").read_text())
    chinese = {"memory": memory_summary(memory, "zh-CN"), "study": study_caption(study, "mnist", "zh-CN"),
               "text models": summary(text_models, bench, "zh-CN"),
               "short reviews": short_line({"rnn": 0.5, "lstm": 0.75, "gru": 0.8}, "zh-CN")}
    for name, text in chinese.items():
        assert "、" in text and ", " not in text, (name, text)
    assert re.search(r"RNN \d+ 毫秒", chinese["text models"]) and " ms" not in chinese["text models"]
    english = (memory_summary(memory, "en"), summary(text_models, bench, "en"),
               short_line({"rnn": 0.5, "gru": 0.8}, "en"))
    for text in english:
        assert ", " in text and "、" not in text


def test_every_serving_plan_is_named_in_every_language():
    """The Generate tab names the plan each model is served at: every plan `auto` can choose has its words."""
    from seqcompare import precision

    for lang in i18n.LANGUAGES:
        assert all(i18n.t(f"precision.plans.{plan}", lang) for plan in precision.PLANS), lang
