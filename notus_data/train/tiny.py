"""A tiny causal LM and tokenizer built locally, to try the DPO stage on a CPU without downloading a model.

:func:`make_tiny_model` trains a byte-level BPE tokenizer on the texts of a pair dataset (or on texts you give)
and saves a randomly initialised 2-layer Llama (hidden size 32) with it: a few hundred kilobytes, seconds to
build, deterministic for a seed. It learns nothing useful; it runs the real trainer end to end.

    notus-data tiny-model ./small-model --dataset out/zephyr
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from notus_data.errors import NotusDataError, OptionError

SPECIAL_TOKENS = ["</s>", "<|system|>", "<|user|>", "<|assistant|>"]
MAX_TEXTS = 2000


def dataset_texts(dataset: str | Path, limit: int = MAX_TEXTS) -> list[str]:
    """Prompt and response texts of the first ``limit`` pairs of a pair dataset (any format the stage reads)."""
    from notus_data.train.data import DataSummary, convert_split, load_pairs

    source = load_pairs(dataset)
    pairs = convert_split(
        source.train.select(range(min(limit, source.train.num_rows))), "train", DataSummary("")
    )
    texts: list[str] = []
    for column in ("prompt", "chosen", "rejected"):
        for turns in pairs[column]:
            texts.extend(turn["content"] for turn in turns)
    return texts


def make_tiny_model(
    output: str | Path,
    *,
    dataset: str | Path | None = None,
    texts: Iterable[str] | None = None,
    vocab_size: int = 400,
    hidden_size: int = 32,
    num_layers: int = 2,
    seed: int = 0,
) -> Path:
    """Build a tiny Llama and its tokenizer in ``output`` (a new or empty folder) and return the folder.

    The tokenizer is trained on ``texts``, else on the texts of ``dataset``; it has no chat template (the stage
    sets the Zephyr one). ``hidden_size``/``num_layers`` make it bigger (benchmarks/train_gpu_check.py): heads of
    64 dimensions (at least 4), half as many key/value heads, an MLP twice the hidden size.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = Path(output)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise OptionError(f"output: {folder} exists and is not an empty folder; give a new folder")
    if texts is None:
        if dataset is None:
            raise OptionError("give dataset (a pair dataset to train the tokenizer on) or texts")
        texts = dataset_texts(dataset)
    texts = [t for t in texts if t]
    if not texts:
        raise NotusDataError("no text to train the tokenizer on")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=SPECIAL_TOKENS,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>")
    heads = max(4, hidden_size // 64)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=heads,
        num_key_value_heads=heads // 2,
        max_position_embeddings=2048,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
