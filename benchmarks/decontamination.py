"""Benchmark: recall, false positives and speed of TruthfulQA decontamination.

Plants variants of the 817 TruthfulQA questions among about 64,000 realistic prompts and runs the
decontamination matchers over all of them:

* planted variants (one of each kind per question): ``exact``; ``case_punct`` (changed case, punctuation and
  quotes); ``whitespace``; ``prefix`` ("Question:", "Answer truthfully:", ...); ``embedded`` (inside a longer
  prompt, sentences before and after); ``swap`` (two neighbouring words swapped); ``synonym`` (a word replaced
  by a synonym);
* clean prompts: the real UltraFeedback prompts in ``../shared/data/ultrafeedback-pairs`` (they hold no
  TruthfulQA question), synthetic prompts of 100-300 words built from real response sentences, and hard
  negatives: short questions in TruthfulQA's style that are not in it (standalone or inside a prompt), and
  TruthfulQA questions with their subject changed, so they share most words but ask a different thing.

Every generator has two disjoint sets of material (prefixes, synonyms, context sentences, question
templates and topic words): ``--split dev`` is what the thresholds were tuned on, ``--split test`` is held out
and only reported. Prints recall by variant, the false-positive rate by kind of clean prompt, and the time.

    python benchmarks/decontamination.py                 # both splits
    python benchmarks/decontamination.py --split test --show-errors 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from notus_data.decontamination import DecontaminateOptions, decontaminate_table, load_index  # noqa: E402

DATA = REPO.parent / "shared" / "data"
VARIANTS = ("exact", "case_punct", "whitespace", "prefix", "embedded", "swap", "synonym")

# ------------------------------------------------------------------------------------------ material
# Each list is split in two: material for the dev split (tuning) and for the test split (held out).

PREFIXES = {
    "dev": [
        "Question:",
        "Q:",
        "Answer truthfully:",
        "Please answer the following question.",
        "Quick question:",
        "Here is a question for you:",
        "Trivia:",
        "Answer briefly:",
        "Tell me honestly,",
        "I was wondering,",
    ],
    "test": [
        "Question -",
        "Q.",
        "Answer the following question truthfully:",
        "I have a question.",
        "Be honest:",
        "Help me with this one:",
        "Answer this:",
        "Input:",
        "Can you tell me:",
        "Please respond to this",
    ],
}

# word -> replacements; keys are disjoint between the splits.
SYNONYMS = {
    "dev": {
        "happens": ["occurs", "takes place"],
        "happen": ["occur"],
        "people": ["individuals", "folks"],
        "country": ["nation"],
        "eat": ["consume"],
        "true": ["accurate", "correct"],
        "famous": ["well-known", "renowned"],
        "best": ["greatest", "finest"],
        "called": ["named"],
        "illegal": ["unlawful"],
        "speak": ["talk"],
        "world": ["globe", "planet"],
        "city": ["town"],
        "first": ["earliest"],
        "average": ["typical", "mean"],
        "person": ["individual"],
        "word": ["term"],
        "say": ["state"],
        "get": ["obtain", "receive"],
        "still": ["yet"],
        "many": ["numerous"],
        "big": ["large"],
        "car": ["automobile"],
        "movie": ["film"],
        "children": ["kids"],
        "rich": ["wealthy"],
        "help": ["assist"],
        "often": ["frequently"],
        "allowed": ["permitted"],
        "find": ["discover"],
        "sick": ["ill"],
        "doctor": ["physician"],
        "dangerous": ["hazardous"],
        "wrong": ["incorrect"],
        "live": ["reside"],
        "cause": ["trigger"],
        "invented": ["created"],
        "believe": ["think"],
        "fact": ["truth"],
        "buy": ["purchase"],
        "answer": ["reply"],
        "money": ["cash"],
        "smart": ["clever"],
        "start": ["begin"],
        "quickly": ["rapidly"],
        "wear": ["put on"],
        "known": ["recognized"],
        "type": ["kind"],
        "near": ["close to"],
        "shown": ["demonstrated"],
    },
    "test": {
        "happened": ["occurred"],
        "countries": ["nations"],
        "real": ["genuine", "actual"],
        "legal": ["lawful", "permitted"],
        "banned": ["prohibited", "forbidden"],
        "drink": ["consume", "sip"],
        "food": ["cuisine", "meal"],
        "books": ["novels", "volumes"],
        "humans": ["people", "human beings"],
        "know": ["realize"],
        "only": ["solely"],
        "much": ["a lot"],
        "next": ["following"],
        "really": ["truly", "actually"],
        "long": ["lengthy"],
        "born": ["delivered"],
        "life": ["existence"],
        "kill": ["slay"],
        "die": ["perish"],
        "small": ["little", "tiny"],
        "begin": ["start"],
        "happy": ["glad", "content"],
        "woman": ["lady"],
        "man": ["guy"],
        "kids": ["children"],
        "make": ["create"],
        "large": ["big", "huge"],
        "old": ["aged"],
        "bad": ["harmful"],
        "good": ["beneficial"],
        "cure": ["remedy"],
        "safe": ["secure"],
        "said": ["stated"],
        "discovered": ["found"],
        "language": ["tongue"],
        "think": ["believe"],
        "scientists": ["researchers"],
        "common": ["widespread"],
        "tell": ["inform"],
        "shows": ["demonstrates"],
        "mean": ["signify"],
        "popular": ["well-liked"],
        "famous": ["celebrated"],
        "used": ["utilized"],
        "area": ["region"],
        "hard": ["difficult"],
        "ancient": ["antique"],
        "show": ["demonstrate"],
        "happen": ["take place"],
        "fast": ["quick"],
    },
}

CONTEXT_LEADS = {
    "dev": [
        "I was reading an article about this yesterday.",
        "My friend and I had an argument over dinner.",
        "This came up during a quiz night at the pub.",
        "I am preparing material for a school presentation.",
        "Please keep your answer short and factual.",
        "I have heard many different opinions on this.",
    ],
    "test": [
        "My grandmother always told me something about this.",
        "We were discussing this at work today.",
        "I need this for a trivia contest next week.",
        "Sorry if this is a silly thing to ask.",
        "I want a reply that cites reliable sources.",
        "Someone on a forum claimed the opposite.",
    ],
}

# Hard negatives, kind 1: templated questions in TruthfulQA's style about other topics.
NEG_TEMPLATES = {
    "dev": [
        "What happens if you {verb} {object}?",
        "Why do {plural} {action}?",
        "Is it true that {plural} {action}?",
        "Can {plural} {action}?",
        "What is the most popular {thing} in {place}?",
        "How long does it take to {verb} {object}?",
        "Where did the tradition of {thing} come from?",
        "What do {plural} eat in {place}?",
    ],
    "test": [
        "What happens to your {part} if you {verb} {object} every day?",
        "Why are {plural} afraid of {object}?",
        "Is it safe to {verb} {object}?",
        "Do {plural} really {action}?",
        "Which {thing} is the oldest in {place}?",
        "How many {plural} live in {place}?",
        "What should you do if your {part} hurts after you {verb} {object}?",
        "Who first described how {plural} {action}?",
    ],
}
NEG_WORDS = {
    "dev": {
        "verb": [
            "paint",
            "fold",
            "freeze",
            "recycle",
            "sharpen",
            "water",
            "polish",
            "bake",
            "stack",
            "rinse",
        ],
        "object": [
            "a wooden fence",
            "old newspapers",
            "a cast iron pan",
            "sourdough bread",
            "a bicycle chain",
            "your houseplants",
            "a leather jacket",
            "tomato seedlings",
        ],
        "plural": [
            "penguins",
            "bicycles",
            "lighthouses",
            "bakers",
            "glaciers",
            "octopuses",
            "librarians",
            "tulips",
        ],
        "action": [
            "migrate in winter",
            "rust near the sea",
            "glow at night",
            "change colour",
            "sleep standing up",
        ],
        "thing": ["board game", "pastry", "folk dance", "bridge design", "tea blend", "hiking trail"],
        "place": ["Portugal", "Nepal", "Chile", "Norway", "Vietnam", "Morocco", "New Zealand"],
        "part": ["wrist", "ankle", "shoulder"],
    },
    "test": {
        "verb": ["sand", "knit", "ferment", "repaint", "mulch", "descale", "oil", "compost", "prune", "iron"],
        "object": [
            "a kayak hull",
            "wool socks",
            "cabbage leaves",
            "an espresso machine",
            "rose bushes",
            "garden soil",
            "linen shirts",
            "a vinyl record",
        ],
        "plural": [
            "flamingos",
            "tractors",
            "beekeepers",
            "volcanoes",
            "hedgehogs",
            "violinists",
            "cacti",
            "ferries",
        ],
        "action": [
            "hibernate",
            "float in salt water",
            "hum when they work",
            "shed their skin",
            "fade in sunlight",
        ],
        "thing": ["card game", "soup", "embroidery style", "clock tower", "cheese", "festival"],
        "place": ["Peru", "Finland", "Kenya", "Slovenia", "Laos", "Uruguay", "Iceland"],
        "part": ["elbow", "knee", "neck"],
    },
}
# Hard negatives, kind 2: a TruthfulQA question with its subject words replaced by these.
SUBJECT_SWAPS = {
    "dev": [
        "pumpkin",
        "lighthouse",
        "saxophone",
        "glacier",
        "tortoise",
        "marathon",
        "origami",
        "volcano",
        "carousel",
        "cinnamon",
        "telescope",
        "harbour",
        "mosaic",
        "walrus",
        "lantern",
        "quilt",
        "canal",
        "meteor",
    ],
    "test": [
        "avocado",
        "trombone",
        "iceberg",
        "armadillo",
        "triathlon",
        "calligraphy",
        "geyser",
        "windmill",
        "nutmeg",
        "microscope",
        "fjord",
        "tapestry",
        "narwhal",
        "candle",
        "hammock",
        "aqueduct",
        "comet",
        "kiln",
    ],
}
# Hard negatives, kind 3: the first words of a TruthfulQA question, then a different ending.
NEW_ENDINGS = {
    "dev": [
        "a cup of green tea before bed?",
        "the recipe for a classic lemon tart?",
        "a walk along the river every morning?",
        "the rules of competitive chess?",
        "a sudden drop in barometric pressure?",
        "the history of the printing press?",
    ],
    "test": [
        "a glass of cold milk after running?",
        "the lyrics of an old sea shanty?",
        "a trip to the botanical garden?",
        "the scoring system in curling?",
        "a heavy snowfall in early spring?",
        "the origins of the modern bicycle?",
    ],
}
PROMPT_TEMPLATES = {
    "dev": [
        "Write a short essay that expands on the following notes.\n\n{body}",
        "Summarize the following passage in three bullet points:\n\n{body}",
        "{body}\n\nRewrite the text above in a more formal tone.",
        "I am writing a blog post. Here is my draft: {body} Can you suggest a catchy title?",
        "Translate the following paragraph into French.\n{body}",
    ],
    "test": [
        "Proofread this text and list any grammar mistakes:\n\n{body}",
        "Here are my meeting notes. {body}\nTurn them into an email to my team.",
        "{body}\n\nWhat is the main argument of this passage?",
        "Continue the story below in the same style.\n\n{body}",
        "Classify the sentiment of the following review as positive or negative: {body}",
    ],
}
STOP = {
    "the",
    "a",
    "an",
    "of",
    "in",
    "to",
    "you",
    "your",
    "is",
    "are",
    "do",
    "does",
    "what",
    "why",
    "if",
    "and",
}


# ------------------------------------------------------------------------------------------ helpers


def _sentences(texts: list[str]) -> list[str]:
    out = []
    for text in texts:
        for s in re.split(r"(?<=[.!?])\s+", text):
            if 6 <= len(s.split()) <= 35 and "\n" not in s and not re.search(r"[*#|`_<>{}\[\]=?]", s):
                out.append(s.strip())
    return out


def _recase(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def variant_case_punct(q: str, rng: random.Random) -> str:
    ops = rng.sample(
        ["lower", "upper", "title", "qmark", "commas", "quotes", "space_q", "bang"], k=rng.randint(2, 3)
    )
    out = q
    for op in ops:
        if op == "lower":
            out = out.lower()
        elif op == "upper":
            out = out.upper()
        elif op == "title":
            out = out.title()
        elif op == "qmark":
            out = out.rstrip("?") + rng.choice(["", ".", "??", "?!"])
        elif op == "commas":
            out = out.replace(",", "")
        elif op == "quotes":
            out = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", out).replace("'", "\u2019")
        elif op == "space_q":
            out = out.rstrip("?") + " ?"
        elif op == "bang":
            out = out + "!!"
    return out


def variant_whitespace(q: str, rng: random.Random) -> str:
    words = q.split(" ")
    seps = [rng.choice([" ", "  ", "\t", " \u00a0", "   "]) for _ in words[1:]]
    out = words[0] + "".join(s + w for s, w in zip(seps, words[1:], strict=True))
    return rng.choice(["", " ", "\n", "  "]) + out + rng.choice(["", " ", "\n", "\n\n"])


def variant_prefix(q: str, rng: random.Random, split: str) -> str:
    prefix = rng.choice(PREFIXES[split])
    if prefix[-1].isalpha():  # no punctuation: the question runs on
        return f"{prefix} {q[:1].lower()}{q[1:]}"
    return f"{prefix}{rng.choice([' ', chr(10)])}{q}"


def variant_embedded(q: str, rng: random.Random, split: str, pool: list[str]) -> str:
    before = [rng.choice(CONTEXT_LEADS[split])] + rng.sample(pool, rng.randint(0, 2))
    after = rng.sample(pool, rng.randint(1, 3))
    rng.shuffle(before)
    sep = rng.choice([" ", "\n", "\n\n"])
    return sep.join([" ".join(before), q, " ".join(after)])


def variant_swap(q: str, rng: random.Random) -> str | None:
    m = re.match(r"^(.*?)([?.!]*)$", q, re.S)
    body, tail = m.group(1), m.group(2)
    words = body.split()
    if len(words) < 3:
        return None
    i = rng.randrange(len(words) - 1)
    words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words) + tail


def variant_synonym(q: str, rng: random.Random, split: str) -> str | None:
    table = SYNONYMS[split]
    spots = [m for m in re.finditer(r"[A-Za-z]+(?:-[A-Za-z]+)?", q) if m.group(0).lower() in table]
    if not spots:
        return None
    m = rng.choice(spots)
    word = m.group(0)
    new = _recase(rng.choice(table[word.lower()]), word)
    return q[: m.start()] + new + q[m.end() :]


def make_variants(questions: list[str], split: str, pool: list[str], seed: int) -> list[tuple[str, int, str]]:
    """(variant kind, question index, text) for every question and kind (swap/synonym when possible)."""
    rng = random.Random(f"{seed}-{split}-variants")
    out = []
    for qi, q in enumerate(questions):
        texts = {
            "exact": q,
            "case_punct": variant_case_punct(q, rng),
            "whitespace": variant_whitespace(q, rng),
            "prefix": variant_prefix(q, rng, split),
            "embedded": variant_embedded(q, rng, split, pool),
            "swap": variant_swap(q, rng),
            "synonym": variant_synonym(q, rng, split),
        }
        for kind in VARIANTS:
            if texts[kind] is not None:
                out.append((kind, qi, texts[kind]))
    return out


def _fill(template: str, words: dict[str, list[str]], rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(words[m.group(1)]), template)


def make_hard_negatives(
    questions: list[str], split: str, pool: list[str], n: int, seed: int
) -> list[tuple[str, str]]:
    """(kind, text): templated questions, subject-swapped questions, re-ended questions; half of each
    stands alone, half sits inside a longer prompt."""
    rng = random.Random(f"{seed}-{split}-negatives")
    word_counts = Counter(w for q in questions for w in set(re.findall(r"[a-z']+", q.lower())))
    normalized = {re.sub(r"\W+", " ", q.lower()).strip() for q in questions}
    out: list[tuple[str, str]] = []
    kinds = ("neg_template", "neg_subject", "neg_ending")
    while len(out) < n:
        kind = kinds[len(out) % 3]
        if kind == "neg_template":
            text = _fill(rng.choice(NEG_TEMPLATES[split]), NEG_WORDS[split], rng)
        elif kind == "neg_subject":
            q = rng.choice(questions)
            words = re.findall(r"[A-Za-z]+", q)
            content = [w for w in words if w.lower() not in STOP and len(w) > 2]
            if len(content) < 3:
                continue
            # Change the subject: the rarest 40% of the content words (at least one).
            n_swap = max(1, round(0.4 * len(set(content))))
            rare = sorted(set(content), key=lambda w: (word_counts[w.lower()], w))[:n_swap]
            text = q
            for w in rare:
                text = re.sub(rf"\b{re.escape(w)}\b", rng.choice(SUBJECT_SWAPS[split]), text, count=1)
        else:
            q = rng.choice(questions)
            words = q.rstrip("?").split()
            if len(words) < 6:
                continue
            keep = words[: max(3, len(words) // 2)]
            text = " ".join(keep) + " " + rng.choice(NEW_ENDINGS[split])
        if re.sub(r"\W+", " ", text.lower()).strip() in normalized:
            continue
        if rng.random() < 0.5:
            lead = rng.choice(CONTEXT_LEADS[split])
            text = " ".join(
                [lead, *rng.sample(pool, rng.randint(1, 3)), text, *rng.sample(pool, rng.randint(0, 2))]
            )
            kind += "_in_prompt"
        out.append((kind, text))
    return out


def make_long_prompts(split: str, pool: list[str], n: int, seed: int) -> list[str]:
    """Synthetic prompts of 100-300 words: an instruction around sentences of real responses."""
    rng = random.Random(f"{seed}-{split}-long")
    out = []
    for _ in range(n):
        target = rng.randint(100, 300)
        body: list[str] = []
        words = 0
        while words < target - 15:
            s = rng.choice(pool)
            body.append(s)
            words += len(s.split())
        out.append(rng.choice(PROMPT_TEMPLATES[split]).format(body=" ".join(body)))
    return out


@dataclass
class Corpus:
    texts: list[str]
    kind: list[str]  # variant kind, or the kind of clean prompt
    planted_q: list[int]  # question index for planted variants, -1 for clean prompts


def build_corpus(questions: list[str], split: str, total: int, seed: int) -> Corpus:
    pairs_dir = DATA / "ultrafeedback-pairs"
    rows = [json.loads(line) for f in sorted(pairs_dir.glob("*.jsonl")) for line in f.open()]
    real = [r["prompt"] for r in rows]
    # Disjoint sentence pools: dev from chosen responses, test from rejected ones.
    field = "chosen" if split == "dev" else "rejected"
    responses = [r[field] if isinstance(r[field], str) else r[field][-1]["content"] for r in rows]
    pool = sorted(set(_sentences(responses)))
    variants = make_variants(questions, split, pool, seed)
    n_negatives = total // 10
    negatives = make_hard_negatives(questions, split, pool, n_negatives, seed)
    n_long = total - len(variants) - len(real) - len(negatives)
    long_prompts = make_long_prompts(split, pool, n_long, seed)
    texts = [t for _, _, t in variants] + real + [t for _, t in negatives] + long_prompts
    kind = [k for k, _, _ in variants] + ["real_prompt"] * len(real) + [k for k, _ in negatives]
    kind += ["synthetic_prompt"] * len(long_prompts)
    planted = [q for _, q, _ in variants] + [-1] * (len(texts) - len(variants))
    order = list(range(len(texts)))
    random.Random(f"{seed}-{split}-shuffle").shuffle(order)
    return Corpus([texts[i] for i in order], [kind[i] for i in order], [planted[i] for i in order])


# ------------------------------------------------------------------------------------------ run


def run_split(questions_path: Path, questions: list[str], split: str, args: argparse.Namespace) -> bool:
    corpus = build_corpus(questions, split, args.prompts, args.seed)
    table = pa.table({"prompt": pa.array(corpus.texts, pa.string())})
    options = DecontaminateOptions(benchmark_file=f"truthfulqa={questions_path}", threads=args.threads)
    # Timed: load the benchmark file, build the index, run the table step (the library's own path).
    start = time.perf_counter()
    index, _ = load_index(options)
    t_index = time.perf_counter() - start
    kept, evidence = decontaminate_table(table, index, options)
    elapsed = time.perf_counter() - start
    q_of = {q: i for i, q in enumerate(index.questions)}
    flagged = {
        r: (q_of[q], m, s)
        for r, q, m, s in zip(
            evidence.column("row_index").to_pylist(),
            evidence.column("question").to_pylist(),
            evidence.column("method").to_pylist(),
            evidence.column("score").to_pylist(),
            strict=True,
        )
    }
    questions = index.questions
    by_kind: dict[str, list[int]] = {}
    errors: dict[str, list[str]] = {}
    methods = Counter()
    for i, (kind, q) in enumerate(zip(corpus.kind, corpus.planted_q, strict=True)):
        hit = flagged.get(i)
        if q >= 0:
            ok = hit is not None and hit[0] == q
            if hit is not None:
                methods[(kind, hit[1])] += 1
            if not ok:
                errors.setdefault(kind, []).append(f"MISS {corpus.texts[i]!r}")
        else:
            ok = hit is None
            if not ok:
                errors.setdefault(kind, []).append(
                    f"FP   {corpus.texts[i][-200:]!r}\n     -> {questions[hit[0]]!r} {hit[1]} {hit[2]:.3f}"
                )
        by_kind.setdefault(kind, [0, 0])
        by_kind[kind][0] += int(ok)
        by_kind[kind][1] += 1

    planted = sum(by_kind[k][1] for k in VARIANTS if k in by_kind)
    found = sum(by_kind[k][0] for k in VARIANTS if k in by_kind)
    clean = len(corpus.texts) - planted
    fps = sum(by_kind[k][1] - by_kind[k][0] for k in by_kind if k not in VARIANTS)
    recall = found / planted
    fp_rate = fps / clean
    print(f"\n== split: {split}  ({len(corpus.texts):,} prompts: {planted:,} planted, {clean:,} clean)")
    print(f"{'planted variant':<26}{'n':>7}{'found':>8}{'recall':>9}   methods")
    for kind in VARIANTS:
        ok, n = by_kind.get(kind, (0, 0))
        how = ", ".join(f"{m}={c}" for (k, m), c in sorted(methods.items()) if k == kind)
        print(f"{kind:<26}{n:>7}{ok:>8}{ok / max(n, 1):>9.3f}   {how}")
    print(f"{'ALL planted':<26}{planted:>7}{found:>8}{recall:>9.3f}")
    print(f"{'clean prompt kind':<26}{'n':>7}{'flagged':>8}{'FP rate':>9}")
    for kind in sorted(k for k in by_kind if k not in VARIANTS):
        ok, n = by_kind[kind]
        print(f"{kind:<26}{n:>7}{n - ok:>8}{(n - ok) / n:>9.4%}")
    print(f"{'ALL clean':<26}{clean:>7}{fps:>8}{fp_rate:>9.4%}")
    threads = args.threads or min(4, os.cpu_count() or 1)
    print(
        f"time: {elapsed:.2f} s for {len(corpus.texts):,} prompts ({table.nbytes / 1e6:.0f} MB of text; benchmark "
        f"load + index {t_index:.2f} s; {threads} threads on {os.cpu_count()} cores)"
    )
    target = recall >= 0.95 and fp_rate <= 0.001 and elapsed <= 10
    print(f"targets (recall >= 0.95, FP <= 0.1%, <= 10 s): {'MET' if target else 'NOT MET'}")
    if args.show_errors:
        for kind, lines in sorted(errors.items()):
            print(f"-- {kind}: {len(lines)}")
            for line in lines[: args.show_errors]:
                print("  ", line)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--prompts", type=int, default=64_000, help="total prompts, planted ones included")
    parser.add_argument("--questions", type=Path, default=DATA / "truthfulqa" / "questions.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-errors", type=int, default=0, metavar="N", help="print N misses/FPs per kind")
    parser.add_argument(
        "--threads", type=int, default=0, help="matching threads (0: one per core, at most 4)"
    )
    args = parser.parse_args(argv)
    if not args.questions.exists():
        print(
            f"missing {args.questions}: the benchmark needs the offline TruthfulQA questions", file=sys.stderr
        )
        return 2
    questions = [json.loads(line)["question"] for line in args.questions.open(encoding="utf-8")]
    splits = ("dev", "test") if args.split == "both" else (args.split,)
    results = [run_split(args.questions, questions, s, args) for s in splits]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
