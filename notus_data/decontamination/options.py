"""The options of the decontaminate step: one dataclass, every field a ``notus-data decontaminate`` option."""

from __future__ import annotations

from dataclasses import dataclass, field

from notus_data.decontamination.matchers import METHODS, MatchSettings
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
    """What counts as benchmark contamination and how it is found. Defaults, tuned on a held-out benchmark
    (benchmarks/decontamination.py): every method on, n-grams of 8 tokens with coverage 0.8, near duplicates
    keeping 0.8 of the question's weight."""

    benchmark: tuple[str, ...] = _f(
        ("truthfulqa",),
        "benchmarks to remove, comma-separated: truthfulqa, or a Hub id owner/name[:config]",
    )
    benchmark_file: tuple[str, ...] = _f(
        (),
        "local question files (.jsonl/.json/.csv/.parquet), comma-separated; NAME=PATH names the benchmark, "
        "a bare PATH is the offline copy of the one --benchmark",
    )
    benchmark_column: str | None = _f(
        None, "question column of benchmark files and Hub sets (default: question)"
    )
    benchmark_split: str | None = _f(
        None, "split of Hub benchmarks (default: validation for truthfulqa, else test)"
    )
    source_filter: bool = _f(True, "also remove rows whose source is a benchmark's own (truthful_qa)")
    methods: tuple[str, ...] = _f(METHODS, "matching methods, comma-separated: " + ", ".join(METHODS))
    ngram_size: int = _f(8, "n-gram method: words per n-gram (a shorter question is one n-gram)")
    ngram_threshold: float = _f(0.8, "n-gram method: least share of a question's n-grams found in the text")
    near_duplicate_threshold: float = _f(
        0.8, "near-duplicate method: least share of a question's word weight kept (rare words weigh most)"
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
        if not self.benchmark and not self.benchmark_file:
            raise OptionError(
                "benchmark: none given; name one (truthfulqa) or give --benchmark-file NAME=PATH"
            )
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not (self.methods or self.source_filter):
            raise OptionError(
                f"methods: {unknown or 'none given'} not usable; choose from {', '.join(METHODS)}"
            )
        if not isinstance(self.ngram_size, int) or self.ngram_size < 1:
            raise OptionError(f"ngram_size: {self.ngram_size!r} must be an integer >= 1")
        for name in ("ngram_threshold", "near_duplicate_threshold"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise OptionError(f"{name}: {value!r} must be in (0, 1]")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise OptionError(f"threads: {self.threads!r} must be an integer >= 0")

    def match_settings(self) -> MatchSettings:
        return MatchSettings(
            methods=self.methods,
            ngram_size=self.ngram_size,
            ngram_threshold=float(self.ngram_threshold),
            near_duplicate_threshold=float(self.near_duplicate_threshold),
            threads=self.threads,
        )
