"""``notus-data review push | pull | apply``: thin wrappers over :mod:`notus_data.review`."""

from __future__ import annotations

import click

from notus_data.cli._common import handle_errors, options_from, progress_option, quiet_option
from notus_data.io import LoadOptions, report_path
from notus_data.review.apply import apply
from notus_data.review.client import ConnectionOptions
from notus_data.review.pull import PullOptions, pull
from notus_data.review.push import PushOptions, push
from notus_data.steps.binarize import BinarizeOptions


@click.group("review")
def review_group() -> None:
    """Review flagged completions in Argilla: push them, pull the verdicts, apply them.

    \b
    The server comes from ARGILLA_API_URL and ARGILLA_API_KEY (or --api-url / --api-key). For a local server:
      bash scripts/install-argilla-server.sh && bash scripts/argilla-stack.sh start && source .stack/env
    """


@review_group.command("push")
@click.argument("flagged")
@options_from(PushOptions, ConnectionOptions)
@progress_option
@quiet_option
@handle_errors
def push_command(flagged: str, quiet: bool, **options: object) -> None:
    """Push FLAGGED (the output of `notus-data flag`) to the Argilla review dataset, creating it if needed:
    one record per flagged prompt with all its completions (--level completion: one per flagged completion).
    Records already there are left as they are, so pushing twice adds nothing twice.

    \b
    Examples:
      notus-data review push out/flagged.parquet
      notus-data review push out/flagged.parquet --dataset uf-bug --reasons score10_low_rating,score10_mid_rating
      notus-data review push out/flagged.parquet --dataset two-reviewers --min-submitted 2
    """
    report = push(flagged, **options)
    if not quiet:
        report.render()
    for warning in report.info.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"{report.rows_out:,} records added to '{report.info['dataset']}' at {report.info['api_url']} "
        f"({report.dropped.get('already_in_dataset', 0):,} already there)",
        err=True,
    )


@review_group.command("pull")
@click.argument("output")
@options_from(PullOptions, ConnectionOptions)
@progress_option
@quiet_option
@handle_errors
def pull_command(output: str, quiet: bool, **options: object) -> None:
    """Read the submitted answers of the review dataset and write one decision per reviewed completion to OUTPUT
    (.parquet or .jsonl). Several annotators: the majority verdict wins, a tie goes to the most recent answer.
    Prints the reviewers' agreement and every answer it could not use, with its record.

    \b
    Examples:
      notus-data review pull out/decisions.parquet
      notus-data review pull out/decisions.jsonl --dataset uf-bug --min-answers 2
    """
    report = pull(output, **options)
    if not quiet:
        report.render()
    verdict = report.info["agreement"]["verdict"]
    if verdict["items"]:
        click.echo(
            f"verdict agreement: {verdict['share_agreeing']:.0%} of {verdict['items']:,} completions answered by two "
            f"or more (Krippendorff's alpha {verdict['krippendorff_alpha']}, Cohen's kappa {verdict['cohen_kappa']})",
            err=True,
        )
    for u in report.info["unusable_answers"]:
        where = f", {u['question']}" if "question" in u else ""
        click.echo(f"unusable answer: record {u['record_id']}{where}, {u['user']}: {u['problem']}", err=True)
    click.echo(f"{report.rows_out:,} decisions written to {output} (report: {report_path(output)})", err=True)


@review_group.command("apply")
@click.argument("input")
@click.argument("output")
@click.option("--decisions", required=True, help="decisions file from `notus-data review pull`")
@options_from(BinarizeOptions, LoadOptions)
@progress_option
@quiet_option
@handle_errors
def apply_command(input: str, output: str, quiet: bool, **options: object) -> None:
    """Apply review decisions to INPUT (corrected overall_scores, discarded completions), then score and binarize
    it like `notus-data binarize` into OUTPUT. Needs no server: the decisions are the file `review pull` wrote.
    Changes go to OUTPUT.changes.jsonl, counts to the report. --score human pairs by the reviewers' rankings.

    \b
    Examples:
      notus-data review apply data/ultrafeedback-sample.parquet out/pairs.parquet --decisions out/decisions.parquet
      notus-data review apply data/ultrafeedback-sample.parquet out/h4.jsonl --decisions d.jsonl --strategy zephyr
    """
    report = apply(input, output, **options)
    if not quiet:
        report.render()
    counts = report.steps.get("decisions", {})
    click.echo(
        f"{report.rows_out:,} pairs written to {output}; decisions: {counts.get('score_corrected', 0)} scores "
        f"corrected, {counts.get('discarded', 0)} completions discarded, {counts.get('text_differs', 0)} not applied (text differs), "
        f"{counts.get('unmatched', 0)} unmatched (changes: {report.info['changes']})",
        err=True,
    )


from notus_data.cli.review_pairs import pairs_group  # noqa: E402 (review pairs push | pull | apply)

review_group.add_command(pairs_group)
