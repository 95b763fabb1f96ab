"""seqcompare dashboard: `python app.py` (or a Hugging Face Space) serves it.

Serving (see the README): every request runs on one torch thread, and the queue runs up to
CONCURRENCY requests at a time, so a 3 ms digit never waits behind a 70 ms generation while the two
cores stay busy; at most QUEUE_SIZE requests wait, beyond that a user is told the app is busy.
"""

import torch

from seqcompare.ui import build

CONCURRENCY = 8
QUEUE_SIZE = 200

torch.set_num_threads(1)   # one intra-op thread per request: requests run side by side on the workers
demo = build().queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)

if __name__ == "__main__":
    demo.launch()
