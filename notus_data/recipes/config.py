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

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notus_data.errors import NotusDataError, OptionError
from notus_data.io.paths import is_local
from notus_data.io.sources import DEFAULT_HUB_ID, LoadOptions
from notus_data.recipes.sections import (  # noqa: F401  (re-exported: the recipe's sections)
    OMITTED_WHEN_DEFAULT,
    OPTIONAL_STEPS,
    RECIPES_DIR,
    SECTION_ORDER,
    SECTIONS,
    SPLIT_LAYOUTS,
    STEP_FIELDS_EXCLUDED,
    TOP_LEVEL,
    CardOptions,
    ReviewOptions,
    SplitOptions,
    build_section,
    coerce,
    optional_step_class,
    override_names,
    section_class,
    section_dict,
    section_fields,
)
from notus_data.sources.format import SourceOptions
from notus_data.steps.binarize import BinarizeOptions

# ------------------------------------------------------------------------------------------------ the recipe


#: Settings of how the input is read, which never change the data (left out of a saved recipe).
READ_ONLY_SETTINGS = ("batch_size", "streaming")


@dataclass
class Recipe:
    """Every setting of one data run. ``flag`` and ``decontaminate`` are None when the step is off."""

    name: str = "custom"
    description: str = ""
    input: str = DEFAULT_HUB_ID
    load: LoadOptions = field(default_factory=LoadOptions)
    source: SourceOptions = field(default_factory=SourceOptions)
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
                kwargs[name] = coerce(str, data[name], f"{origin}: {name}")
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
            if section in OMITTED_WHEN_DEFAULT and value == type(value)():
                continue
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

    def to_yaml(self, folder: str | os.PathLike | None = None) -> str:
        """The recipe as a YAML file, to be saved in ``folder`` (a run's output folder).

        How the input is read (``batch_size``, ``streaming``) never changes the data, so it is left out: two runs
        that differ only there write the same file. Local paths (the input, decisions, benchmark files) are written
        relative to ``folder``, where the file is read back from (:func:`resolve_recipe` reads the paths of a
        recipe file relative to it), so the saved recipe runs again from any folder; a local input has no Hub
        revision.
        """
        import yaml

        data = self.to_dict()
        data["load"] = {k: v for k, v in data["load"].items() if k not in READ_ONLY_SETTINGS}
        if folder is not None:
            if is_local(self.input):
                data["load"]["revision"] = None

            def beside(path: str) -> str:
                return (
                    os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
                    if is_local(path)
                    else path
                )

            data = rebase_paths(data, beside)
        return rerun_header(self.name) + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)

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
    if origin == str(
        path
    ):  # a recipe file: its relative paths are relative to the file, not to where one stands
        here = path.parent

        def from_file(value: str) -> str:
            beside = here / value
            return os.path.relpath(beside) if not os.path.isabs(value) and beside.exists() else value

        data = rebase_paths(data, from_file)
    base = data.pop("base", None)
    if base is not None:
        base_data, _ = _recipe_data(str(base), (*seen, origin))
        name = data.get("name", path.stem)  # a derived recipe is named for its own file, not its base
        data = _merge(base_data, data)
        data["name"] = name
    return data, origin


#: The one command that runs a saved recipe again: the card, the file's header and the README all give it.
RERUN = "notus-data run FOLDER/recipe.yaml --output NEW_FOLDER"


def rerun_header(name: str) -> str:
    return (
        f"# notus-data recipe (resolved): {name}\n"
        f"# Run it again, from any folder: {RERUN}  (FOLDER: the folder that holds this file;\n"
        "# the paths below are relative to it)\n"
    )


def rebase_paths(data: dict[str, Any], move: Any) -> dict[str, Any]:
    """``data`` (a recipe's nested values) with ``move`` applied to every path in it: the input, the decisions
    file, the benchmark files (``NAME=PATH`` keeps its name) and the index cache. ``move`` leaves what it does not
    take for a local path (a Hub id) as it is."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}

    def one(value: Any) -> Any:
        return move(value) if isinstance(value, str) and value else value

    if "input" in data:
        data["input"] = one(data["input"])
    if isinstance(data.get("review"), dict) and "decisions" in data["review"]:
        data["review"]["decisions"] = one(data["review"]["decisions"])
    decontaminate = data.get("decontaminate")
    if isinstance(decontaminate, dict):
        files = []
        for entry in decontaminate.get("benchmark_file") or []:
            name, sep, path = str(entry).partition("=")
            files.append(f"{name}={one(path)}" if sep and "/" not in name else one(str(entry)))
        if "benchmark_file" in decontaminate:
            decontaminate["benchmark_file"] = files
        if decontaminate.get("index_cache"):
            decontaminate["index_cache"] = one(decontaminate["index_cache"])
    return data


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
