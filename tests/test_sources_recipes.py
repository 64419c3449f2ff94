"""The bundled recipes of the other sources, each on generated input in its exact schema: a Hub folder with its
card, the same bytes whatever the batch size, and every edge case of the generator counted with its reason."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from notus_data.recipes import run
from notus_data.synthetic.sources import write

RECIPES = {"helpsteer2": "helpsteer2", "nectar": "nectar", "hh-rlhf-helpful": "hh-rlhf",
           "armorm-ultrafeedback": "rm-scored"}  # fmt: skip


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_writes_a_hub_folder_with_its_card(tmp_path, recipe):
    kind = RECIPES[recipe]
    path = tmp_path / f"{kind}.parquet"
    write(kind, str(path), 260, seed=3)
    a = run(recipe, input=str(path), output=tmp_path / "a", plots=False, batch_size=37)
    b = run(recipe, input=str(path), output=tmp_path / "b", plots=False)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.parquet"))
    assert files and all(
        (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files
    )
    assert a.rows_out == b.rows_out > 200
    card = (tmp_path / "a" / "README.md").read_text()
    assert f"`{kind}`" in card and "openbmb/UltraFeedback" not in card.split("## Source data")[0]
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["rows_in"] == report["rows_with_pairs"] + sum(report["dropped"].values())
    assert report["problems"]["counts"], "the generator's edge cases are counted"
    table = pq.read_table(tmp_path / "a" / files[0])
    assert table.num_rows == a.rows_out
