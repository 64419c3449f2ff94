"""The dataset card (README.md) of a Hub-ready output folder, generated from the run.

:func:`card_data` builds the YAML metadata with huggingface_hub's :class:`~huggingface_hub.DatasetCardData`
(license, language, task categories, tags, size category, ``configs`` with the ``data_files`` of every split, and
``dataset_info`` with the features and row counts, written by ``datasets`` itself so that
``datasets.load_dataset(folder)`` reads them back). :func:`render_card` adds the prose: the input and its revision,
the recipe, the funnel (rows in, removed at each step and why, pairs out), the score plots, the notus-vs-zephyr
"chosen differs" rate, and the decontamination and flag evidence.

The card holds counts only: no timings and no dates, so the same run writes the same card; no secret ever
reaches it (the run has none to give).
"""

from __future__ import annotations

import os
from pathlib import Path

from notus_data.card.context import ULTRAFEEDBACK_CITATION, CardContext, SplitFiles
from notus_data.card.evidence import decontamination_section, flags_section
from notus_data.card.length import length_section
from notus_data.card.metadata import card_data, size_category
from notus_data.card.sections import (
    comparison_section,
    funnel_lines,
    funnel_section,
    input_note,
    recipe_section,
    schema_name,
    scores_section,
    source_section,
    structure_section,
)

__all__ = [
    "CardContext",
    "SplitFiles",
    "card_data",
    "funnel_lines",
    "render_card",
    "size_category",
    "write_card",
]


def render_card(ctx: CardContext) -> str:
    """The whole README.md: YAML metadata, then the prose sections."""
    data = card_data(ctx)
    title = ctx.recipe.card.pretty_name or ctx.recipe.name
    intro = ctx.recipe.description.strip() or "Preference pairs made from UltraFeedback-shaped data."
    sections = [
        f"# {title}",
        input_note(ctx),
        intro,
        structure_section(ctx),
        source_section(ctx),
        recipe_section(ctx),
        funnel_section(ctx),
        scores_section(ctx),
        length_section(ctx),
        comparison_section(ctx),
        decontamination_section(ctx),
        flags_section(ctx),
        license_section(ctx),
    ]
    body = "\n\n".join(s for s in sections if s)
    return f"---\n{data.to_yaml()}\n---\n\n{body}\n"


def license_section(ctx: CardContext) -> str:
    head = (
        "## License and citation\n\n"
        f"Released under `{ctx.recipe.card.license}`; the source data's license applies to its text. "
    )
    if ctx.source.get("source_format"):
        return (
            head + f"Please cite and credit the source data set ({schema_name(ctx.source)}) as its card asks."
        )
    return head + f"UltraFeedback:\n\n```bibtex\n{ULTRAFEEDBACK_CITATION}\n```"


def write_card(folder: str | os.PathLike, ctx: CardContext) -> Path:
    """Write ``README.md`` into ``folder``; returns its path."""
    path = Path(folder) / "README.md"
    path.write_text(render_card(ctx), encoding="utf-8")
    return path
