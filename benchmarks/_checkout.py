"""This checkout first on ``sys.path``: a benchmark measures the code beside it, not another
installed copy of tfprune. Import it before anything that imports tfprune."""

import os
import sys

#: The checkout's root folder (the one holding ``tfprune/``).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.path[0] != ROOT:
    sys.path.insert(0, ROOT)
