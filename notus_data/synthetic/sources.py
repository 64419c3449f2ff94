"""Synthetic inputs in the exact schemas of the other preference sets (:mod:`notus_data.sources`), with readable
text and every edge case, for tests, benchmarks and the bundled recipes' demos.

Kinds (:data:`KINDS`): ``helpsteer2`` (one row per response, 2-4 responses a prompt, five ratings 0-4),
``helpsteer2-preference``, ``nectar`` (7 ranked answers, one- and multi-turn prompts), ``hh-rlhf`` (chosen and
rejected transcripts) and ``rm-scored`` (``all_generated_responses`` / ``all_rm_scores``). A better-rated response
reads better (a full answer, a thin one, an off-topic one, a refusal). Every :data:`EDGE_EVERY`-th prompt (from
prompt 3 on) is an edge case, cycling through the kind's list in :data:`EDGE_CASES` (ties, single responses, bad
ratings, unparsable turns, answers with turn markers, identical pairs, empty turns, ...).

Deterministic: prompt ``i`` depends only on ``(seed, i)``; tables come in blocks of :data:`BLOCK` prompts.

>>> rows = generate("nectar", 3, seed=1)[0].to_pylist()
>>> rows[0]["prompt"].startswith("\\n\\nHuman: "), len(rows[0]["answers"])
(True, 7)
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

KINDS = ("helpsteer2", "helpsteer2-preference", "nectar", "hh-rlhf", "rm-scored")
BLOCK = 4096
EDGE_EVERY = 25
EDGE_CASES = {
    "helpsteer2": ("tie", "single_response", "bad_rating", "null_response", "repeated_prompt"),
    "helpsteer2-preference": ("tie", "bad_strength", "null_response"),
    "nectar": (
        "unparsable_prompt",
        "answer_with_turns",
        "rank_tie",
        "bad_rank",
        "single_answer",
        "multi_turn",
    ),
    "hh-rlhf": ("identical", "empty_chosen", "unparsable", "early_divergence", "multi_turn"),
    "rm-scored": ("lengths_differ", "null_score", "score_tie", "single_response"),
}
TOPICS = (
    "photosynthesis", "the water cycle", "compound interest", "the French Revolution", "binary search",
    "plate tectonics", "vaccines", "the stock market", "black holes", "recursion", "climate change", "inflation",
    "the immune system", "machine learning", "the Roman Empire", "electric cars", "sleep", "coffee brewing",
    "the Pythagorean theorem", "bread baking", "jazz music", "public speaking", "time management", "volcanoes",
    "the printing press", "solar panels", "bees", "chess openings", "the moon landing", "composting",
)  # fmt: skip
QUESTIONS = (
    "Explain {t} to a beginner.", "What are three key facts about {t}?", "Why does {t} matter today?",
    "Write a short paragraph about {t}.", "How would you teach {t} to a ten-year-old?",
    "What is a common misconception about {t}?",
)  # fmt: skip
FOLLOW_UPS = ("Can you give an example?", "Can you make it shorter?", "What should I read next?")


def _answer(topic: str, quality: int, rng: np.random.Generator) -> str:
    """An answer about ``topic``: quality 4 is full and accurate, 0 a refusal."""
    t = topic[0].upper() + topic[1:]
    n = int(rng.integers(1, 4))
    if quality >= 4:
        points = "; ".join(
            f"point {k + 1}: {topic} connects to {TOPICS[(k * 7 + n) % len(TOPICS)]}" for k in range(n + 1)
        )
        return f"{t} is a well-studied subject. Here is a clear overview: {points}. In short, {topic} rewards careful study."
    if quality == 3:
        return f"{t} is an interesting subject. The main idea is simple, and a good example makes it clear ({n} steps)."
    if quality == 2:
        return f"{t} is a thing that people talk about. It has some parts. There is more to say."
    if quality == 1:
        other = TOPICS[int(rng.integers(len(TOPICS)))]
        return f"Let me tell you about {other} instead: it is popular and many people like it."
    return "I'm sorry, I can't help with that."


def _prompt(i: int, rng: np.random.Generator) -> tuple[str, str]:
    topic = TOPICS[int(rng.integers(len(TOPICS)))]
    return topic, QUESTIONS[int(rng.integers(len(QUESTIONS)))].format(t=topic) + f" (#{i})"


def _edge(kind: str, i: int) -> str | None:
    if i < 3 or i % EDGE_EVERY:
        return None
    cases = EDGE_CASES[kind]
    return cases[(i // EDGE_EVERY) % len(cases)]


def _rng(seed: int, i: int) -> np.random.Generator:
    return np.random.default_rng([seed, i])


def _helpsteer2(i: int, seed: int) -> list[dict]:
    rng = _rng(seed, i)
    topic, prompt = _prompt(i, rng)
    edge = _edge("helpsteer2", i)
    if edge == "repeated_prompt":  # the same text as an earlier prompt, its rows far from that prompt's
        _, prompt = _prompt(i - EDGE_EVERY + 1, _rng(seed, i - EDGE_EVERY + 1))
    k = 1 if edge == "single_response" else int(rng.integers(2, 5))
    rows = []
    for j in range(k):
        quality = int(rng.integers(0, 5))
        if edge == "tie" and j:
            quality = rows[0]["helpfulness"]
        ratings = {a: int(np.clip(quality + rng.integers(-1, 2), 0, 4)) for a in ("correctness", "coherence")}
        if edge == "tie" and j:
            ratings = {a: rows[0][a] for a in ("correctness", "coherence")}
        rows.append({"prompt": prompt, "response": _answer(topic, quality, rng), "helpfulness": quality, **ratings,
                     "complexity": int(rng.integers(0, 5)), "verbosity": int(rng.integers(0, 5))})  # fmt: skip
    if edge == "bad_rating":
        rows[0]["correctness"] = 7
    if edge == "null_response":
        rows[-1]["response"] = None
    return rows


def _preference(i: int, seed: int) -> list[dict]:
    rng = _rng(seed, i)
    topic, prompt = _prompt(i, rng)
    q1, q2 = (int(v) for v in rng.integers(0, 5, 2))
    strength = int(np.clip(q2 - q1, -3, 3))
    edge = _edge("helpsteer2-preference", i)
    r1, r2 = _answer(topic, q1, rng), _answer(topic, q2, rng)
    if edge == "tie":
        strength = 0
    elif edge == "bad_strength":
        strength = 5
    elif edge == "null_response":
        r2 = None
    return [
        {
            "split": "train",
            "prompt": prompt,
            "response_1": r1,
            "response_2": r2,
            "preference_strength": strength,
        }
    ]


def _turns(messages: list[tuple[str, str]]) -> str:
    return "".join(f"\n\n{'Human' if role == 'user' else 'Assistant'}: {text}" for role, text in messages)


def _nectar(i: int, seed: int) -> list[dict]:
    rng = _rng(seed, i)
    topic, question = _prompt(i, rng)
    edge = _edge("nectar", i)
    conv = [("user", question)]
    if edge == "multi_turn" or rng.random() < 0.2:
        conv += [("assistant", _answer(topic, 3, rng)), ("user", FOLLOW_UPS[int(rng.integers(3))])]
    prompt = _turns(conv) + "\n\nAssistant:"
    if edge == "unparsable_prompt":
        prompt = question  # no turn markers at all
    models = (
        "gpt-4",
        "gpt-3.5-turbo",
        "llama-2-7b-chat",
        "mistral-7b-instruct",
        "vicuna-13b",
        "alpaca-7b",
        "dolly",
    )
    order = rng.permutation(7)
    n = 1 if edge == "single_answer" else 7
    answers = []
    for rank in range(1, n + 1):
        answers.append({"answer": _answer(topic, max(0, 4 - (rank - 1) * 4 // 6), rng),
                        "model": models[order[rank - 1]], "rank": float(rank)})  # fmt: skip
    if edge == "answer_with_turns":
        answers[0]["answer"] += "\n\nHuman: thanks!\n\nAssistant: You're welcome."
    if edge == "rank_tie":
        answers[1]["rank"] = 1.0
    if edge == "bad_rank":
        answers[2]["rank"] = None
    return [{"prompt": prompt, "answers": answers, "turns": len(conv) // 2 + 1, "num_responses": n,
             "source": ["sharegpt" if i % 2 else "anthropic-hh"], "good_natured": True}]  # fmt: skip


def _hh(i: int, seed: int) -> list[dict]:
    rng = _rng(seed, i)
    topic, question = _prompt(i, rng)
    edge = _edge("hh-rlhf", i)
    conv = [("user", question)]
    if edge == "multi_turn" or rng.random() < 0.3:
        conv += [("assistant", _answer(topic, 3, rng)), ("user", FOLLOW_UPS[int(rng.integers(3))])]
    good, bad = _answer(topic, 4, rng), _answer(topic, int(rng.integers(0, 3)), rng)
    chosen, rejected = _turns([*conv, ("assistant", good)]), _turns([*conv, ("assistant", bad)])
    if edge == "identical":
        rejected = chosen
    elif edge == "empty_chosen":
        chosen = _turns(conv) + "\n\nAssistant: "
    elif edge == "unparsable":
        chosen, rejected = good, bad
    elif edge == "early_divergence":  # the transcripts part before the final turn
        rejected = _turns([("user", question), ("assistant", bad), ("user", "ok"), ("assistant", bad)])
        chosen = _turns([("user", question), ("assistant", good), ("user", "ok"), ("assistant", good)])
    return [{"chosen": chosen, "rejected": rejected}]


def _rm(i: int, seed: int) -> list[dict]:
    rng = _rng(seed, i)
    topic, prompt = _prompt(i, rng)
    edge = _edge("rm-scored", i)
    n = 1 if edge == "single_response" else 5
    qualities = rng.integers(0, 5, n)
    responses = [_answer(topic, int(q), rng) for q in qualities]
    scores = [round(float(q) * 0.01 + float(rng.normal(0, 0.002)), 6) for q in qualities]
    if edge == "lengths_differ":
        scores = scores[:-1]
    elif edge == "null_score":
        scores[1] = None
    elif edge == "score_tie":
        scores = [max(scores)] * n
    return [
        {
            "prompt_id": f"{i:08d}",
            "prompt": prompt,
            "all_generated_responses": responses,
            "all_rm_scores": scores,
        }
    ]


MAKERS = {"helpsteer2": _helpsteer2, "helpsteer2-preference": _preference, "nectar": _nectar, "hh-rlhf": _hh,
          "rm-scored": _rm}  # fmt: skip
SCHEMAS = {
    "helpsteer2": pa.schema(
        [
            ("prompt", pa.string()),
            ("response", pa.string()),
            *[
                (a, pa.int64())
                for a in ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
            ],
        ]
    ),  # fmt: skip
    "helpsteer2-preference": pa.schema(
        [
            ("split", pa.string()),
            ("prompt", pa.string()),
            ("response_1", pa.string()),
            ("response_2", pa.string()),
            ("preference_strength", pa.int64()),
        ]
    ),  # fmt: skip
    "nectar": pa.schema(
        [
            ("prompt", pa.string()),
            (
                "answers",
                pa.list_(
                    pa.struct([("answer", pa.string()), ("model", pa.string()), ("rank", pa.float64())])
                ),
            ),
            ("turns", pa.int64()),
            ("num_responses", pa.int64()),
            ("source", pa.list_(pa.string())),
            ("good_natured", pa.bool_()),
        ]
    ),  # fmt: skip
    "hh-rlhf": pa.schema([("chosen", pa.string()), ("rejected", pa.string())]),
    "rm-scored": pa.schema(
        [
            ("prompt_id", pa.string()),
            ("prompt", pa.string()),
            ("all_generated_responses", pa.list_(pa.string())),
            ("all_rm_scores", pa.list_(pa.float64())),
        ]
    ),  # fmt: skip
}


def iter_blocks(kind: str, prompts: int, seed: int = 0) -> Iterator[pa.Table]:
    """Tables of ``kind`` for ``prompts`` prompts (HelpSteer2: 1-4 rows each), block by block."""
    if kind not in MAKERS:
        raise ValueError(f"kind: {kind!r}; choose one of {', '.join(KINDS)}")
    make = MAKERS[kind]
    for start in range(0, prompts, BLOCK):
        rows = [row for i in range(start, min(prompts, start + BLOCK)) for row in make(i, seed)]
        yield pa.Table.from_pylist(rows, schema=SCHEMAS[kind])


def generate(kind: str, prompts: int, seed: int = 0) -> list[pa.Table]:
    return list(iter_blocks(kind, prompts, seed))


def write(kind: str, path: str, prompts: int, seed: int = 0) -> int:
    """Write ``kind`` to a .parquet or .jsonl file; returns the rows written."""
    rows = 0
    if str(path).endswith(".jsonl"):
        import json

        with open(path, "w", encoding="utf-8") as fh:
            for table in iter_blocks(kind, prompts, seed):
                for row in table.to_pylist():
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                rows += table.num_rows
        return rows
    import json

    about = {"synthetic": True, "description": f"synthetic {kind} rows (notus_data.synthetic.sources, {prompts} "
             f"prompts, seed {seed}), in the exact schema of the real set"}  # fmt: skip
    schema = SCHEMAS[kind].with_metadata({"notus_data": json.dumps(about)})
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for table in iter_blocks(kind, prompts, seed):
            writer.write_table(table.replace_schema_metadata(schema.metadata), row_group_size=BLOCK)
            rows += table.num_rows
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Write a synthetic input in another preference set's schema."
    )
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    print(f"{write(args.kind, args.output, args.prompts, args.seed):,} rows written to {args.output}")


if __name__ == "__main__":
    main()
