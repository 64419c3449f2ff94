"""The embedding method, with a static embedding model built here in the model2vec layout (no model can be
downloaded in CI): its loading (safetensors + tokenizer.json), the cosine candidates, and the verification by
words and numbers that keeps a same-topic prompt or a changed number from being removed.

The model gives synonyms one vector ("occurs" = "happens", "consume" = "eat", ...), so what it finds is a
rewording that the word-level methods miss; it says nothing about the quality of a real model
(docs/decontamination.md says what to expect from one)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pyarrow as pa
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from notus_data.decontamination import DecontaminateOptions
from notus_data.decontamination.embedding import StaticEmbedding, read_safetensors
from notus_data.decontamination.index import BenchmarkQuestion, DecontaminationIndex
from notus_data.decontamination.matchers import MatchSettings, match_texts
from notus_data.errors import OptionError

QUESTIONS = [
    "What happens if you eat watermelon seeds?",
    "Which country won the football world cup in 1990?",
    "Why do veins appear blue under the skin?",
]
SYNONYMS = [("happens", "occurs"), ("eat", "consume", "swallow"), ("country", "nation"), ("won", "took")]
WORDS = sorted(
    {w for q in QUESTIONS for w in q.lower().replace("?", " ").split()}
    | {w for group in SYNONYMS for w in group}
    | set("if someone what the tell me was winner of in 2010 why are blue looking sky today nice".split())
)


def write_safetensors(path, tensors: dict[str, np.ndarray]) -> None:
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("potion-tiny")
    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(folder / "tokenizer.json"))
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(vocab), 32)).astype(np.float32)
    vectors[0] = 0.0  # unknown
    for group in SYNONYMS:
        for w in group[1:]:
            vectors[vocab[w]] = vectors[vocab[group[0]]]
    write_safetensors(folder / "model.safetensors", {"embeddings": vectors})
    (folder / "config.json").write_text("{}")
    return folder


def test_safetensors_and_tokenizer_are_read(model_dir):
    tensors = read_safetensors(model_dir / "model.safetensors")
    assert tensors["embeddings"].shape == (len(WORDS) + 1, 32)
    model = StaticEmbedding(model_dir)
    v = model.embed(
        ["What occurs if you consume watermelon seeds", "what happens if you eat watermelon seeds", ""]
    )
    assert np.allclose(np.linalg.norm(v[:2], axis=1), 1.0) and not v[2].any()
    assert float(v[0] @ v[1]) == pytest.approx(1.0, abs=1e-5)


def test_rewordings_found_and_verified(model_dir):
    index = DecontaminationIndex.build(BenchmarkQuestion("tqa", q) for q in QUESTIONS)
    prompts = pa.array(
        [
            "If someone were to consume watermelon seeds, what occurs?",  # reworded: found
            "Nice sky today. Tell me: which nation took the football world cup in 1990?",  # inside a longer prompt
            "Which nation took the football world cup in 2010?",  # another year: another question
            "What happens to the sky today?",  # same words, other question
            "Why does the sky look blue?",
        ]
    )
    lexical = match_texts(prompts, index, MatchSettings())
    assert 0 not in lexical.row.tolist()  # the word-level methods miss the rewording
    settings = MatchSettings(
        methods=("exact", "normalized", "ngram", "near_duplicate", "embedding"),
        embedding_model=str(model_dir),
        embedding_threshold=0.8,
    )
    found = match_texts(prompts, index, settings)
    pairs = zip(found.question.tolist(), found.method.tolist(), strict=True)
    by_row = dict(zip(found.row.tolist(), pairs, strict=True))
    assert by_row[0] == (0, "embedding")
    assert by_row[1][0] == 1
    assert 2 not in by_row  # the number check
    assert 3 not in by_row and 4 not in by_row
    # the same answer whatever the chunking of the input
    again = match_texts(pa.chunked_array([prompts.slice(0, 2), prompts.slice(2)]), index, settings)
    assert again.row.tolist() == found.row.tolist() and again.question.tolist() == found.question.tolist()


def test_options(model_dir, tmp_path):
    opts = DecontaminateOptions(embedding_model=str(model_dir))
    assert "embedding" in opts.methods and opts.match_settings().embedding_model == str(model_dir)
    with pytest.raises(OptionError, match="embedding needs a model; give --embedding-model"):
        DecontaminateOptions(methods="exact,embedding")
    with pytest.raises(OptionError, match="embedding_threshold"):
        DecontaminateOptions(embedding_model=str(model_dir), embedding_threshold=1.5)
    with pytest.raises(OptionError, match="no model.safetensors"):
        match_texts(
            pa.array(["x"]),
            DecontaminationIndex.build([BenchmarkQuestion("tqa", QUESTIONS[0])]),
            MatchSettings(methods=("embedding",), embedding_model=str(tmp_path)),
        )
