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
        render_flags(report)
    click.echo(
        f"{report.rows_out:,} flagged completions in {report.rows_with_pairs:,} prompts written to {output} "
        f"(report: {report_path(output)})",
        err=True,
    )


def render_flags(report: object) -> None:
    """Two tables: the prompts (flag removes none: each has flagged completions or not), and the completions
    checked and flagged, by reason (a completion may have several reasons)."""
    from rich.console import Console
    from rich.table import Table

    from notus_data.steps.flag import REASONS

    console = Console(stderr=True)
    prompts = Table(title="notus-data flag: prompts", header_style="bold")
    prompts.add_column("count", justify="right")
    prompts.add_column("prompts")
    prompts.add_row(f"{report.rows_in:,}", "prompts in (flag removes none)")
    prompts.add_row(f"{report.rows_with_pairs:,}", "with flagged completions")
    for reason, count in sorted(report.dropped.items()):
        prompts.add_row(
            f"{count:,}", "without flags" if reason == "not_flagged" else f"not checked: {reason}"
        )
    console.print(prompts)
    section = report.steps.get("flag", {})
    completions = Table(title="notus-data flag: completions", header_style="bold")
    completions.add_column("count", justify="right")
    completions.add_column("completions")
    completions.add_column("flagged when")
    completions.add_row(f"{section.get('completions', 0):,}", "checked", "")
    completions.add_row(f"{report.rows_out:,}", "[bold]flagged[/bold]", "by one reason or more:")
    for reason, count in section.get("by_reason", {}).items():
        completions.add_row(f"{count:,}", f"  {reason}", REASONS.get(reason, ""))
    console.print(completions)
    report.render_problems(console)
