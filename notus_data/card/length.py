"""The card's length section: is the chosen response simply the longer one? (:mod:`notus_data.length`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from notus_data.card.context import CardContext, table, thousands

PLOT = "length.png"


def length_summary(ctx: CardContext) -> dict[str, Any] | None:
    return ctx.report.get("steps", {}).get("binarize", {}).get("length")


def _fmt(value: Any, digits: int = 0) -> str:
    """A number with thousands separators; a median halfway between two lengths keeps its .5."""
    if value is None:
        return "-"
    if digits == 0 and float(value) % 1 == 0.5:
        digits = 1
    return f"{value:,.{digits}f}"


def length_section(ctx: CardContext) -> str:
    length = length_summary(ctx)
    if not length or not length.get("pairs"):
        return ""
    unit = length["unit"]
    share = length["chosen_longer_share"]
    lines = [
        "## Length of chosen and rejected responses",
        "",
        f"A common bias of preference data is that the chosen response is simply the longer one. Here the chosen "
        f"response is the longer in **{thousands(length['chosen_longer'])} of {thousands(length['pairs'])} pairs "
        f"({share:.1%})** ({thousands(length['equal'])} of equal length). Mean length ({unit}): chosen "
        f"{_fmt(length['chosen_mean'])}, rejected {_fmt(length['rejected_mean'])}; median: chosen "
        f"{_fmt(length['chosen_median'])}, rejected {_fmt(length['rejected_median'])}. Paired Cohen's d of the "
        f"difference (chosen - rejected): **{_fmt(length['cohens_d'], 2)}** (0.2 is small, 0.5 medium, 0.8 large).",
        "",
    ]
    rows = [
        [
            name,
            thousands(s["pairs"]),
            "-" if s["chosen_longer_share"] is None else f"{s['chosen_longer_share']:.1%}",
            _fmt(s["chosen_mean"]),
            _fmt(s["rejected_mean"]),
            _fmt(s["chosen_median"]),
            _fmt(s["rejected_median"]),
            _fmt(s["cohens_d"], 2),
        ]
        for name, s in length["by_source"].items()
    ]
    header = ["source", "pairs", "chosen longer", "mean chosen", "mean rejected", "median chosen",
              "median rejected", "Cohen's d"]  # fmt: skip
    lines.append(table(header, rows))
    if ctx.length_plot:
        lines += ["", f"![Length of chosen and rejected responses]({ctx.length_plot})"]
    return "\n".join(lines)


def length_figure(hist: dict[str, Any]) -> Any:
    """Chosen and rejected lengths of the pairs (log-spaced bins, overlaid): a :meth:`LengthStats.histogram`."""
    from notus_data.plots import CHOSEN_COLOR, REJECTED_COLOR, _figure

    fig, (ax,) = _figure(6.5, 3.2)
    edges = np.asarray(hist["edges"], dtype=float)
    for side, color in (("rejected", REJECTED_COLOR), ("chosen", CHOSEN_COLOR)):
        ax.stairs(np.asarray(hist[side], dtype=float), edges, color=color, label=side, linewidth=1.5)
    ax.set_xscale("log")
    ax.set(title=f"Length of the responses ({hist['unit']})", xlabel=hist["unit"], ylabel="pairs")
    ax.legend(frameon=False)
    return fig


def write_length_plot(folder: Path, ctx: CardContext) -> str | None:
    """Draw the length plot into ``folder``; its path relative to the output folder (None with no pairs)."""
    from notus_data.plots import save_png

    length = length_summary(ctx)
    if not length or not length.get("pairs") or not ctx.length_histogram:
        return None
    save_png(length_figure(ctx.length_histogram), folder / PLOT)
    return f"{folder.name}/{PLOT}"
