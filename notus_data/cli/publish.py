"""``notus-data publish``: a thin wrapper over :func:`notus_data.jobs.publish.publish`."""

from __future__ import annotations

import click

from notus_data.cli._common import handle_errors, options_from, progress_option
from notus_data.jobs.publish import PublishOptions, publish


@click.command("publish")
@click.argument("folder", type=click.Path(file_okay=False))
@click.argument("repo_id")
@options_from(PublishOptions)
@progress_option
@handle_errors
def publish_command(folder: str, repo_id: str, **options: object) -> None:
    """Upload FOLDER (written by `notus-data run`) to the Hub as the dataset REPO_ID (owner/name).

    The folder is checked first (card metadata, data files, row counts, features). The token comes from HF_TOKEN
    or `hf auth login`; it is never printed.

    \b
    Examples:
      notus-data publish out/notus-cleaned me/ultrafeedback-notus-cleaned
      notus-data publish out/zephyr me/ultrafeedback-zephyr --private --revision v1
    """
    result = publish(folder, repo_id, **options)
    splits = ", ".join(f"{name} {rows:,}" for name, rows in result.summary.splits.items())
    click.echo(
        f"published {len(result.summary.files)} files ({splits} rows) to {result.repo_url} "
        f"(revision {result.revision}): {result.commit_url}",
        err=True,
    )
