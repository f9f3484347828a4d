#!/usr/bin/env python3
"""Run the benchmark from a source checkout: ``python tools/bench.py [caffe-lrn bench options]``."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from caffe_lrn.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench"] + sys.argv[1:]))
