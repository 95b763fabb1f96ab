"""A public Space must not be filled up by its visitors: uploads over the cache limit (20 MB) are refused before
the cache; the tabs and the API read files of up to 5 MB and say in the reader's language that a larger one is
too large."""

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import app as app_module


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


@pytest.fixture
def oversized(tmp_path):
    path = tmp_path / "huge.png"
    with open(path, "wb") as f:                     # 21 MB: over the 20 MB cache limit, no image at all
        f.write(os.urandom(21 * 1024 * 1024))
    return path


@pytest.fixture
def large(tmp_path):
    path = tmp_path / "photo.png"
    with open(path, "wb") as f:                     # 8 MB: cached, but over the 5 MB the tabs read
        f.write(os.urandom(8 * 1024 * 1024))
    return path


def test_the_app_launches_with_limits():
    from seqcompare import ui

    assert app_module.MAX_FILE_SIZE == "20mb"
    assert app_module.demo.delete_cache == ui.DELETE_CACHE


def test_a_file_over_the_read_limit_is_named_in_the_readers_language(large, tmp_path):
    from seqcompare import UserError
    from seqcompare.ui.common import uploaded

    small = tmp_path / "small.txt"
    small.write_text("早餐不错", encoding="utf-8")
    drawing = {"composite": None, "layers": []}
    assert uploaded(str(small)) == str(small) and uploaded(drawing) is drawing and uploaded("早餐") == "早餐"
    for value in (str(large), large):
        with pytest.raises(UserError) as refused:
            uploaded(value)
        assert refused.value.render("en") == "photo.png is 8.0 MB: files of up to 5 MB are read here"
        assert refused.value.render("zh-CN") == "photo.png 有 8.0 MB：这里只读取不超过 5 MB 的文件"


def test_the_queue_does_not_rebuild_its_statistics_on_every_request():
    """Gradio's queue refreshes its per-endpoint statistics (a pandas table of every recorded event) after
    each event unless told otherwise; the app has it refresh them every 1,000 events."""
    assert app_module.demo._queue.ANAYLTICS_CACHE_FREQUENCY == 1000


def test_the_client_is_told_the_file_is_too_large(app_url, oversized, large):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        client.predict(handle_file(str(oversized)), api_name="/predict_digit")
    answer = client.predict(handle_file(str(large)), api_name="/predict_digit")
    assert answer == {"error": "photo.png is 8.0 MB: files of up to 5 MB are read here"}


def test_a_raw_upload_is_refused_and_not_cached(app_url, oversized):
    cache = Path(os.environ.get("GRADIO_TEMP_DIR", "/tmp/gradio"))
    before = folder_size(cache)
    boundary = "seqcompareboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"huge.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + oversized.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(app_url + "gradio_api/upload", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    assert "maximum allowed size" in refused.value.read().decode()
    assert folder_size(cache) - before < 1024 * 1024                      # nothing of it was kept


def test_the_browser_shows_why_a_picture_is_refused(app_url, oversized, large):
    """In the UI, a picture over the read limit gets the tab's notice in the page's language (no toast); one over
    the cache limit is refused by Gradio's client before it is sent, in an error toast that the page says in
    its language (common.page_words_script), on an English and on a Chinese page."""
    from test_e2e import ARGS, CHROMIUM, english_labels

    if not CHROMIUM:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(app_url)
            page.get_by_role("tab", name="Digits", exact=True).click()
            page.get_by_role("tab", name="Upload or pick an example").click()
            page.locator("#digit-upload input[type=file]").set_input_files(str(large))
            page.locator("#digit-notice").get_by_text("photo.png is 8.0 MB: files of up to 5 MB are read here").wait_for()
            assert page.locator(".toast-body").count() == 0
            page.reload()                                  # an empty upload box again
            page.get_by_role("tab", name="Digits", exact=True).click()
            page.get_by_role("tab", name="Upload or pick an example").click()
            page.locator("#digit-upload input[type=file]").set_input_files(str(oversized))
            page.locator(".toast-body").get_by_text("huge.png: over 20 MB, so not uploaded; files of up to 5 MB are "
                                                    "read here").wait_for()
            assert page.get_by_text("exceed the maximum allowed size").count() == 0
            zh = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
            zh.set_default_timeout(30_000)
            zh.goto(app_url)
            zh.get_by_role("tab", name="手写数字", exact=True).click()
            zh.get_by_role("tab", name="上传或选择示例").click()
            named = oversized.rename(oversized.with_name('照片"$&.png'))   # a name kept as it is, " and $ too
            zh.locator("#digit-upload input[type=file]").set_input_files(str(named))
            zh.locator(".toast-body").get_by_text('照片"$&.png：超过 20 MB，没有上传；这里只读取不超过 5 MB 的文件').wait_for()
            assert zh.locator(".toast-body .toast-title").inner_text().strip() == "错误"
            assert english_labels(zh) == set()                 # the toast's close button too
        finally:
            browser.close()


def test_the_train_tab_names_a_text_file_over_the_read_limit(large):
    from seqcompare.ui.train_tab import load_text

    text, message = load_text(str(large))
    assert message == "⚠️ **photo.png is 8.0 MB: files of up to 5 MB are read here**"


def test_a_typed_text_that_names_a_large_file_is_read_as_text(text_bank, large):
    """Only uploads are checked against the read limit: a text typed into the gates box is a text, even when
    it happens to be the path of a large file on the server (whose size it must not reveal)."""
    from seqcompare.ui.gates_view import gates_figure

    fig, message = gates_figure(text_bank, "hotel", str(large))
    assert fig is not None and "MB" not in message
