"""Recipes: one command (or one call) from UltraFeedback-shaped data to a Hub-ready preference data set.

:func:`run` (:mod:`notus_data.recipes.runner`) runs a recipe; :mod:`notus_data.recipes.config` holds the
:class:`Recipe` dataclass and the YAML loading; :mod:`notus_data.recipes.splits` the split rule and the shards.

>>> bundled_recipes()
['multi-binarized', 'notus-chat-clean', 'notus-cleaned', 'notus-v1', 'notus-v1-drawties', 'zephyr']
"""

from __future__ import annotations

from notus_data.recipes.config import Recipe, bundled_recipes, load_recipe, resolve_recipe
from notus_data.recipes.runner import run

__all__ = ["Recipe", "bundled_recipes", "load_recipe", "resolve_recipe", "run"]
