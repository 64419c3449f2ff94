"""The ``notus-data`` command line. Commands are imported only when they run, so ``--help`` stays quick."""

from __future__ import annotations

import importlib

import click

from notus_data import __version__

#: command name -> (module, attribute, one-line help shown by ``notus-data --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "binarize": (
        "notus_data.cli.binarize",
        "binarize_command",
        "Score and binarize UltraFeedback into pairs.",
    ),
    "compare": (
        "notus_data.cli.binarize",
        "compare_command",
        "Compare two binarizations: how often chosen differs.",
    ),
    "convert": (
        "notus_data.cli.convert",
        "convert_command",
        "Convert pairs from any pairs format to another (trl, kto, llama-factory, ...).",
    ),
    "decontaminate": (
        "notus_data.cli.decontaminate",
        "decontaminate_command",
        "Remove benchmark prompts (TruthfulQA, MT-Bench, ...); review the evidence.",
    ),
    "explain": (
        "notus_data.cli.explain",
        "explain_command",
        "Explain why a published pairs set differs from ours; test its draw rule.",
    ),
    "flag": ("notus_data.cli.flag", "flag_command", "Flag completions whose critique score looks wrong."),
    "review": (
        "notus_data.cli.review",
        "review_group",
        "Review flagged completions in Argilla: push, pull, apply.",
    ),
    "train": ("notus_data.cli.train", "train_command", "Train a model with DPO (TRL) on published pairs."),
    "tiny-model": (
        "notus_data.cli.train",
        "tiny_model_command",
        "Build a tiny model and tokenizer locally, to try train on a CPU.",
    ),
    "run": (
        "notus_data.cli.run",
        "run_command",
        "Run a recipe: UltraFeedback to a Hub-ready data set with a card.",
    ),
    "publish": (
        "notus_data.cli.publish",
        "publish_command",
        "Upload a run's folder to the Hugging Face Hub.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.version_option(__version__, prog_name="notus-data")
def main() -> None:
    """notus-data: curate preference data for LLM alignment.

    \b
    Load UltraFeedback, score it, binarize it into chosen/rejected pairs,
    remove benchmark prompts, review suspicious scores in Argilla, publish, train.
    Run `notus-data COMMAND --help` for a command's options and examples.
    """
