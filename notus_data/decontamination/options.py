"""The options of the decontaminate step: one dataclass, every field a ``notus-data decontaminate`` option."""

from __future__ import annotations

from dataclasses import dataclass, field

from notus_data.decontamination.catalog import KNOWN_BENCHMARKS, PRESETS
from notus_data.decontamination.matchers import DEFAULT_METHODS, METHODS, MatchSettings
from notus_data.errors import OptionError


def _f(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


def _as_tuple(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    raise OptionError(f"{name}: {value!r} is not a list of names (use a comma-separated string or a list)")


@dataclass
class DecontaminateOptions:
    """What counts as benchmark contamination and how it is found. Defaults, tuned on the dev split of the
    planted benchmark (benchmarks/decontamination.py): every method on, n-grams of 8 tokens, thresholds per
    benchmark (:mod:`~notus_data.decontamination.catalog` gives each default and its reason), the meaning veto
    on."""

    benchmark: tuple[str, ...] = _f(
        ("truthfulqa",),
        "benchmarks to remove, comma-separated: " + ", ".join(KNOWN_BENCHMARKS) + "; presets "
        + ", ".join(f"{k} ({'+'.join(v) if k != 'all' else 'every one'})" for k, v in PRESETS.items())
        + "; or a Hub id owner/name[:config]",
    )  # fmt: skip
    benchmark_file: tuple[str, ...] = _f(
        (),
        "local question files (.jsonl/.json/.csv/.parquet), comma-separated; NAME=PATH names the benchmark, "
        "a bare PATH is the offline copy of the one --benchmark",
    )
    bundled: bool = _f(
        False,
        "load the named benchmarks from the copies bundled with notus-data instead of the Hub (all but "
        "alpaca_eval, whose CC BY-NC 4.0 data is not redistributed)",
    )
    benchmark_column: str | None = _f(
        None, "question column of benchmark files and Hub sets (default: question)"
    )
    benchmark_split: str | None = _f(
        None, "split of Hub benchmarks (default: validation for truthfulqa, else test)"
    )
    source_filter: bool = _f(True, "also remove rows whose source is a benchmark's own (truthful_qa)")
    methods: tuple[str, ...] = _f(
        DEFAULT_METHODS,
        "matching methods, comma-separated: "
        + ", ".join(METHODS)
        + " (paraphrase: rewordings, off by default; embedding: on with --embedding-model)",
    )
    paraphrase_threshold: float = _f(
        0.7, "paraphrase method: least share of a question's rare-word weight held by one stretch of the text"
    )
    embedding_model: str | None = _f(
        None,
        "embedding method: a static sentence-embedding model (model2vec or sentence-transformers "
        "StaticEmbedding), a local folder or a Hub id (e.g. minishlab/potion-base-8M); giving one turns the "
        "method on",
    )
    embedding_threshold: float = _f(
        0.85, "embedding method: least cosine between a prompt (or one of its sentences) and a question"
    )
    ngram_size: int = _f(8, "n-gram method: words per n-gram (a shorter question is one n-gram)")
    ngram_threshold: float | None = _f(
        None,
        "n-gram method: least share of a question's n-grams found in one stretch of the text, for every "
        "benchmark (default: per benchmark, 0.8; 0.5 for arena_hard, ifeval, humaneval; 0.6 for gsm8k)",
    )
    long_quote_words: int = _f(
        24,
        "n-gram method: a text that copies this many words of a question in order (counted as n-grams: 24 "
        "words hold 17 8-grams) matches whatever the share (a long question quoted in part)",
    )
    near_duplicate_threshold: float | None = _f(
        None,
        "near-duplicate method: least share of a question's word weight kept (rare words weigh most), for "
        "every benchmark (default: per benchmark, 0.8; 0.75 for gsm8k)",
    )
    threshold: tuple[str, ...] = _f(
        (),
        "per-benchmark thresholds, comma-separated NAME.METHOD=VALUE (METHOD ngram or near_duplicate), e.g. "
        "arena_hard.ngram=0.4; they win over --ngram-threshold / --near-duplicate-threshold",
    )
    veto: bool = _f(
        True,
        "meaning veto: a near copy whose number, year or key word differs from the question's is no match "
        "(not for gsm8k numbers)",
    )
    text_columns: tuple[str, ...] = _f(
        (),
        "columns to check (default: instruction or prompt, and the user turns of chosen/rejected/messages)",
    )
    check_responses: bool = _f(
        False, "also check the responses (completions, chosen/rejected, assistant turns)"
    )
    index_cache: str | None = _f(
        None, "folder caching the benchmark index by content hash (and Hub questions for offline runs)"
    )
    threads: int = _f(0, "threads for matching (0: one per CPU core, at most 4); never changes the output")

    def __post_init__(self) -> None:
        self.benchmark = _as_tuple(self.benchmark, "benchmark")
        self.benchmark_file = _as_tuple(self.benchmark_file, "benchmark_file")
        self.methods = _as_tuple(self.methods, "methods")
        self.text_columns = _as_tuple(self.text_columns, "text_columns")
        self.threshold = _as_tuple(self.threshold, "threshold")
        self._thresholds = tuple(_parse_threshold(entry) for entry in self.threshold)
        if not self.benchmark and not self.benchmark_file:
            raise OptionError(
                "benchmark: none given; name one (truthfulqa) or give --benchmark-file NAME=PATH"
            )
        if self.embedding_model is not None and "embedding" not in self.methods:
            self.methods = (*self.methods, "embedding")
        if "embedding" in self.methods and not self.embedding_model:
            raise OptionError(
                "methods: embedding needs a model; give --embedding-model FOLDER_OR_HUB_ID (e.g. "
                "minishlab/potion-base-8M)"
            )
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not (self.methods or self.source_filter):
            raise OptionError(
                f"methods: {unknown or 'none given'} not usable; choose from {', '.join(METHODS)}"
            )
        if not isinstance(self.ngram_size, int) or self.ngram_size < 1:
            raise OptionError(f"ngram_size: {self.ngram_size!r} must be an integer >= 1")
        for name in (
            "ngram_threshold",
            "near_duplicate_threshold",
            "paraphrase_threshold",
            "embedding_threshold",
        ):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1
            ):
                raise OptionError(f"{name}: {value!r} must be in (0, 1]")
        if (
            isinstance(self.long_quote_words, bool)
            or not isinstance(self.long_quote_words, int)
            or self.long_quote_words < 1
        ):
            raise OptionError(f"long_quote_words: {self.long_quote_words!r} must be an integer >= 1")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise OptionError(f"threads: {self.threads!r} must be an integer >= 0")

    def match_settings(self) -> MatchSettings:
        return MatchSettings(
            methods=self.methods,
            ngram_size=self.ngram_size,
            ngram_threshold=None if self.ngram_threshold is None else float(self.ngram_threshold),
            near_duplicate_threshold=(
                None if self.near_duplicate_threshold is None else float(self.near_duplicate_threshold)
            ),
            thresholds=self._thresholds,
            long_quote_words=self.long_quote_words,
            veto=bool(self.veto),
            paraphrase_threshold=float(self.paraphrase_threshold),
            embedding_model=self.embedding_model,
            embedding_threshold=float(self.embedding_threshold),
            threads=self.threads,
        )


def _parse_threshold(entry: str) -> tuple[str, str, float]:
    """``"arena_hard.ngram=0.4"`` -> ("arena_hard", "ngram", 0.4), or an OptionError naming the fix."""
    key, sep, value = entry.partition("=")
    name, dot, method = key.strip().rpartition(".")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not sep or not dot or not name or method not in ("ngram", "near_duplicate") or not 0 < number <= 1:
        raise OptionError(
            f"threshold: {entry!r} is not NAME.METHOD=VALUE with METHOD ngram or near_duplicate and VALUE in "
            "(0, 1] (e.g. arena_hard.ngram=0.4)"
        )
    return name, method, number
