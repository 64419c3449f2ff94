"""Review flagged completions in Argilla and bring the verdicts back into the data.

The loop: ``notus-data flag`` marks suspicious completions; :mod:`~notus_data.review.push` sends them to an
Argilla dataset, one record per flagged prompt with every completion (:mod:`~notus_data.review.prompts`,
:mod:`~notus_data.review.gather`, guidelines from :mod:`~notus_data.review.guidelines`) or one per completion
(:mod:`~notus_data.review.settings`); reviewers answer there; :mod:`~notus_data.review.pull` turns the submitted
answers (:mod:`~notus_data.review.answers`) into a decisions file and measures agreement
(:mod:`~notus_data.review.agreement`); :mod:`~notus_data.review.apply` applies the decisions to the canonical
table before scoring and binarizing (:mod:`notus_data.steps.decisions`), no server needed.
:mod:`~notus_data.review.client` connects (ARGILLA_API_URL / ARGILLA_API_KEY; the key is never printed).

Nothing here imports argilla until a server is contacted, so ``import notus_data.review`` is cheap.
"""
