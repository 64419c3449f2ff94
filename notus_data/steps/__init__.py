"""The steps: one module per step, each a :class:`~notus_data.steps.base.Step` over Arrow batches.

===================  ==================================================================================
module               step
===================  ==================================================================================
:mod:`.decisions`    apply review decisions (corrected scores, discarded completions)
:mod:`.score`        score each completion (mean rating, overall_score, fine-grained_score)
:mod:`.flag`         flag completions whose critique score looks wrong
:mod:`.decontaminate` remove rows that hold a benchmark question
:mod:`.compare`      count where two binarizations choose a different response
:mod:`.profile`      score histograms for the card
:mod:`.binarize`     chosen/rejected pairs
===================  ==================================================================================

The contract is :mod:`.base`. A step module imports no engine, and no engine knows a step by name.
"""

#: step name -> "module:class", for documentation and tests (pipelines are built by the jobs and recipes).
STEPS = {
    "decisions": "notus_data.steps.decisions:DecisionsStep",
    "score": "notus_data.steps.score:ScoreStep",
    "flag": "notus_data.steps.flag:FlagStep",
    "decontaminate": "notus_data.steps.decontaminate:DecontaminateStep",
    "compare": "notus_data.steps.compare:CompareStep",
    "profile": "notus_data.steps.profile:ProfileStep",
    "binarize": "notus_data.steps.binarize:BinarizeStep",
}
