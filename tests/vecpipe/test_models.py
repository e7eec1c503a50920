"""The embedding model: loading (offline), encoding, truncation, and the mock."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semantik.vecpipe.models import MockEmbedder, ModelLoadError, SentenceTransformerEmbedder, load_embedder
from vecpipe.conftest import Embedders
from vecpipe.helpers import make_settings


def test_the_real_model_gives_unit_float32_vectors(embedders: Embedders, model_path: str) -> None:
    embedder = embedders["float32"]
    result = embedder.embed(["A cat sleeps.", "A kitten is napping.", "Stock markets fell."], mode="query")
    assert result.vectors.dtype == np.float32 and result.vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = result.vectors[0] @ result.vectors[1], result.vectors[0] @ result.vectors[2]
    assert similar > 0.5 > unrelated
    assert (embedder.info.name, embedder.info.device, embedder.info.max_tokens) == (model_path, "cpu", 256)


def test_long_texts_are_counted_as_truncated(embedders: Embedders) -> None:
    # 256 tokens is the limit, [CLS] and [SEP] included: 254 words fit, 255 do not.
    result = embedders["float32"].embed(["short text", "word " * 300, "another " * 254, "another " * 255])
    assert result.truncated == 2


def test_a_missing_model_fails_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as raised:
        SentenceTransformerEmbedder(str(tmp_path / "no-model"), "float32", device="cpu")
    message = str(raised.value)
    assert f"cannot load DEFAULT_EMBEDDING_MODEL '{tmp_path / 'no-model'}' on cpu" in message
    assert "HF_HUB_OFFLINE=1" in message


def test_mock_vectors_are_deterministic_and_distinct() -> None:
    first, second = MockEmbedder("m", "float32"), MockEmbedder("m", "float32")
    a = first.embed(["same", "other"]).vectors
    b = second.embed(["same", "other"]).vectors
    assert np.array_equal(a, b) and not np.array_equal(a[0], a[1])
    assert first.info.mock is True and first.info.dimension == 384


def test_load_embedder_follows_the_mock_setting(tmp_path: Path) -> None:
    assert isinstance(load_embedder(make_settings(tmp_path)), MockEmbedder)


def test_large_batches_return_their_memory_and_queries_do_not(
    embedders: Embedders, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semantik.vecpipe import models

    calls: list[int] = []
    monkeypatch.setattr(models, "return_free_heap", lambda: calls.append(1))
    embedders["float32"].embed(["one query"], mode="query")
    assert calls == []
    embedders["float32"].embed([f"text {n}" for n in range(models.TRIM_AFTER_TEXTS)])
    assert calls == [1]


def test_truncation_counts_multibyte_texts_near_the_limit(embedders: Embedders) -> None:
    # 200 CJK characters are 600 UTF-8 bytes and about 200 WordPiece tokens: under the limit of 256.
    # 300 of them are over it, though each is a single character: the byte bound must not skip them.
    result = embedders["float32"].embed(["漢" * 200, "漢 " * 300])
    assert result.truncated == 1


def test_calls_in_flight_together_share_the_encoders_and_get_their_own_vectors(embedders: Embedders) -> None:
    from concurrent.futures import ThreadPoolExecutor

    embedder = embedders["float32"]
    calls = [
        [f"call {call}, text {n}: " + "lorem ipsum dolor " * (n % 7) for n in range(70)] + ["word " * 300]
        for call in range(4)
    ]
    alone = [embedder.embed(texts) for texts in calls]
    # Each call tokenises its long text untruncated (to count it) while the others' batches are
    # tokenised for the model and encoded, their batches interleaved on the same encoders.
    with ThreadPoolExecutor(4) as clients:
        together = list(clients.map(embedder.embed, calls))
    for one, other in zip(alone, together, strict=True):
        assert other.truncated == one.truncated == 1
        assert np.min(np.sum(one.vectors * other.vectors, axis=1)) > 0.9999


def test_a_cpu_runs_a_batch_of_documents_per_thread_and_a_query_on_every_thread(
    embedders: Embedders, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from semantik.vecpipe import models

    asked: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", asked.append)
    embedder = embedders["float32"]
    embedder.embed(["one query"], mode="query")
    assert asked == [models._torch_default_threads()]
    asked.clear()
    embedder.embed([f"text {n}" for n in range(100)], batch_size=32)
    assert asked == [1, 1, 1, 1]  # four batches, each on one encoder's single thread
    asked.clear()
    embedder.embed(["a small window of documents", "beside another in flight"])
    assert asked == [1]
