"""The guidelines of a review dataset, written for the data pushed: what to judge, what each flag means, what each
answer does to the data.

>>> text = prompt_guidelines({"score10_low_rating": 3}, prompts=2, min_submitted=1)
>>> "score10_low_rating" in text and "3 completions" in text and "chosen_mismatch" not in text
True
"""

from __future__ import annotations

from notus_data.steps.flag import PLAIN_WORDS

ANSWERS = """\
### What each answer does to the data

- **confirm**: the overall_score stands; nothing changes (the confirmation is counted).
- **correct**: the completion's overall_score becomes the **corrected score** you give (1-10). A correction
  without a score cannot be used: `notus-data review pull` lists it with its record, so give both.
- **exclude**: the completion keeps its text but loses its scores, so it takes no part in any preference pair.
- No answer for a completion: no decision; it stays as it is.
{ranking}
Argilla's own **Discard** button is not an answer: a record you discard there gives no decision (pull lists
any verdict it carries). Use **exclude** to keep a completion out of the pairs, and press **Submit**; a draft
(saved, not submitted) does not count either.
"""

RANKING = """\
- **ranking** (optional): order the completions best first (put empty slots last). A ranking is a human score
  source: `--score human` pairs the prompt by your ranking (best first) and falls back to the mean aspect rating
  for prompts nobody ranked. It changes no overall_score.
"""


def _flags(counts: dict[str, int]) -> str:
    lines = ["### What the flags mean", ""]
    for reason, sentence in PLAIN_WORDS.items():
        n = counts.get(reason, 0)
        if n:
            lines.append(
                f"- **{reason}** ({n:,} completion{'s' if n != 1 else ''} in this dataset): {sentence}"
            )
    return "\n".join(lines) + "\n"


def _distribution(min_submitted: int) -> str:
    if min_submitted == 1:
        return (
            "A record leaves the queue after **one** submitted answer (`--min-submitted 1`): each record gets one "
            "reviewer's verdict.\n"
        )
    return (
        f"A record stays in the queue until **{min_submitted}** reviewers have submitted it "
        f"(`--min-submitted {min_submitted}`); pull takes the majority verdict, a tie goes to the most recent.\n"
    )


def prompt_guidelines(counts: dict[str, int], *, prompts: int, min_submitted: int) -> str:
    """Guidelines for a prompt-level dataset holding ``prompts`` records and ``counts`` flags by reason."""
    return (
        "## Review the scores of flagged completions, one prompt at a time\n\n"
        f"Each of the {prompts:,} records is one prompt with every completion of it. `notus-data flag` marked some "
        "of them (the ones that say **flagged**): their GPT-4 critique score (`overall_score`, 1-10) may be wrong. "
        "Each completion shows its response, its scores (overall_score, the mean of its four aspect ratings on "
        "1-5 and on the 1-10 scale, each aspect rating), its flags in plain words, and the GPT-4 critique.\n\n"
        "**What to judge**: for each flagged completion, does the overall_score fit the response, read against "
        "the instruction and the other completions? Answer its *verdict* (and the *corrected score* with "
        "*correct*); unflagged completions may be left unanswered. The suggestions come from the flag rules; "
        "change them freely. The note is optional.\n\n"
        + _flags(counts)
        + "\n"
        + ANSWERS.format(ranking=RANKING)
        + "\n"
        + _distribution(min_submitted)
    )


def completion_guidelines(counts: dict[str, int], *, min_submitted: int) -> str:
    """Guidelines for a completion-level dataset (one record per flagged completion)."""
    return (
        "## Review the critique score of flagged completions\n\n"
        "Each record is one completion that `notus-data flag` marked as suspicious: its GPT-4 critique score "
        "(`overall_score`, 1-10) may be wrong. Read the instruction, the response, its scores and the critique, "
        "then answer the *verdict* (and the *corrected score* with *correct*).\n\n"
        + _flags(counts)
        + "\n"
        + ANSWERS.format(ranking="")
        + "\n"
        + _distribution(min_submitted)
    )


def pair_guidelines(pairs: int, *, min_submitted: int) -> str:
    """Guidelines for a pair dataset holding ``pairs`` records."""
    return (
        "## Check the preference pairs before training\n\n"
        f"Each of the {pairs:,} records is one prompt and the two responses of its preference pair, shown as "
        "**A** and **B** in an order drawn at random for each prompt (position tells nothing about which one "
        "the data chose).\n\n"
        "**What to judge**: which response answers the instruction better?\n\n"
        "### What each answer does to the data\n\n"
        "- **A** or **B**: if it is the response the data chose, the pair is kept; if it is the other one, the "
        "pair is swapped (chosen and rejected trade places).\n"
        "- **tie**: the pair teaches nothing; it is dropped.\n"
        "- **both unusable**: neither response should be trained on; the pair is dropped.\n"
        "- The note is optional; it is kept with the decision.\n\n"
        "Argilla's own **Discard** button is not an answer (pull lists any answer it carries); press **Submit**.\n\n"
        + _distribution(min_submitted)
    )
