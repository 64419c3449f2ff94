"""``notus-data run``: a thin wrapper over :func:`notus_data.recipes.run`."""

from __future__ import annotations

import click
from click.core import ParameterSource

from notus_data.cli._common import handle_errors, options_from, progress_option, quiet_option
from notus_data.engines import EngineOptions
from notus_data.io import LoadOptions
from notus_data.recipes.config import (
    STEP_FIELDS_EXCLUDED,
    CardOptions,
    ReviewOptions,
    SplitOptions,
    bundled_recipes,
    optional_step_class,
    resolve_recipe,
)
from notus_data.recipes.sink import run_facts_path
from notus_data.sources import SourceOptions
from notus_data.steps.binarize import BinarizeOptions

_STEP_OPTIONS = [cls for cls in (optional_step_class("flag"), optional_step_class("decontaminate")) if cls]


def _step_options(command: click.Command) -> click.Command:
    for cls in reversed(_STEP_OPTIONS):
        command = options_from(cls, exclude=tuple(STEP_FIELDS_EXCLUDED))(command)
    return command


@click.command("run")
@click.argument("recipe")
@click.option(
    "--input", "input", default=None, help="input: a Hub id or a local file/folder (default: the recipe's)"
)
@click.option("--output", default=None, help="output folder (default: out/NAME)")
@click.option("--name", default=None, help="name of the data set (default: the recipe's)")
@click.option(
    "--flag/--no-flag", "flag", default=None, help="run the flag step (default: as the recipe says)"
)
@click.option(
    "--decontaminate/--no-decontaminate",
    "decontaminate",
    default=None,
    help="run the decontaminate step (default: as the recipe says)",
)
@click.option("--show-recipe", is_flag=True, help="print the resolved recipe (YAML) and exit without running")
@options_from(LoadOptions, SourceOptions, ReviewOptions)
@_step_options
@options_from(BinarizeOptions, SplitOptions, CardOptions)
@options_from(EngineOptions, exclude=("ray_write",))
@progress_option
@quiet_option
@handle_errors
def run_command(recipe: str, output: str | None, show_recipe: bool, quiet: bool, **options: object) -> None:
    """Run RECIPE (a bundled recipe or a YAML file) and write a Hub-ready folder: parquet shards per split, a
    README.md dataset card with plots, the evidence of each step, the resolved recipe and the report.

    Every other option overrides the recipe's value of the same name; the defaults shown are the options' own,
    used only where the recipe does not set them. Bundled recipes: notus-v1, notus-v1-drawties, notus-cleaned, notus-chat-clean,
    zephyr, multi-binarized.

    \b
    Examples:
      notus-data run notus-cleaned --input data/ultrafeedback-sample.parquet \\
          --benchmark-file data/truthfulqa-questions.jsonl --output out/notus-cleaned
      notus-data run zephyr --input data/ultrafeedback-sample.parquet --no-decontaminate
      notus-data run notus-v1 --min-margin 1 --splits train-test --test-size 500
      notus-data run my-recipe.yaml --show-recipe
    """
    ctx = click.get_current_context()
    engine = {"engine": options.pop("engine"), "ray_address": options.pop("ray_address")}
    overrides = {
        key: value
        for key, value in options.items()
        if key != "progress" and ctx.get_parameter_source(key) is not ParameterSource.DEFAULT
    }
    if show_recipe:
        click.echo(resolve_recipe(recipe, **overrides).to_yaml(), nl=False)
        return
    from notus_data.recipes.runner import run

    report = run(recipe, output=output, progress=bool(options.get("progress")), **engine, **overrides)
    if not quiet:
        report.render()
    folder = report.info["output"]
    rows = report.steps.get("split", {}).get("rows", {})
    splits = ", ".join(f"{name} {n:,}" for name, n in rows.items())
    click.echo(
        f"{report.rows_out:,} pairs ({splits}) written to {folder} in {report.info['seconds']:.1f} s "
        f"(card: {folder}/README.md; report: {folder}/report.json; timings: {run_facts_path(folder)})",
        err=True,
    )


__all__ = ["run_command", "bundled_recipes"]
