"""``notus-data decontaminate``: a thin wrapper over :func:`notus_data.jobs.decontaminate.decontaminate`."""

from __future__ import annotations

import click

from notus_data.cli._common import handle_errors, options_from, progress_option, quiet_option
from notus_data.decontamination.options import DecontaminateOptions
from notus_data.engines import EngineOptions
from notus_data.io import LoadOptions, report_path
from notus_data.jobs.decontaminate import decontaminate, evidence_path


@click.command("decontaminate")
@click.argument("input")
@click.argument("output")
@options_from(DecontaminateOptions, LoadOptions, EngineOptions, exclude=("ray_write",))
@click.option("--dry-run", is_flag=True, help="write the evidence and the report, not the cleaned output")
@progress_option
@quiet_option
@handle_errors
def decontaminate_command(input: str, output: str, quiet: bool, **options: object) -> None:
    """Remove the rows of INPUT that hold a benchmark question (TruthfulQA by default: its source, and exact,
    normalized, n-gram and near-duplicate copies of its 817 questions) and write the rest to OUTPUT (.parquet,
    .jsonl, or a folder). INPUT is raw UltraFeedback or binarized pairs (any binarize format), a local file or
    folder, or a Hub id. Beside OUTPUT: OUTPUT.decontamination.parquet (.jsonl for a .jsonl output), one row per
    removed row with the benchmark, the matched question, the method and its score; and OUTPUT.report.json.

    \b
    Examples:
      notus-data decontaminate pairs.parquet clean.parquet
      notus-data decontaminate pairs.jsonl clean.jsonl --benchmark-file truthfulqa=questions.jsonl
      notus-data decontaminate openbmb/UltraFeedback uf-clean.parquet --check-responses --dry-run
      notus-data decontaminate pairs.parquet clean.parquet --benchmark truthfulqa,cais/mmlu:all \\
          --benchmark-split test
    """
    report = decontaminate(input, output, **options)
    section = report.steps.get("decontaminate", {})
    if not quiet:
        report.render()
        for method, count in section.get("by_method", {}).items():
            click.echo(f"  removed by {method}: {count:,}", err=True)
    removed = section.get("rows_removed", 0)
    where = (
        "nothing written (dry run)"
        if options.get("dry_run")
        else f"{report.rows_with_pairs:,} rows written to {output}"
    )
    click.echo(
        f"{removed:,} of {report.rows_in:,} rows hold a benchmark question; {where} "
        f"(evidence: {evidence_path(output)}, report: {report_path(output)})",
        err=True,
    )
