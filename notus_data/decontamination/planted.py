"""The planted benchmark: benchmark questions hidden in realistic prompts, hard negatives beside them, to measure
recall and false positives of decontamination for every benchmark.

:func:`make_cases` builds, for one split (``dev`` to tune on, ``test`` held out), from the questions of each set
(:func:`load_sets`; each question belongs to one split, by a hash of its id) and real prompts:

* planted copies (positives), one of each kind per question where the kind applies: ``exact``, ``case_punct``
  (case, punctuation, quotes), ``whitespace``, ``prefix`` ("Question:", "Task:"), ``embedded`` (inside a longer
  prompt), ``swap`` (two neighbouring words), ``synonym`` (a common word), ``partial`` (the first 60% of a
  long question, in a prompt), ``numbers_changed`` (gsm8k: every number changed: the same problem),
  ``code_reformat`` (humaneval: re-indented, the function renamed), and ``human`` (rewordings written by hand,
  :mod:`~notus_data.decontamination.planted_material`);
* hard negatives, which must stay: ``neg_one_word`` (a short question with its rarest word or a number
  changed), ``neg_topic`` (another question about a question's key word), ``neg_ending`` (a short question's
  first half with another ending), each alone or inside a prompt;
* clean prompts: ``real_prompt`` (UltraFeedback prompts) and ``synthetic_prompt`` (100-300 words of real
  response sentences under an instruction).

Sets whose meaning veto is off (gsm8k, humaneval: one word changed is still the problem) get no
``neg_one_word``; nor do questions over 35 words (one word changed leaves a long text a copy).
:func:`score_cases` runs a decontamination over the cases and counts what was found by kind.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from notus_data.decontamination.catalog import KNOWN_BENCHMARKS
from notus_data.decontamination.planted_material import (
    CONTEXT_LEADS,
    HUMAN_REWORDINGS,
    PREFIXES,
    SWAP_WORDS,
    SYNONYMS,
    TOPIC_TEMPLATES,
)

POSITIVE_KINDS = (
    "exact", "case_punct", "whitespace", "prefix", "embedded", "swap", "synonym", "partial",
    "numbers_changed", "code_reformat", "human",
)  # fmt: skip
NEGATIVE_KINDS = ("neg_one_word", "neg_topic", "neg_ending", "real_prompt", "synthetic_prompt")
STOP = frozenset(
    "a an the of to in on for and or is are was were be do does did what which who how why when where you your "
    "i my me it its this that with from by as at can could would should will if not no".split()
)
PROMPT_TEMPLATES = {
    "dev": ["Summarize the following text in three bullet points:\n\n{body}", "Proofread this:\n{body}"],
    "test": ["Rewrite the passage below for a younger audience.\n\n{body}", "What is the tone of this text?\n{body}"],
}  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One prompt of the planted benchmark: its text, kind, and the question it plants (None: a negative)."""

    text: str
    kind: str
    benchmark: str | None = None
    question_id: str | None = None


def split_of(benchmark: str, qid: str) -> str:
    """``dev`` or ``test``: the split a question belongs to (a stable hash of its benchmark and id)."""
    return "dev" if zlib.crc32(f"{benchmark}/{qid}".encode()) % 2 == 0 else "test"


def load_sets(folder: str | Path, truthfulqa: str | Path | None = None) -> dict[str, list[tuple[str, str]]]:
    """``name -> [(question id, text)]`` of every ``NAME.jsonl`` in ``folder`` (``id``, ``question``, and
    MT-Bench's ``turns`` as ``ID/turn-K``), plus TruthfulQA (ids = positions) from ``truthfulqa``."""
    sets: dict[str, list[tuple[str, str]]] = {}
    if truthfulqa is not None:
        lines = Path(truthfulqa).read_text(encoding="utf-8").splitlines()
        sets["truthfulqa"] = [(str(i), json.loads(line)["question"]) for i, line in enumerate(lines)]
    for path in sorted(Path(folder).glob("*.jsonl")):
        items = []
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            items.append((str(row["id"]), row["question"]))
            for k, turn in enumerate(row.get("turns") or [], start=2):
                items.append((f"{row['id']}/turn-{k}", turn))
        sets[path.stem] = items
    return sets


def sentences_of(texts: list[str]) -> list[str]:
    """Plain sentences (6-35 words, no markup) of ``texts``: filler for embedded and synthetic prompts."""
    out = []
    for text in texts:
        for s in re.split(r"(?<=[.!?])\s+", text):
            if 6 <= len(s.split()) <= 35 and "\n" not in s and not re.search(r"[*#|`_<>{}\[\]=?]", s):
                out.append(s.strip())
    return sorted(set(out))


# ------------------------------------------------------------------------------------------ positives


def _case_punct(q: str, rng: random.Random) -> str:
    out = q.lower() if rng.random() < 0.5 else q.upper()
    out = out.replace(",", "").replace("'", "\u2019")
    return out.rstrip("?.!") + rng.choice(["", " ?", "!!", "..."])


def _whitespace(q: str, rng: random.Random) -> str:
    words = q.split(" ")
    out = words[0] + "".join(rng.choice([" ", "  ", "\t", " \u00a0"]) + w for w in words[1:])
    return rng.choice(["", " ", "\n"]) + out + rng.choice(["", "\n", "  "])


def _embed(q: str, rng: random.Random, split: str, pool: list[str]) -> str:
    before = [rng.choice(CONTEXT_LEADS[split]), *rng.sample(pool, rng.randint(0, 2))]
    after = rng.sample(pool, rng.randint(1, 3))
    return rng.choice([" ", "\n", "\n\n"]).join([" ".join(before), q, " ".join(after)])


def _swap(q: str, rng: random.Random) -> str | None:
    words = q.split(" ")
    spots = [i for i in range(len(words) - 1) if words[i].isalpha() and words[i + 1].isalpha()]
    if not spots:
        return None
    i = rng.choice(spots)
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def _synonym(q: str, rng: random.Random, split: str) -> str | None:
    table = SYNONYMS[split]
    spots = [m for m in re.finditer(r"[A-Za-z]+", q) if m.group(0).lower() in table]
    if not spots:
        return None
    m = rng.choice(spots)
    new = table[m.group(0).lower()]
    new = new[:1].upper() + new[1:] if m.group(0)[:1].isupper() else new
    return q[: m.start()] + new + q[m.end() :]


def _partial(q: str, rng: random.Random, split: str, pool: list[str]) -> str | None:
    words = q.split(" ")
    if len(words) < 40:
        return None
    return _embed(" ".join(words[: int(len(words) * 0.6)]), rng, split, pool)


def _numbers_changed(q: str, rng: random.Random) -> str | None:
    if not re.search(r"\d", q):
        return None
    return re.sub(r"\d+", lambda m: str(int(m.group(0)) + rng.randint(1, 9)), q)


def _code_reformat(q: str, rng: random.Random) -> str | None:
    m = re.search(r"def (\w+)\(", q)
    if not m:
        return None
    new_name = rng.choice(["solve", "my_function", "helper", "compute_result"])
    out = re.sub(rf"\b{m.group(1)}\b", new_name, q).replace("    ", rng.choice(["\t", "  "]))
    return rng.choice(["Complete this function:\n", "```python\n", ""]) + out.strip() + "\n"


def _positives(bench: str, qid: str, q: str, rng: random.Random, split: str, pool: list[str]) -> list[Case]:
    texts = {
        "exact": q,
        "case_punct": _case_punct(q, rng),
        "whitespace": _whitespace(q, rng),
        "prefix": f"{rng.choice(PREFIXES[split])} {q}",
        "embedded": _embed(q, rng, split, pool),
        "swap": _swap(q, rng),
        "synonym": _synonym(q, rng, split),
        "partial": _partial(q, rng, split, pool) if bench in ("arena_hard", "ifeval", "humaneval") else None,
        "numbers_changed": _numbers_changed(q, rng) if bench == "gsm8k" else None,
        "code_reformat": _code_reformat(q, rng) if bench == "humaneval" else None,
    }
    return [
        Case(t, kind, bench, qid) for kind, t in texts.items() if t is not None and t != q or kind == "exact"
    ]


# ------------------------------------------------------------------------------------------ negatives


def _rarest(q: str, counts: Counter) -> str | None:
    words = [w for w in re.findall(r"[A-Za-z]{4,}", q) if w.lower() not in STOP]
    return min(words, key=lambda w: (counts[w.lower()], w)) if words else None


def _one_word(q: str, rng: random.Random, split: str, counts: Counter) -> str | None:
    numbers = list(re.finditer(r"\b\d+\b", q))
    if numbers and rng.random() < 0.4:
        m = rng.choice(numbers)
        return q[: m.start()] + str(int(m.group(0)) + rng.randint(2, 9)) + q[m.end() :]
    word = _rarest(q, counts)
    if word is None:
        return None
    return re.sub(rf"\b{re.escape(word)}\b", rng.choice(SWAP_WORDS[split]), q, count=1)


def _negatives(q: str, bench: str, rng: random.Random, split: str, counts: Counter, pool) -> list[Case]:
    out = []
    n_words = len(re.findall(r"\w+", q))
    spec = KNOWN_BENCHMARKS.get(bench)
    if (spec is None or spec.veto) and n_words <= 35:
        text = _one_word(q, rng, split, counts)
        if text is not None and text != q:
            out.append(Case(text if rng.random() < 0.5 else _embed(text, rng, split, pool), "neg_one_word"))
    word = _rarest(q, counts)
    if word is not None:
        out.append(Case(rng.choice(TOPIC_TEMPLATES[split]).format(w=word), "neg_topic"))
    if 6 <= n_words <= 20:
        head = " ".join(q.rstrip("?.!").split()[: n_words // 2])
        ending = rng.choice(["in a world without electricity?", "according to my grandmother?", "on Mars?"])
        out.append(Case(f"{head} {ending}", "neg_ending"))
    return out


def make_cases(
    sets: dict[str, list[tuple[str, str]]],
    split: str,
    prompts: list[str],
    pool: list[str],
    *,
    synthetic: int = 0,
    seed: int = 0,
) -> list[Case]:
    """The cases of one split (see the module docstring), shuffled: positives for the split's questions,
    negatives, the real ``prompts``, and ``synthetic`` long prompts made of ``pool`` sentences."""
    rng = random.Random(f"planted-{seed}-{split}")
    counts = Counter(
        w.lower() for items in sets.values() for _, q in items for w in set(re.findall(r"\w+", q))
    )
    cases: list[Case] = []
    for bench, items in sets.items():
        for qid, q in items:
            if split_of(bench, qid) != split:
                continue
            cases += _positives(bench, qid, q, rng, split, pool)
            cases += _negatives(q, bench, rng, split, counts, pool)
    known = {(b, i) for b, items in sets.items() for i, _ in items}
    cases += [Case(t, "human", b, i) for b, i, t in HUMAN_REWORDINGS[split] if (b, i) in known]
    cases += [Case(p, "real_prompt") for p in prompts]
    for _ in range(synthetic):
        body, words = [], 0
        target = rng.randint(100, 300)
        while words < target:
            body.append(rng.choice(pool))
            words += len(body[-1].split())
        cases.append(
            Case(rng.choice(PROMPT_TEMPLATES[split]).format(body=" ".join(body)), "synthetic_prompt")
        )
    rng.shuffle(cases)
    return cases


# ------------------------------------------------------------------------------------------ scoring


@dataclass
class Scores:
    """What a decontamination found in the cases: ``found[(benchmark, kind)] = (found, planted)`` for the
    positives, ``flagged[kind] = (flagged, n)`` for the negatives, and the misses and false positives."""

    found: dict[tuple[str, str], list[int]]
    flagged: dict[str, list[int]]
    misses: list[tuple[Case, str | None]]
    false_positives: list[tuple[Case, str, str]]

    def recall(self, kind: str, benchmark: str | None = None) -> float:
        got = [v for (b, k), v in self.found.items() if k == kind and benchmark in (None, b)]
        n = sum(v[1] for v in got)
        return sum(v[0] for v in got) / n if n else float("nan")

    def fp_rate(self, kind: str) -> float:
        got, n = self.flagged.get(kind, (0, 0))
        return got / n if n else float("nan")


def score_cases(cases: list[Case], index, options) -> Scores:
    """Run :func:`~notus_data.decontamination.find.find_contamination` over the case texts; a positive counts
    as found when the evidence names its benchmark and question id."""
    import pyarrow as pa

    from notus_data.decontamination.find import find_contamination

    table = pa.table({"prompt": pa.array([c.text for c in cases], pa.string())})
    _, evidence = find_contamination(table, index, options)
    hits = {
        r: (b, q, t, m)
        for r, b, q, t, m in zip(
            *(evidence.column(c).to_pylist() for c in ("row_index", "benchmark", "question_id", "question", "method")),
            strict=True,
        )
    }  # fmt: skip
    scores = Scores({}, {}, [], [])
    for i, case in enumerate(cases):
        hit = hits.get(i)
        if case.benchmark is not None:
            ok = hit is not None and hit[0] == case.benchmark and hit[1] == case.question_id
            cell = scores.found.setdefault((case.benchmark, case.kind), [0, 0])
            if not ok:
                scores.misses.append((case, None if hit is None else f"{hit[0]}/{hit[1]}"))
        else:
            ok = hit is None
            cell = scores.flagged.setdefault(case.kind, [0, 0])
            if not ok:
                scores.false_positives.append((case, f"{hit[0]}/{hit[1]} {hit[3]}", hit[2]))
            ok = not ok  # count the flagged ones
        cell[0] += int(ok)
        cell[1] += 1
    return scores
