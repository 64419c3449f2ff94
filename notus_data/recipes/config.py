"""Recipes: one YAML file holds every setting of a data run, section by section.

A recipe is a :class:`Recipe`: the input, then one section per pipeline step, each section the options
dataclass of that step (the same dataclass, the same field names as the step's own command)::

    name: notus-cleaned
    description: ...
    input: openbmb/UltraFeedback
    load: {revision: null, split: train, streaming: false, batch_size: 4096}   # notus_data.io.LoadOptions
    review: {decisions: null}                                              # ReviewOptions
    flag: {}                 # the flag step's options; false or null: the step is off
    decontaminate: {benchmark: [truthfulqa]}   # the decontaminate step's options; false or null: off
    binarize: {strategy: notus, format: cleaned, seed: 42}                 # notus_data.steps.binarize.BinarizeOptions
    split: {splits: train}                                                 # SplitOptions
    card: {license: mit}                                                   # CardOptions

A file may start from a bundled recipe (``base: zephyr``) and set only what differs. Unknown keys, at the top
or inside a section, are an error that names them and lists the valid ones.

Overrides (:meth:`Recipe.with_overrides`, the ``notus-data run`` options) use the field names alone
(``min_margin=1``, ``--min-margin 1``): every field name is unique across the sections. ``flag`` and
``decontaminate`` also take a bool (on with the recipe's or the default options / off).

>>> recipe = load_recipe("zephyr").with_overrides(min_margin=1.0)
>>> recipe.binarize.strategy, recipe.binarize.min_margin, recipe.split.splits
('zephyr', 1.0, 'h4')
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notus_data.errors import NotusDataError, OptionError
from notus_data.io.sources import DEFAULT_HUB_ID, LoadOptions
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
    "review": ReviewOptions,
    "binarize": BinarizeOptions,
    "split": SplitOptions,
    "card": CardOptions,
}
SECTION_ORDER = ("load", "review", "flag", "decontaminate", "binarize", "split", "card")
TOP_LEVEL = ("name", "description", "input")
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


def _coerce(annotation: Any, value: Any, where: str) -> Any:
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
        args = typing.get_args(base)
        item = args[0] if args else str
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
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
    coerced = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in values.items()}
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


# ------------------------------------------------------------------------------------------------ the recipe


@dataclass
class Recipe:
    """Every setting of one data run. ``flag`` and ``decontaminate`` are None when the step is off."""

    name: str = "custom"
    description: str = ""
    input: str = DEFAULT_HUB_ID
    load: LoadOptions = field(default_factory=LoadOptions)
    review: ReviewOptions = field(default_factory=ReviewOptions)
    flag: Any = None
    decontaminate: Any = None
    binarize: BinarizeOptions = field(default_factory=BinarizeOptions)
    split: SplitOptions = field(default_factory=SplitOptions)
    card: CardOptions = field(default_factory=CardOptions)

    def __post_init__(self) -> None:
        self.input = os.fspath(self.input)
        if self.split.splits == "h4" and self.binarize.format != "h4":
            raise OptionError(
                f"recipe {self.name}: splits: h4 needs format: h4 (its *_sft and *_gen splits are message lists); "
                f"got format: {self.binarize.format}"
            )

    # ------------------------------------------------------------------------------------------ to/from dict

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "recipe") -> Recipe:
        """Build and validate a recipe from nested values (as in a YAML file)."""
        if not isinstance(data, dict):
            raise OptionError(f"{origin}: expected a mapping of sections, got {type(data).__name__}")
        valid = [*TOP_LEVEL, *SECTION_ORDER]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise OptionError(
                f"{origin}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}"
            )
        kwargs: dict[str, Any] = {}
        for name in TOP_LEVEL:
            if name in data:
                kwargs[name] = _coerce(str, data[name], f"{origin}: {name}")
        for section in SECTION_ORDER:
            if section not in data:
                continue
            kwargs[section] = _build_step(section, data[section], origin)
        try:
            return cls(**kwargs)
        except NotusDataError:
            raise
        except (TypeError, ValueError) as exc:
            raise OptionError(f"{origin}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Nested plain values, the form of a recipe file (the resolved recipe saved with the output)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in TOP_LEVEL}
        for section in SECTION_ORDER:
            value = getattr(self, section)
            if value is None:
                out[section] = False
            else:
                values = section_dict(value)
                if section in OPTIONAL_STEPS:
                    values = {k: v for k, v in values.items() if k not in STEP_FIELDS_EXCLUDED}
                out[section] = values
        # aspects/weights: as the scorer reads them (BinarizeOptions keeps what it was given)
        score = self.binarize.score_options()
        out["binarize"]["aspects"] = list(score.aspects)
        out["binarize"]["weights"] = None if score.weights is None else list(score.weights)
        return out

    def to_yaml(self) -> str:
        import yaml

        header = f"# notus-data recipe (resolved): {self.name}\n# Run it again: notus-data run recipe.yaml\n"
        return header + yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)

    # -------------------------------------------------------------------------------------------- overrides

    def with_overrides(self, **overrides: Any) -> Recipe:
        """A copy with flat overrides applied (``min_margin=1``, ``benchmark_file=...``, ``flag=False``).

        ``None`` leaves a value as the recipe has it. A section may also be given whole as a mapping
        (``binarize={"strategy": "zephyr"}``), merged over the recipe's values.
        """
        data = apply_overrides(self.to_dict(), overrides, self.name)
        return Recipe.from_dict(data, f"recipe {self.name} with overrides")


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any], name: str) -> dict[str, Any]:
    """Nested recipe values with flat overrides applied (see :meth:`Recipe.with_overrides`)."""
    names = override_names()
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    unknown = sorted(k for k in overrides if k not in names and k not in SECTION_ORDER)
    if unknown:
        raise OptionError(
            f"unknown option(s) {', '.join(unknown)} for recipe {name}; valid options: {', '.join(sorted(names))}"
        )
    for key, value in overrides.items():
        if value is None:
            continue
        section = names.get(key, "")
        if key in SECTION_ORDER and isinstance(value, dict):
            current = data.get(key)
            data[key] = {**(current if isinstance(current, dict) else {}), **value}
        elif key in OPTIONAL_STEPS:
            if not isinstance(value, bool):
                raise OptionError(f"{key}: {value!r} is not true or false")
            if not value:
                data[key] = False
            elif not isinstance(data.get(key), dict):
                data[key] = {}
        elif section == "":
            data[key] = value
        else:
            if not isinstance(data.get(section), dict):
                data[section] = {}  # setting an option of a step that is off turns it on
            data[section][key] = value
    return data


def _build_step(section: str, value: Any, origin: str) -> Any:
    where = f"{origin}: {section}"
    if section in OPTIONAL_STEPS:
        if value is None or value is False:
            return None
        if value is True:
            value = {}
        cls = optional_step_class(section)
        if cls is None:
            module, name, _ = OPTIONAL_STEPS[section]
            raise NotusDataError(
                f"{where}: this install has no {section} step ({module}.{name} is missing); "
                f"set '{section}: false' to run without it"
            )
        return build_section(cls, value, where, STEP_FIELDS_EXCLUDED)
    if value is None:
        value = {}
    return build_section(SECTIONS[section], value, where)


# -------------------------------------------------------------------------------------------------- loading


def bundled_recipes() -> list[str]:
    """Names of the recipes shipped with notus-data."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise OptionError(f"recipe file {path}: not valid YAML{where}: {problem}") from None
    except OSError as exc:
        raise OptionError(f"recipe file {path}: cannot read it ({exc.strerror})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise OptionError(f"recipe file {path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _recipe_data(recipe: str | os.PathLike, seen: tuple[str, ...] = ()) -> tuple[dict[str, Any], str]:
    text = os.fspath(recipe)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise OptionError(
                f"recipe {text!r}: no such file; bundled recipes: {', '.join(bundled_recipes())}"
            )
        origin = str(path)
    elif text in bundled_recipes():
        path, origin = RECIPES_DIR / f"{text}.yaml", f"recipe {text}"
    else:
        raise OptionError(
            f"recipe {text!r} is neither a bundled recipe ({', '.join(bundled_recipes())}) nor a YAML file"
        )
    if origin in seen:
        raise OptionError(f"{origin}: 'base' recipes form a loop ({' -> '.join([*seen, origin])})")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is not None:
        base_data, _ = _recipe_data(str(base), (*seen, origin))
        name = data.get("name", path.stem)  # a derived recipe is named for its own file, not its base
        data = _merge(base_data, data)
        data["name"] = name
    return data, origin


def load_recipe(recipe: str | os.PathLike | Recipe) -> Recipe:
    """A recipe by bundled name (``notus-v1``, ``notus-cleaned``, ``zephyr``, ``multi-binarized``) or YAML path.

    A file may say ``base: NAME`` (a bundled name or another file) to start from that recipe.
    """
    return resolve_recipe(recipe)


def resolve_recipe(recipe: str | os.PathLike | Recipe, **overrides: Any) -> Recipe:
    """A recipe (see :func:`load_recipe`) with flat overrides applied (see :meth:`Recipe.with_overrides`).

    Overrides apply before the recipe is built, so ``decontaminate=False`` turns off a step this install lacks.
    """
    if isinstance(recipe, Recipe):
        return recipe.with_overrides(**overrides) if overrides else recipe
    data, origin = _recipe_data(recipe)
    data.setdefault("name", Path(os.fspath(recipe)).stem)
    if overrides:
        data = apply_overrides(data, overrides, str(data["name"]))
        origin = f"{origin} with overrides"
    return Recipe.from_dict(data, origin)
