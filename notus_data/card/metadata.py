"""The card's YAML metadata, built with huggingface_hub's ``DatasetCardData`` (and ``datasets`` for
``dataset_info``, so that ``datasets.load_dataset(folder)`` reads it back)."""

from __future__ import annotations

from typing import Any

from notus_data.card.context import SIZE_CATEGORIES, CardContext


def size_category(rows: int) -> str:
    for limit, name in SIZE_CATEGORIES:
        if rows < limit:
            return name
    return "1M<n<10M"


def card_data(ctx: CardContext) -> Any:
    """The card's YAML metadata as a :class:`huggingface_hub.DatasetCardData`."""
    import datasets
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    card = ctx.recipe.card
    total = sum(s.rows for s in ctx.splits.values())
    data = DatasetCardData(
        license=card.license,
        language=list(card.language) or None,
        task_categories=list(card.task_categories) or None,
        tags=list(card.tags) or None,
        pretty_name=card.pretty_name or ctx.recipe.name,
        size_categories=[size_category(total)],
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": name, "path": f"data/{name}-*"} for name in ctx.splits],
            }
        ]
        if ctx.splits
        else None,
    )
    split_dict = datasets.SplitDict()
    for name, split in ctx.splits.items():
        split_dict.add(datasets.SplitInfo(name=name, num_bytes=split.nbytes, num_examples=split.rows))
    info = datasets.DatasetInfo(
        features=datasets.Features.from_arrow_schema(ctx.schema),
        splits=split_dict,
        download_size=sum(s.file_bytes for s in ctx.splits.values()),
        dataset_size=sum(s.nbytes for s in ctx.splits.values()),
    )
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    return data


# ---------------------------------------------------------------------------------------------------- prose
