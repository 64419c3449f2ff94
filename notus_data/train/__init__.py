"""The bundled DPO training stage (``notus-data train``): TRL's DPOTrainer on the pairs notus-data publishes.

Importing this package is cheap; torch, transformers and trl load when :func:`train` runs
(``pip install 'notus-data[train]'``).

>>> from notus_data.train import RECIPES
>>> sorted(RECIPES)
['notus-v1', 'zephyr']
"""

from __future__ import annotations

from notus_data.train.config import RECIPES, TrainConfig, resolve_config
from notus_data.train.template import ZEPHYR_CHAT_TEMPLATE, prepare_tokenizer, render_zephyr

__all__ = [
    "RECIPES",
    "TrainConfig",
    "TrainResult",
    "ZEPHYR_CHAT_TEMPLATE",
    "prepare_tokenizer",
    "render_zephyr",
    "resolve_config",
    "train",
]


def __getattr__(name: str):
    # trainer.py pulls in datasets/pyarrow helpers; load it on first use.
    if name in ("train", "TrainResult"):
        from notus_data.train import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'notus_data.train' has no attribute {name!r}")
