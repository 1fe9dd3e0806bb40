"""`python -m media.fastpath`: compile the RTP data plane now (make's set-up does)."""

import sys

from media.fastpath import build

sys.stdout.write(f"{build()}\n")
