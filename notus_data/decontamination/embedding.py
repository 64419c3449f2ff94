"""The ``embedding`` method: rewordings found by a static sentence-embedding model, then verified by the words.

Off by default, and on only with a model (``embedding_model``): a Hub id (downloaded once into the Hugging Face
cache, the real way) or a local folder, in the model2vec layout (``model.safetensors`` with an ``embeddings``
tensor, ``tokenizer.json``; e.g. ``minishlab/potion-base-8M``, MIT) or the sentence-transformers
``StaticEmbedding`` layout (``0_StaticEmbedding/model.safetensors`` + ``tokenizer.json``). A static model is a
table of token vectors: a text's vector is the mean of its tokens' vectors, so embedding 64,000 prompts is a
tokenizer call and a sum, on CPU.

Every question (each MT-Bench turn, each code form) is embedded once per index and model. A prompt is embedded
whole and sentence by sentence (its first :data:`MAX_SENTENCES`, of at most :data:`MAX_CHARS` characters in
all), so a question reworded inside a longer prompt is still found. A (prompt, question) pair whose cosine
reaches ``embedding_threshold`` is a candidate; it is a match only when the words agree too:

* the prompt holds at least ``MIN_OVERLAP`` of the question's rare-word weight (the stems of
  :mod:`~notus_data.decontamination.paraphrase`): an embedding alone says "same topic", not "same question";
* and it holds every number of the question (not for gsm8k, whose numbers change): "in 1990" and "in 2010"
  embed alike but are different questions.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from notus_data.decontamination.index import DecontaminationIndex
from notus_data.decontamination.normalize import Encoded
from notus_data.decontamination.paraphrase import stem_table
from notus_data.errors import OptionError

MAX_CHARS = 4000
MAX_SENTENCES = 16
MIN_OVERLAP = 0.3
_SENTENCE_END = re.compile(r"(?<=[.?!:;])\s+|\n+")
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}
_MODELS: dict[str, StaticEmbedding] = {}
_LOCK = threading.Lock()


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file as numpy arrays (F32, F16, F64, BF16)."""
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(n))
        data = fh.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        raw = np.frombuffer(data[a:b], dtype=np.uint16 if meta["dtype"] == "BF16" else _DTYPES[meta["dtype"]])
        if meta["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        out[name] = raw.reshape(meta["shape"])
    return out


class StaticEmbedding:
    """A static embedding model: a tokenizer and one vector per token id."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        for sub in (folder, folder / "0_StaticEmbedding"):
            if (sub / "model.safetensors").exists() and (sub / "tokenizer.json").exists():
                break
        else:
            raise OptionError(
                f"embedding_model: {folder} holds no model.safetensors + tokenizer.json (model2vec or "
                "sentence-transformers StaticEmbedding layout); give a static embedding model's folder or Hub id"
            )
        try:
            from tokenizers import Tokenizer
        except ImportError as err:  # pragma: no cover - the train and test extras install it
            raise OptionError(
                "the embedding method needs the tokenizers package: pip install 'notus-data[embedding]'"
            ) from err
        tensors = read_safetensors(sub / "model.safetensors")
        matrices = [t for t in tensors.values() if t.ndim == 2]
        if not matrices:
            raise OptionError(f"embedding_model: {sub / 'model.safetensors'} holds no 2-D embedding table")
        vectors = np.asarray(
            tensors.get("embeddings", tensors.get("embedding.weight", matrices[0])), np.float32
        )
        self.size = len(vectors)  # token ids at or beyond it have no vector: the zero row appended here
        self.vectors = np.vstack([vectors, np.zeros((1, vectors.shape[1]), np.float32)])
        self.tokenizer = Tokenizer.from_file(str(sub / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def embed(self, texts: list[str], batch: int = 512) -> np.ndarray:
        """Unit vectors (float32, one row per text): the mean of each text's token vectors (zero: no token)."""
        out = np.zeros((len(texts), self.vectors.shape[1]), dtype=np.float32)
        for lo in range(0, len(texts), batch):
            encodings = self.tokenizer.encode_batch(texts[lo : lo + batch], add_special_tokens=False)
            lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
            ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
            ids = np.minimum(ids, self.size)  # beyond the table: the zero row
            if not len(ids):
                continue
            starts = np.cumsum(lengths) - lengths
            has = lengths > 0
            sums = np.add.reduceat(self.vectors[ids], starts[has], axis=0)
            out[lo + np.flatnonzero(has)] = sums
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def load_model(name: str) -> StaticEmbedding:
    """The model ``name`` (a local folder, else a Hub id fetched into the cache), loaded once per process."""
    with _LOCK:
        if name not in _MODELS:
            folder = Path(name).expanduser()
            if not folder.exists():
                folder = _download(name)
            _MODELS[name] = StaticEmbedding(folder)
        return _MODELS[name]


def _download(repo_id: str) -> Path:
    from notus_data.io.paths import hub_unreachable

    why = hub_unreachable()
    if why is not None:
        raise OptionError(
            f"embedding_model: {repo_id!r} is not a local folder and the Hub cannot be reached ({why}); give "
            "--embedding-model PATH to a downloaded copy"
        )
    from huggingface_hub import snapshot_download

    patterns = ["*.safetensors", "*tokenizer.json", "*.json"]
    return Path(snapshot_download(repo_id, allow_patterns=patterns))


def question_vectors(index: DecontaminationIndex, name: str) -> np.ndarray:
    """The unit vector of every question form of ``index`` under model ``name``, computed once per index."""
    cache = index.__dict__.setdefault("_embedding_vectors", {})
    if name not in cache:
        cache[name] = load_model(name).embed(list(index.questions))
    return cache[name]


def _windows(texts: pa.Array) -> tuple[np.ndarray, list[str]]:
    """(row of each window, window texts): each text whole, then its sentences when it has several."""
    rows, out = [], []
    for i, text in enumerate(pc.fill_null(texts, "").to_pylist()):
        text = text[:MAX_CHARS]
        rows.append(i)
        out.append(text)
        parts = [p for p in _SENTENCE_END.split(text) if p.strip()]
        if len(parts) > 1:
            rows.extend([i] * min(len(parts), MAX_SENTENCES))
            out.extend(parts[:MAX_SENTENCES])
    return np.asarray(rows, dtype=np.int64), out


def match(texts: pa.Array, enc: Encoded, index: DecontaminationIndex, name: str, threshold: float):
    """(rows, questions, cosines) of the embedding matches among ``texts`` (see the module docstring)."""
    empty = np.zeros(0, dtype=np.int64)
    q_vec = question_vectors(index, name)
    rows, windows = _windows(texts)
    if not windows:
        return empty, empty, np.zeros(0)
    w_vec = load_model(name).embed(windows)
    cand_w, cand_q, cos = [], [], []
    for lo in range(0, len(w_vec), 2048):  # window x question cosines, 2,048 windows at a time
        sims = w_vec[lo : lo + 2048] @ q_vec.T
        w, q = np.nonzero(sims >= threshold - 1e-6)
        cand_w.append(w + lo)
        cand_q.append(q)
        cos.append(sims[w, q])
    w, q, c = np.concatenate(cand_w), np.concatenate(cand_q), np.concatenate(cos).astype(np.float64)
    r = rows[w]
    ok = _words_agree(enc, index, r, q)
    return r[ok], q[ok], np.clip(c[ok], 0.0, 1.0)


def _words_agree(enc: Encoded, index: DecontaminationIndex, rows: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Whether each (row, question) candidate's text holds MIN_OVERLAP of the question's stem weight and all
    its numbers."""
    if not len(rows):
        return np.zeros(0, dtype=bool)
    table = stem_table(index)
    n_s = len(table.weight)
    ids = enc.ids.astype(np.int64)
    s = np.where(ids >= 0, table.of_word[np.maximum(ids, 0)], -1)
    keep = s >= 0
    held = np.unique(enc.row_ids()[keep] * n_s + s[keep])
    ptr, stems = _question_stems(index)
    counts = ptr[qs + 1] - ptr[qs]
    cand = np.repeat(np.arange(len(qs)), counts)
    st = stems[np.repeat(ptr[qs] - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))]
    key = rows[cand] * n_s + st
    pos = np.minimum(np.searchsorted(held, key), max(len(held) - 1, 0))
    found = held[pos] == key if len(held) else np.zeros(len(key), dtype=bool)
    masked = table.masked[qs[cand]]
    number = table.is_number[st] & ~masked
    weight = np.where(table.is_number[st] & masked, 0.0, table.weight[st])
    share = np.bincount(cand, weights=weight * found, minlength=len(qs)) / np.maximum(
        table.question_weight[qs], 1e-9
    )
    missing_numbers = np.bincount(cand, weights=number & ~found, minlength=len(qs))
    return (share >= MIN_OVERLAP - 1e-12) & (missing_numbers == 0)


def _question_stems(index: DecontaminationIndex) -> tuple[np.ndarray, np.ndarray]:
    """(ptr, stems): the distinct stems of question q are ``stems[ptr[q]:ptr[q + 1]]``."""
    got = index.__dict__.get("_question_stems")
    if got is None:
        table = stem_table(index)
        n_s = len(table.weight)
        s = table.of_word[index.tokens.ids.astype(np.int64)]
        q = index.tokens.row_ids()
        keep = s >= 0
        key = np.unique(q[keep] * n_s + s[keep])
        ptr = np.zeros(index.num_questions + 1, dtype=np.int64)
        np.cumsum(np.bincount(key // n_s, minlength=index.num_questions), out=ptr[1:])
        got = index.__dict__["_question_stems"] = (ptr, key % n_s)
    return got
