"""``notus-data review pairs push | pull | apply``: thin wrappers over :mod:`notus_data.review.pairs`."""

from __future__ import annotations

import click

from notus_data.cli._common import handle_errors, options_from, progress_option, quiet_option
from notus_data.io import report_path
from notus_data.review.client import ConnectionOptions
from notus_data.review.pairs import PairPushOptions, push_pairs
from notus_data.review.pairs_apply import apply_pairs
from notus_data.review.pairs_pull import PairPullOptions, pull_pairs

PAIRS_DATASET = "notus-data-pairs"


def _dataset_default(command):
    """The connection options, with the pair review dataset's own default name."""
    return click.option(
        "--dataset", "dataset", default=PAIRS_DATASET, show_default=True, help="name of the Argilla dataset"
    )(options_from(ConnectionOptions, exclude=("dataset",))(command))


@click.group("pairs")
def pairs_group() -> None:
    """Review the final chosen/rejected pairs, blind: push them as A/B, pull the answers, apply them.

    \b
    An answer A or B that names the rejected response swaps the pair; tie and both unusable drop it.
    """


@pairs_group.command("push")
@click.argument("pairs")
@options_from(PairPushOptions)
@_dataset_default
@progress_option
@quiet_option
@handle_errors
def push_command(pairs: str, quiet: bool, **options: object) -> None:
    """Push PAIRS (a binarize or run output, any pairs format) to the pair review dataset, A/B in an order drawn
    from (seed, prompt_id). Pairs already there are left as they are.

    \b
    Examples:
      notus-data review pairs push out/pairs.parquet
      notus-data review pairs push out/h4.jsonl --dataset uf-pairs --min-submitted 2
    """
    report = push_pairs(pairs, **options)
    if not quiet:
        report.render()
    for warning in report.info["warnings"]:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(
        f"{report.rows_out:,} pair records added to '{report.info['dataset']}' at {report.info['api_url']} "
        f"({report.dropped.get('already_in_dataset', 0):,} already there)",
        err=True,
    )


@pairs_group.command("pull")
@click.argument("output")
@options_from(PairPullOptions)
@_dataset_default
@progress_option
@quiet_option
@handle_errors
def pull_command(output: str, quiet: bool, **options: object) -> None:
    """Write one decision per reviewed pair to OUTPUT (.parquet or .jsonl); unusable answers (drafts, Argilla
    discards with a verdict) are listed in the report with their record.

    \b
    Examples:
      notus-data review pairs pull out/pair-decisions.parquet
      notus-data review pairs pull out/pair-decisions.jsonl --min-answers 2
    """
    report = pull_pairs(output, **options)
    if not quiet:
        report.render()
    unusable = report.info["unusable_answers"]
    agree = report.steps["agreement"]
    click.echo(
        f"{report.rows_out:,} pair decisions written to {output}; {len(unusable)} answers not usable (listed in "
        f"{report_path(output)}); agreement: {agree['agree_share']} over {agree['records_with_2_or_more']} records",
        err=True,
    )


@pairs_group.command("apply")
@click.argument("input")
@click.argument("output")
@click.option("--decisions", required=True, help="pair-decisions file from `notus-data review pairs pull`")
@click.option("--batch-size", "batch_size", default=10_000, show_default=True, help="pairs read per batch")
@progress_option
@quiet_option
@handle_errors
def apply_command(input: str, output: str, quiet: bool, **options: object) -> None:
    """Apply pair decisions to INPUT (the pairs that were pushed) into OUTPUT, in INPUT's columns: keep, swap or
    drop each reviewed pair. Needs no server. Changes go to OUTPUT.changes.jsonl, counts to the report.

    \b
    Example:
      notus-data review pairs apply out/pairs.parquet out/pairs-reviewed.parquet --decisions out/pair-decisions.parquet
    """
    report = apply_pairs(input, output, **options)
    if not quiet:
        report.render()
    c = report.steps["pair_decisions"]
    click.echo(
        f"{report.rows_out:,} pairs written to {output}; {c['kept']} kept, {c['swapped']} swapped, "
        f"{c['dropped']} dropped, {c['text_differs']} not applied (text differs), {c['unmatched']} unmatched "
        f"(changes: {report.info['changes']})",
        err=True,
    )
