"""The tuned parameters of the generator: text lengths, the latent quality model, and tables derived from the
data set's facts."""

from __future__ import annotations

import numpy as np

from notus_data.synthetic.schema import _PRINCIPLE_SHARES, _SYSTEM_PROMPTS, MODELS, PRINCIPLES, SOURCES

# ----------------------------------------------------------------------------------------- tuned parameters

BLOCK_ROWS = 256
"""Rows are made in fixed blocks of this many rows, each from its own seeded generator."""
_STREAM = 20231201  # mixed into every seed; change it if the random streams ever change
_VOCAB_SIZE, _ZIPF_EXPONENT, _ZIPF_TABLE_BITS = 50_000, 0.9, 18
_SUFFIXES = (
    " ",
    ", ",
    ". ",
    ".\n\n",
    ".",
)  # after a word: plain, comma, sentence end, paragraph end, text end
_P_COMMA, _P_STOP, _P_PARA = 0.07, 0.055, 0.012
# Text lengths in characters: (median, lognormal sigma, low, high). Tuned for the medians of the real data
# (prompt about 364, response about 900) and about 9 KB a row as parquet.
_PROMPT_LENGTH = {
    "evol_instruct": (370, 0.7), "false_qa": (55, 0.35), "flan_v2_cot": (290, 0.6), "flan_v2_flan2021": (460, 0.8),
    "flan_v2_niv2": (565, 0.7), "flan_v2_p3": (525, 0.7), "sharegpt": (290, 1.1), "truthful_qa": (70, 0.3),
    "ultrachat": (230, 0.7),
}  # fmt: skip
_PROMPT_CLIP = (30, 2700)  # a prompt opener and word lengths add a little
_SHORT_ANSWERS = {"false_qa": 0.45, "truthful_qa": 0.45, "flan_v2_cot": 0.45}  # response length factor
_RESPONSE, _CRITIQUE = (960, 0.95, 1, 9000), (320, 0.55, 60, 1500)
_RATIONALE, _RATIONALE_FOR_RATING = (160, 0.5, 30, 700), (120, 0.45, 20, 400)
# Latent quality = model strength + row effect + completion effect. Each aspect rating adds its own noise and
# bias; overall_score is a separate noisy reading of the same quality (so the two disagree on the best
# completion in about half of the rows), mostly whole numbers.
_ROW_SD, _COMPLETION_SD, _ASPECT_SD = 0.35, 0.9, 0.9
_ASPECT_BIAS = np.array([-0.05, -0.1, -0.15, -0.45])
_OVERALL_SLOPE, _OVERALL_SHIFT, _OVERALL_SD, _OVERALL_HALF_STEPS = 0.8, 3.8, 1.0, 0.25

_SOURCE_NAMES = tuple(SOURCES)
_SRC = {name: i for i, name in enumerate(_SOURCE_NAMES)}
_SOURCE_CDF = np.cumsum(list(SOURCES.values())) / sum(SOURCES.values())
_MODEL_NAMES = tuple(MODELS)
_MODEL_STRENGTH = np.array(list(MODELS.values()))
_PRINCIPLE_CDF = np.cumsum([_PRINCIPLE_SHARES[s] for s in _SOURCE_NAMES], axis=1)
_SYSTEM_PROMPT_TEXTS = [p for principle in PRINCIPLES for p in _SYSTEM_PROMPTS[principle]]
_SYSTEM_PROMPT_COUNT = np.array([len(_SYSTEM_PROMPTS[p]) for p in PRINCIPLES])
_SYSTEM_PROMPT_FIRST = np.cumsum(_SYSTEM_PROMPT_COUNT) - _SYSTEM_PROMPT_COUNT
_PROMPT_MEDIAN = np.array([_PROMPT_LENGTH[s][0] for s in _SOURCE_NAMES], dtype=np.float64)
_PROMPT_SIGMA = np.array([_PROMPT_LENGTH[s][1] for s in _SOURCE_NAMES])
_RESPONSE_FACTOR = np.array([_SHORT_ANSWERS.get(s, 1.0) for s in _SOURCE_NAMES])
