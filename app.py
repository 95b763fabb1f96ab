"""seqcompare dashboard: `python app.py [--device auto|cpu|cuda|mps] [--precision auto|fp32|bf16|int8]` (or a
Hugging Face Space, where $SEQCOMPARE_DEVICE and $SEQCOMPARE_PRECISION choose) serves it.

Serving (see the README): every request runs on one torch thread, and the queue runs up to
CONCURRENCY requests at a time, so a 3 ms digit never waits behind a 70 ms generation while the two
cores stay busy; at most QUEUE_SIZE requests wait, beyond that a user is told the app is busy. Uploads
larger than MAX_FILE_SIZE are refused before they reach the cache, and cached uploads are deleted after
an hour (ui.DELETE_CACHE), so visitors cannot fill a Space's disk.
"""

import os
import sys

import torch

from seqcompare import UserError, devices, precision
from seqcompare.cli import Parser
from seqcompare.ui import build
from seqcompare.ui.common import CACHE_MB

CONCURRENCY = 8
QUEUE_SIZE = 200
MAX_FILE_SIZE = f"{CACHE_MB}mb"       # a 300 MB upload is refused, not cached; the tabs read up to UPLOAD_MB

parser = Parser(prog="python app.py", description="the seqcompare dashboard", allow_abbrev=False)
parser.add_argument("--device", default=os.environ.get(devices.ENV_VAR, "cpu"),
                    help="cpu (the default: one request is a few ms of small operations), auto, cuda or mps")
precision.add_argument(parser)
try:                       # imported (by tests, `gradio app.py`), the command line is not ours to read
    args = parser.parse_known_args(None if __name__ == "__main__" else [])[0]
    device, serving = devices.resolve(args.device), precision.resolve(args.precision)
except UserError as exc:
    print(f"seqcompare: error: {exc}", file=sys.stderr)
    sys.exit(2)

torch.set_num_threads(1)   # one intra-op thread per request: requests run side by side on the workers
# Gradio's queue rebuilds a pandas table of every recorded event (up to 10,000) after each event to refresh
# its per-endpoint statistics: 10-19 ms of CPU per request here, more as the server ages. Refreshed every
# 1,000 events (the queue reads this when it is made), the statistics stay and the cost leaves the requests.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
demo = build(device=device, precision=serving).queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)

if __name__ == "__main__":
    demo.launch(max_file_size=MAX_FILE_SIZE)
