"""seqcompare dashboard: `python app.py` (or a Hugging Face Space) serves it."""

import torch

from seqcompare.ui import build

torch.set_num_threads(1)   # one intra-op thread per request: requests run side by side on Gradio's workers
demo = build()

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=4).launch()
