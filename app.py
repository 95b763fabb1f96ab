"""seqcompare dashboard: `python app.py` (or a Hugging Face Space) serves it."""

from seqcompare.ui import build

demo = build()

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=4).launch()
