"""``notus-data convert``: a thin wrapper over :func:`notus_data.jobs.convert.convert`."""

from __future__ import annotations

import click

from notus_data.cli._common import handle_errors, options_from, progress_option, quiet_option
from notus_data.engines import EngineOptions
from notus_data.io import LoadOptions, report_path
from notus_data.jobs.convert import convert
from notus_data.steps.convert import ConvertOptions


@click.command("convert")
@click.argument("input")
@click.argument("output")
@options_from(ConvertOptions, LoadOptions, EngineOptions, exclude=("ray_write",))
@progress_option
@quiet_option
@handle_errors
def convert_command(input: str, output: str, quiet: bool, **options: object) -> None:
    """Write the pairs of INPUT (any pairs format: notus / Argilla flat, cleaned, h4, trl, openrlhf, llama-factory,
    TRL's prompt/chosen/rejected strings; a local file or folder or a Hub id) to OUTPUT (.parquet, .jsonl, or a
    folder) in --format. Rows that are no pair are counted with their reason in OUTPUT.report.json.

    \b
    Examples:
      notus-data convert pairs.parquet pairs.trl.parquet --format trl
      notus-data convert argilla/ultrafeedback-binarized-preferences-cleaned lf/uf.jsonl --format llama-factory
    """
    report = convert(input, output, **options)
    if not quiet:
        report.render()
    click.echo(f"{report.rows_out:,} rows written to {output} (report: {report_path(output)})", err=True)
