"""The sections of a recipe: the options classes of the steps that have no module of their own (review,
split, card), the registry of optional steps, and the reading of YAML or CLI values as a field's type."""

from __future__ import annotations

import dataclasses
import importlib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notus_data.errors import NotusDataError, OptionError, check_numbers
from notus_data.io.sources import LoadOptions
from notus_data.sources.format import SourceOptions
from notus_data.sources.helpsteer2 import PRESETS
from notus_data.steps.binarize import BinarizeOptions

RECIPES_DIR = Path(__file__).parent
#: The layouts of the output's splits (see :mod:`notus_data.recipes.splits`).
SPLIT_LAYOUTS = ("train", "train-test", "h4")


def _f(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field with its help text (read by the CLI)."""
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class ReviewOptions:
    """Review decisions applied to the input before scoring (see ``notus-data review``)."""

    decisions: str | None = _f(
        None, "review decisions file (from `notus-data review pull`), applied before scoring"
    )

    def __post_init__(self) -> None:
        check_numbers(self)
        if self.decisions is not None:
            self.decisions = os.fspath(self.decisions)


@dataclass
class SplitOptions:
    """How the pairs are split and written.

    The split of a pair is decided by its prompt alone: ``sha256("notus-data-split:{seed}:{prompt_id}")``; the
    test split takes the prompts with the smallest values, so all pairs of a prompt (and every copy of a prompt)
    land in the same split, whatever the row order or batch size.

    Test size rule: the test split holds ``test_size`` prompts, but never more than ``max_test_fraction`` of the
    prompts, so a small input keeps most of its pairs for training (400 sample rows: about 38 test prompts). With
    ``splits: h4``, test_sft and test_gen hold the first ``test_sft_size`` test prompts, scaled the same way
    (``test_sft_size / test_size`` of the test prompts: 1,000 of 2,000 on the full data).
    """

    splits: str = _f(
        "train",
        "output splits: train (one split), train-test, h4 (train/test x prefs/sft/gen, as HuggingFaceH4)",
        choices=SPLIT_LAYOUTS,
    )
    test_size: int = _f(2000, "prompts in the test split (train-test and h4)")
    max_test_fraction: float = _f(0.1, "the test split never takes more than this share of the prompts")
    test_sft_size: int = _f(1000, "h4: prompts in test_sft and test_gen (taken from the test prompts)")
    shard_rows: int = _f(50_000, "rows per parquet shard (data/{split}-0000i-of-0000N.parquet)")

    def __post_init__(self) -> None:
        check_numbers(self)
        if self.splits not in SPLIT_LAYOUTS:
            raise OptionError(
                f"splits: {self.splits!r} is not a layout; choose one of {', '.join(SPLIT_LAYOUTS)}"
            )
        if self.test_size < 0 or self.test_sft_size < 0:
            raise OptionError(
                f"test_size: {self.test_size}, test_sft_size: {self.test_sft_size}: sizes must be >= 0"
            )
        if self.splits == "h4" and self.test_sft_size > self.test_size:
            raise OptionError(
                f"test_sft_size: {self.test_sft_size} is larger than test_size: {self.test_size}; "
                "test_sft takes its prompts from the test split, so give a test_sft_size <= test_size "
                "(--test-sft-size)"
            )
        if not 0 <= self.max_test_fraction < 1:
            raise OptionError(f"max_test_fraction: {self.max_test_fraction} must be in [0, 1)")
        if self.shard_rows < 1:
            raise OptionError(f"shard_rows: {self.shard_rows} must be >= 1")


@dataclass
class CardOptions:
    """What the generated dataset card (README.md) says and measures."""

    pretty_name: str | None = _f(None, "title of the dataset card (default: the recipe's name)")
    license: str = _f("mit", "license of the output (UltraFeedback is MIT-licensed)")
    language: tuple[str, ...] = _f(("en",), "languages of the data (comma-separated)")
    task_categories: tuple[str, ...] = _f(("text-generation",), "Hub task categories (comma-separated)")
    tags: tuple[str, ...] = _f(("dpo", "preference", "ultrafeedback"), "Hub tags (comma-separated)")
    compare: bool = _f(True, "measure how often notus and zephyr binarization choose a different response")
    plots: bool = _f(True, "draw score distributions as PNG files in plots/ (needs matplotlib)")
    examples: int = _f(3, "examples of removed and flagged rows quoted in the card")

    def __post_init__(self) -> None:
        check_numbers(self)
        if self.examples < 0:
            raise OptionError(f"examples: {self.examples} must be >= 0")


#: Optional steps whose options class lives in another module: section -> (module, class name).
#: A new optional step: its module in notus_data/steps/ (an options dataclass, a Step taking it), one entry here,
#: and its section's place in SECTION_ORDER; its options become the section's keys and `notus-data run` options.
OPTIONAL_STEPS = {
    "flag": ("notus_data.steps.flag", "FlagOptions", "FlagStep"),
    "decontaminate": ("notus_data.steps.decontaminate", "DecontaminateOptions", "DecontaminateStep"),
}
#: The always-present sections and their options classes.
SECTIONS: dict[str, type] = {
    "load": LoadOptions,
    "source": SourceOptions,
    "review": ReviewOptions,
    "binarize": BinarizeOptions,
    "split": SplitOptions,
    "card": CardOptions,
}
SECTION_ORDER = ("load", "source", "review", "flag", "decontaminate", "binarize", "split", "card")
TOP_LEVEL = ("name", "description", "input")
#: Sections left out of a saved recipe while they hold only their defaults (``source``: UltraFeedback, detected).
OMITTED_WHEN_DEFAULT = ("source",)
#: Fields of optional steps that a recipe does not set (the pipeline gives them).
STEP_FIELDS_EXCLUDED = {"input", "output", "dry_run", "progress", "batch_size", "revision", "split"}


def optional_step_class(section: str, kind: str = "options") -> type | None:
    """The options class (``kind="options"``) or the step class (``"step"``) of an optional step, or None where
    this install lacks the step."""
    module, options_name, step_name = OPTIONAL_STEPS[section]
    name = options_name if kind == "options" else step_name
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def section_class(section: str) -> type | None:
    return SECTIONS[section] if section in SECTIONS else optional_step_class(section)


def section_fields(section: str) -> list[dataclasses.Field]:
    cls = section_class(section)
    if cls is None:
        return []
    excluded = STEP_FIELDS_EXCLUDED if section in OPTIONAL_STEPS else set()
    return [f for f in dataclasses.fields(cls) if f.init and f.name not in excluded]


def override_names() -> dict[str, str]:
    """Flat override name -> its section ("" for top-level names and the step switches)."""
    names = {name: "" for name in TOP_LEVEL}
    names.update({section: "" for section in OPTIONAL_STEPS})
    for section in SECTION_ORDER:
        for f in section_fields(section):
            if f.name in names:
                raise AssertionError(f"field name {f.name!r} of section {section!r} is not unique")
            names[f.name] = section
    return names


# ------------------------------------------------------------------------------------------ value coercion


def _base_type(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else Any), True
    return annotation, annotation is Any


def coerce(annotation: Any, value: Any, where: str) -> Any:
    """Read a YAML or CLI value as the field's type; a wrong type raises an error naming ``where``."""
    base, nullable = _base_type(annotation)
    if value is None:
        if nullable:
            return None
        raise OptionError(f"{where}: null is not allowed; give a value")

    def bad(expected: str) -> OptionError:
        return OptionError(f"{where}: {value!r} is not {expected}")

    if base is bool:
        if isinstance(value, bool):
            return value
        raise bad("true or false")
    if base is int:
        if isinstance(value, bool):
            raise bad("an integer")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad("an integer") from None
        if number != int(number):
            raise bad("an integer")
        return int(number)
    if base is float:
        if isinstance(value, bool):
            raise bad("a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad("a number") from None
    if base is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad("a string")
    if typing.get_origin(base) is tuple:
        if isinstance(value, str) and value.strip() in PRESETS:  # a named weight preset (nvidia-340b)
            return value.strip()
        args = typing.get_args(base)
        item = args[0] if args else str
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        return tuple(coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    return value


def build_section(cls: type, values: dict[str, Any], where: str, excluded: set[str] = frozenset()) -> Any:
    """Construct an options dataclass from a mapping; unknown keys and bad values raise naming them."""
    if not isinstance(values, dict):
        raise OptionError(f"{where}: expected a mapping of option names to values, got {values!r}")
    hints = typing.get_type_hints(cls)
    valid = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in excluded]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise OptionError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}")
    coerced = {name: coerce(hints[name], value, f"{where}.{name}") for name, value in values.items()}
    try:
        return cls(**coerced)
    except NotusDataError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise OptionError(f"{where}: {exc}") from None


def section_dict(options: Any) -> dict[str, Any]:
    """An options dataclass as plain YAML-ready values (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(options):
        if not f.init:
            continue
        value = getattr(options, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out
