"""The jobs: each builds a pipeline from the steps and hands it to an engine (:mod:`notus_data.pipeline`).

``binarize``, ``flag``, ``decontaminate``, ``compare`` and ``publish``; the recipes (:mod:`notus_data.recipes`)
and the review loop (:mod:`notus_data.review`) sit beside them. The same functions are ``notus_data.binarize``
and so on, and the CLI commands of the same names call them with the same keywords.
"""
