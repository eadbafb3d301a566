"""Write one benchmark's results into its own section of docs/benchmarks.md."""

import os
import platform
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfprune.io import write_text  # noqa: E402

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "benchmarks.md")
HEADER = (
    "# Benchmarks\n\n"
    "Every figure here is written by a script in `benchmarks/`; each section names the command that\n"
    "made it. Speed and size are reported as ratios against a peer measured in the same run.\n"
)


def machine():
    import os as _os

    return f"{platform.processor() or platform.machine()}, {_os.cpu_count()} cores, Python {platform.python_version()}"


def update_section(name, body):
    """Replace (or append) the section ``name`` of docs/benchmarks.md with ``body``."""
    text = open(DOC, encoding="utf-8").read() if os.path.exists(DOC) else HEADER
    block = f"<!-- begin {name} -->\n{body.rstrip()}\n<!-- end {name} -->"
    pattern = re.compile(rf"<!-- begin {re.escape(name)} -->.*?<!-- end {re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    write_text(DOC, text)


def verdict(value, goal, margin, digits=3):
    """"met" or "**not met**" for a ratio ``value`` against ``goal`` (at most), and "not conclusive"
    when it is within ``margin`` (the noise an A/A control measured in the same run) of the goal."""
    met = "met" if value <= goal else "**not met**"
    if abs(value - goal) <= margin:
        return f"{met} ({value:.{digits}f}x), but within this run's noise of {margin:.{digits}f}: not conclusive"
    return f"{met} ({value:.{digits}f}x)"
