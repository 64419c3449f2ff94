"""Scoring: the mean of the aspect ratings, and the other score sources."""

from __future__ import annotations

import pyarrow as pa
import pytest
from ufrows import completion, row, write_parquet

from notus_data.errors import OptionError
from notus_data.io import load_ultrafeedback
from notus_data.steps.score import ScoreOptions, score_table


def scored(tmp_path, comps, **options):
    path = write_parquet(tmp_path / "s.parquet", [row("q", comps)])
    table = pa.concat_tables(load_ultrafeedback(path).iter_batches())
    out = score_table(table, ScoreOptions(**options))
    return out.column("score").to_pylist()[0], out.column("avg_rating").to_pylist()[0]


def test_mean_skips_na_and_is_not_rounded(tmp_path):
    comps = [
        completion(ratings=("5", "N/A", "3", "3")),
        completion(ratings=("4", "4", "3", "4")),
        completion(ratings=("N/A", "N/A", "N/A", "N/A")),
    ]
    score, avg = scored(tmp_path, comps)
    assert score[0] == pytest.approx(11 / 3) and score[0] != 3.67
    assert score[1] == 3.75
    assert score[2] is None  # no usable rating: no score
    assert avg == score


def test_aspect_subset_and_weights(tmp_path):
    comps = [completion(ratings=("5", "1", "3", "2"))]
    assert scored(tmp_path, comps, aspects=("honesty", "helpfulness"))[0] == [1.5]
    weighted, avg = scored(tmp_path, comps, aspects="instruction_following,helpfulness", weights="3,1")
    assert weighted == [(5 * 3 + 2) / 4]
    assert avg == [2.75]  # avg_rating stays the plain mean of all four


def test_other_score_sources(tmp_path):
    comps = [completion(overall=8.5, fine=4.25), completion(overall=None, fine=None)]
    assert scored(tmp_path, comps, score="overall-score")[0] == [8.5, None]
    assert scored(tmp_path, comps, score="fine-grained-score")[0] == [4.25, None]


def test_null_response_has_no_score(tmp_path):
    score, _ = scored(tmp_path, [completion(response=None), completion()])
    assert score == [None, 4.0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"score": "stars"}, "score: 'stars' is not a score source"),
        ({"aspects": ("honesty", "style")}, "aspects: ['style'] not usable"),
        ({"weights": (1.0,)}, "weights: 1 weight(s) for 4 aspect(s)"),
        ({"weights": (0, 0, 0, 0)}, "positive sum"),
    ],
)
def test_bad_options_name_the_option(options, message):
    with pytest.raises(OptionError) as err:
        ScoreOptions(**options)
    assert message in str(err.value)
