"""A public Space must not be filled up by its visitors: oversized uploads are refused before the cache."""

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
    with open(path, "wb") as f:                     # 8 MB: over the 5 MB limit, no image at all
        f.write(os.urandom(8 * 1024 * 1024))
    return path


def test_the_app_launches_with_limits():
    from seqcompare import ui

    assert app_module.MAX_FILE_SIZE == "5mb"
    assert app_module.demo.delete_cache == ui.DELETE_CACHE


def test_the_queue_does_not_rebuild_its_statistics_on_every_request():
    """Gradio's queue refreshes its per-endpoint statistics (a pandas table of every recorded event) after
    each event unless told otherwise; the app has it refresh them every 1,000 events."""
    assert app_module.demo._queue.ANAYLTICS_CACHE_FREQUENCY == 1000


def test_the_client_is_told_the_file_is_too_large(app_url, oversized):
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False)
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        client.predict(handle_file(str(oversized)), api_name="/predict_digit")


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


def test_the_browser_shows_why_a_picture_is_refused(app_url, oversized):
    """In the UI, Gradio refuses the file before sending it and says so in an error toast."""
    from test_e2e import ARGS, CHROMIUM

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
            page.locator("#digit-upload input[type=file]").set_input_files(str(oversized))
            page.get_by_text("exceed the maximum allowed size of 5.0 Mb").first.wait_for()
        finally:
            browser.close()
