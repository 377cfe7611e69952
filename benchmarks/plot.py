"""Learning curves for docs/BENCHMARKS.md and README pictures (matplotlib, the optional ``bench`` extra).

``pip install 'i2icli[bench]'`` (``make bench`` does it).  Each benchmark passes
series of ``(x, values over seeds)`` and gets one PNG: the mean as a line and
the seeds' min-max range as a band, one panel per metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

Series = Mapping[str, Sequence[tuple[float, Sequence[float]]]]  # name -> [(x, [value per seed]), ...]


def mean_range(rows: Sequence[Mapping[str, float]], key: str, fmt: str) -> str:
    """A table cell over seeds: ``mean [min, max]`` of ``key`` in ``rows`` ("-" when no row has it)."""
    vals = [r[key] for r in rows if key in r]
    if not vals:
        return "-"
    return f"{sum(vals) / len(vals):{fmt}} [{min(vals):{fmt}}, {max(vals):{fmt}}]"


def plot_curves(path: Path, panels: Mapping[str, Series], title: str, xlabel: str = "iteration") -> Path:
    """One row of panels (metric name -> series); returns ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - the bench extra is missing
        raise SystemExit("plots need matplotlib: pip install 'i2icli[bench]'") from exc
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.3), squeeze=False)
    for ax, (metric, series) in zip(axes[0], panels.items(), strict=True):
        for name, points in series.items():
            if not points:
                continue
            xs = [p[0] for p in points]
            mean = [sum(p[1]) / len(p[1]) for p in points]
            lo = [min(p[1]) for p in points]
            hi = [max(p[1]) for p in points]
            (line,) = ax.plot(xs, mean, label=name, linewidth=1.6)
            if any(len(p[1]) > 1 for p in points):
                ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.18, linewidth=0)
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
