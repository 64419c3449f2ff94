"""Plots of a run's scores and funnel (matplotlib, Agg backend), for the dataset card and the notebook.

matplotlib is imported inside the functions (``pip install 'notus-data[notebook]'``), and only through its
object API with the Agg canvas: no pyplot, no global backend switch, so a notebook's own backend is left alone.
Each function takes the run's counts and returns a :class:`matplotlib.figure.Figure`; :func:`save_png` writes one
with no timestamp or version in the file, so the same counts give the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from notus_data.errors import require

CHOSEN_COLOR = "#2a9d8f"
REJECTED_COLOR = "#e76f51"
NEUTRAL_COLOR = "#457b9d"


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Any, list[Any]]:
    require("matplotlib", "notebook")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _bars(ax: Any, hist: dict[str, Any], color: str, label: str | None = None, alpha: float = 1.0) -> None:
    edges = np.asarray(hist["edges"], dtype=float)
    counts = np.asarray(hist["counts"], dtype=float)
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=color, alpha=alpha, label=label,
           edgecolor="white", linewidth=0.5)  # fmt: skip


def completion_scores(scores: dict[str, Any]) -> Any:
    """Two histograms of the completions that reached the binarizer: mean aspect rating and overall_score.

    ``scores`` is :meth:`notus_data.stats.ScoreStats.to_dict`.
    """
    fig, (left, right) = _figure(9, 3.2, ncols=2)
    completions = scores["completions"]
    _bars(left, completions["avg_rating"], NEUTRAL_COLOR)
    left.set(title="Mean aspect rating (1-5)", xlabel="mean rating", ylabel="completions")
    _bars(right, completions["overall_score"], NEUTRAL_COLOR)
    right.set(title="Critique overall_score (1-10)", xlabel="overall_score", ylabel="completions")
    return fig


def pair_scores(scores: dict[str, Any]) -> Any:
    """Chosen and rejected scores of the pairs (overlaid), and the margin chosen - rejected."""
    fig, (left, right) = _figure(9, 3.2, ncols=2)
    pairs = scores["pairs"]
    label = scores["pair_score_source"]
    _bars(left, pairs["rejected"], REJECTED_COLOR, "rejected", alpha=0.75)
    _bars(left, pairs["chosen"], CHOSEN_COLOR, "chosen", alpha=0.75)
    left.set(title=f"Pair scores ({label})", xlabel=label, ylabel="pairs")
    left.legend(frameon=False)
    _bars(right, pairs["margin"], NEUTRAL_COLOR)
    right.set(title="Margin (chosen - rejected)", xlabel="margin", ylabel="pairs")
    return fig


def agreement(scores: dict[str, Any]) -> Any:
    """Completions by overall_score (rows, rounded) and mean rating (columns, nearest 0.5): where they disagree."""
    fig, (ax,) = _figure(5.5, 4.2)
    grid = np.asarray(scores["completions"]["agreement"], dtype=float)
    shown = np.log1p(grid)
    image = ax.imshow(shown, origin="lower", aspect="auto", cmap="viridis",
                      extent=(0.75, 5.25, 0.5, 10.5))  # fmt: skip
    ax.set(title="overall_score vs mean rating", xlabel="mean rating", ylabel="overall_score (rounded)")
    ax.plot([1, 5], [1, 10], color="white", linewidth=1, linestyle="--")  # where the two scales agree
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("completions (log scale)")
    # Ticks at round counts inside the data's range (ticks beyond it would stretch the bar past the data).
    top = int(grid.max()) if grid.size else 0
    counts = [
        c
        for c in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000)
        if c <= top
    ]
    if top not in counts:
        counts.append(top)
    bar.set_ticks(np.log1p(counts), labels=[f"{c:,}" for c in counts])
    return fig


def funnel(steps: list[tuple[str, int]]) -> Any:
    """A horizontal bar per funnel line (label, rows), top to bottom in run order."""
    height = 0.9 + 0.32 * max(len(steps), 1)
    fig, (ax,) = _figure(8, height)
    labels = [label for label, _ in steps]
    values = [value for _, value in steps]
    positions = np.arange(len(steps))[::-1]
    ax.barh(positions, values, color=NEUTRAL_COLOR)
    ax.set_yticks(positions, labels=labels)
    ax.set(xlabel="rows", title="Funnel")
    top = max(values) if values else 1
    for y, value in zip(positions, values, strict=True):
        ax.text(value + top * 0.01, y, f"{value:,}", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15 if top else 1)
    return fig


def save_png(fig: Any, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG with no software/version metadata (same figure, same bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    return path
