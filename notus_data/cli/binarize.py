"""``notus-data binarize`` and ``notus-data compare``: thin wrappers over the library functions."""

from __future__ import annotations

import click

from notus_data.cli._common import handle_errors, options_from, progress_option, quiet_option
from notus_data.engines import EngineOptions
from notus_data.io import LoadOptions, report_path
from notus_data.jobs.binarize import CurationOptions, binarize
from notus_data.jobs.compare import compare
from notus_data.sources import SourceOptions
from notus_data.steps.binarize import BinarizeOptions
from notus_data.steps.compare import CompareOptions


@click.command("binarize")
@click.argument("input")
@click.argument("output")
@options_from(BinarizeOptions, CurationOptions, SourceOptions, LoadOptions, EngineOptions)
@progress_option
@quiet_option
@handle_errors
def binarize_command(input: str, output: str, quiet: bool, **options: object) -> None:
    """Score INPUT (a Hub id or a local file or folder in the UltraFeedback schema, or another source format: see
    --source-format) and write chosen/rejected pairs to OUTPUT (.parquet, .jsonl, or a folder for save_to_disk).
    The report goes to OUTPUT.report.json.

    \b
    Examples:
      notus-data binarize data/ultrafeedback-sample.parquet out/pairs.parquet
      notus-data binarize data/ultrafeedback-sample.parquet out/h4.jsonl --strategy zephyr --format h4
      notus-data binarize data/ultrafeedback-sample.parquet out/clean.parquet --benchmark-file data/truthfulqa-questions.jsonl
      notus-data binarize openbmb/UltraFeedback out/notus.parquet --decontaminate truthfulqa --min-margin 1
      notus-data binarize nvidia/HelpSteer2 out/helpsteer2.parquet --weights nvidia-340b --format cleaned
    """
    report = binarize(input, output, **options)
    if not quiet:
        report.render()
    click.echo(f"{report.rows_out:,} pairs written to {output} (report: {report_path(output)})", err=True)


@click.command("compare")
@click.argument("input")
@click.option("--output", default=None, help="also write the counts as JSON to this file")
@options_from(CompareOptions, LoadOptions, EngineOptions, exclude=("ray_write",))
@progress_option
@quiet_option
@handle_errors
def compare_command(input: str, quiet: bool, **options: object) -> None:
    """Binarize INPUT two ways and report how often the chosen response differs, overall and by source.

    \b
    Examples:
      notus-data compare data/ultrafeedback-sample.parquet
      notus-data compare data/ultrafeedback-sample.parquet --a best-vs-worst --b zephyr --output cmp.json
    """
    result = compare(input, **options)
    if not quiet:
        result.render()
    rate = "n/a" if result.rate is None else f"{result.rate:.1%}"
    click.echo(f"chosen differs in {result.chosen_differs:,} of {result.both:,} prompts ({rate})", err=True)
