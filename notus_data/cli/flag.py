"""``notus-data flag``: a thin wrapper over :func:`notus_data.jobs.flag.flag`."""

from __future__ import annotations

import click

from notus_data.cli._common import handle_errors, options_from, progress_option, quiet_option
from notus_data.engines import EngineOptions
from notus_data.io import LoadOptions, report_path
from notus_data.jobs.flag import flag
from notus_data.steps.flag import FlagOptions


@click.command("flag")
@click.argument("input")
@click.argument("output")
@options_from(FlagOptions, LoadOptions, EngineOptions, exclude=("ray_write",))
@progress_option
@quiet_option
@handle_errors
def flag_command(input: str, output: str, quiet: bool, **options: object) -> None:
    """Flag completions of INPUT (UltraFeedback-shaped, with critiques) whose overall_score looks wrong, and write
    them with their reasons, scores and critique to OUTPUT (.parquet, .jsonl, or a folder). The report (counts by
    reason and by source) goes to OUTPUT.report.json.

    \b
    Rules (--rules): score10_low_rating, score10_mid_rating (the data set's own fix rule for overall_score 10),
    score_rating_disagree, negative_critique, chosen_mismatch.

    \b
    Examples:
      notus-data flag data/ultrafeedback-sample.parquet out/flagged.parquet
      notus-data flag data/ultrafeedback-sample.parquet out/bug.jsonl --rules score10_low_rating,score10_mid_rating
      notus-data flag openbmb/UltraFeedback out/flagged.parquet --disagreement 5 --high-score 9
    """
    report = flag(input, output, **options)
    if not quiet:
        report.render()
        by_reason = report.steps.get("flag", {}).get("by_reason", {})
        for reason, count in sorted(by_reason.items()):
            click.echo(f"  {reason}: {count:,}", err=True)
    click.echo(
        f"{report.rows_out:,} flagged completions in {report.rows_with_pairs:,} prompts written to {output} "
        f"(report: {report_path(output)})",
        err=True,
    )
