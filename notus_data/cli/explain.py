"""``notus-data explain``: a thin wrapper over :func:`notus_data.jobs.explain.explain`."""

from __future__ import annotations

import click
from click.core import ParameterSource

from notus_data.cli._common import handle_errors, options_from, progress_option, quiet_option
from notus_data.io import LoadOptions
from notus_data.jobs.explain import ExplainOptions, explain
from notus_data.recipes.config import STEP_FIELDS_EXCLUDED, ReviewOptions, optional_step_class
from notus_data.steps.binarize import BinarizeOptions

_DECONTAMINATE = optional_step_class("decontaminate")


def _decontaminate_options(command: click.Command) -> click.Command:
    if _DECONTAMINATE is None:
        return command
    return options_from(_DECONTAMINATE, exclude=tuple(STEP_FIELDS_EXCLUDED))(command)


@click.command("explain")
@click.argument("ours")
@click.argument("published")
@click.option(
    "--output", default=None, help="write the attribution, one row per pair and row (.parquet, .jsonl)"
)
@options_from(ExplainOptions)
@click.option(
    "--decontaminate/--no-decontaminate",
    "decontaminate",
    default=None,
    help="run the decontaminate step on OURS (default: as the recipe says)",
)
@options_from(LoadOptions, ReviewOptions)
@_decontaminate_options
@options_from(BinarizeOptions)
@progress_option
@quiet_option
@handle_errors
def explain_command(ours: str, published: str, quiet: bool, **options: object) -> None:
    """Explain why PUBLISHED (a pairs set: a file, a folder or a Hub id, in any pair format) differs from OURS,
    and test which draw rule it followed.

    OURS is a run's folder or a pairs file, or UltraFeedback-shaped input, then binarized afresh with --recipe
    (default notus-v1) so that every row we removed is known with its reason. Prompts are joined on their
    normalized text; every prompt on one side only, and every pair that differs, gets a reason. Options after
    --recipe say how OURS is binarized and override the recipe's values; the defaults shown are the options' own.

    \b
    Examples:
      notus-data explain data/ultrafeedback-sample.parquet out/notus-v1 --output out/explain.parquet
      notus-data explain openbmb/UltraFeedback argilla/ultrafeedback-binarized-preferences --output out/explain.parquet
      notus-data explain out/pairs.parquet other-pairs.jsonl
    """
    ctx = click.get_current_context()
    given = {k: v for k, v in options.items() if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT}
    fixed = {name: options[name] for name in ("output", "progress", "batch_size")}
    fixed |= {
        name: given.pop(name) for name in ("recipe", "published_split", "published_revision") if name in given
    }
    given = {k: v for k, v in given.items() if k not in fixed}
    result = explain(ours, published, **fixed, **given)
    if not quiet:
        result.render()
    where = f"; attribution written to {result.output}" if result.output else ""
    verdict = "" if result.rule_test is None else f"; draw rule: {result.rule_test.verdict}"
    click.echo(f"{result.attribution.num_rows:,} rows attributed{verdict}{where}", err=True)
