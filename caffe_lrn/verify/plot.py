"""``--plot``: per-channel max ULP of each verified layer, as a PNG.

Needs the optional ``plot`` extra (matplotlib); without it :class:`MissingDependencyError`.
The file is written atomically and never over an existing file unless ``force``.
"""
import math

import numpy as np

from caffe_lrn.errors import BlobError
from caffe_lrn.io.files import check_output_path, write_atomic
from caffe_lrn.optional import require


def require_matplotlib():
    """matplotlib, or MissingDependencyError with the install line (checked before the work)."""
    return require("matplotlib", "plot", name="matplotlib (for --plot)")


def _pyplot():
    matplotlib = require_matplotlib()
    matplotlib.use("Agg", force=True)  # files only: no display needed
    return require("matplotlib.pyplot", "plot", name="matplotlib (for --plot)")


def channel_series(reports):
    """``(label, per-channel max ULP)`` for every layer that was compared."""
    series = []
    for report in reports:
        prefix = f"{report.title or report.net_name}: " if len(reports) > 1 else ""
        for check in report.checks:
            if check.comparison is not None:
                series.append((f"{prefix}{check.layer} ({check.bottom} -> {check.top})",
                               check.comparison.channel_max_ulp))
    return series


def plot_channel_ulps(reports, path, force=False):
    """Draw one panel per layer: max float32 ULP distance in each channel."""
    # The nets and references the reports were made from are never overwritten.
    inputs = [getattr(report, name, None) for report in reports for name in ("net", "blobs")]
    check_output_path(path, force, inputs)
    plt = _pyplot()
    series = channel_series(reports)
    if not series:
        raise BlobError("nothing to plot: no layer could be compared")
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 1.9 * len(series) + 0.6),
                             squeeze=False)
    for ax, (label, values) in zip(axes[:, 0], series):
        values = np.asarray(values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        cap = (finite.max() if finite.size else 0.0) + 1.0
        shown = np.where(np.isfinite(values), values, cap)
        channels = np.arange(values.size)
        ax.bar(channels, shown, width=1.0, color="#3b6ea8")
        if not np.isfinite(values).all():
            bad = ~np.isfinite(values)
            ax.bar(channels[bad], shown[bad], width=1.0, color="#c0392b",
                   label="NaN/inf mismatch")
            ax.legend(loc="upper right", fontsize=7)
        top = values.max()
        ax.set_title(f"{label}: max {'inf' if not math.isfinite(top) else f'{top:g}'} ULP",
                     fontsize=9, loc="left")
        ax.set_ylabel("max ULP", fontsize=8)
        ax.set_xlim(-0.5, values.size - 0.5)
        ax.set_ylim(0, max(1.0, shown.max() * 1.1))
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("channel", fontsize=8)
    fig.tight_layout()
    try:
        write_atomic(path, lambda handle: fig.savefig(handle, format="png", dpi=110),
                     force=force, inputs=inputs)
    finally:
        plt.close(fig)
    return path
