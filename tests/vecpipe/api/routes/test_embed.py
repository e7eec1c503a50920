"""POST /embed with mock embeddings: shape, normalisation, limits and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient


def test_embed_returns_one_unit_vector_per_text(api: TestClient) -> None:
    answer = api.post("/embed", json={"texts": ["alpha", "beta", "alpha"], "mode": "query", "batch_size": 2})
    assert answer.status_code == 200
    body = answer.json()
    vectors = np.array(body["embeddings"])
    assert vectors.shape == (3, 384) and body["dimension"] == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2]) and not np.array_equal(vectors[0], vectors[1])
    assert body["batch_count"] == 2
    assert (body["model_used"], body["truncated"], body["warnings"]) == ("test-model", 0, [])
    assert body["embedding_time_ms"] >= 0


def test_texts_over_the_model_limit_are_reported(api: TestClient) -> None:
    body = api.post("/embed", json={"texts": ["short", "word " * 300]}).json()
    assert body["truncated"] == 1
    assert body["warnings"] == [
        "1 of 2 texts exceed the model's limit of 256 tokens; each was embedded from its first tokens only"
    ]


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        ([], "at least 1 item"),
        ([""], "at least 1 character"),
        (["   \n"], "more than whitespace"),
        (["x"] * 1001, "at most 1000 items"),
        (["x" * 200_001], "at most 200000 characters"),
    ],
)
def test_bad_texts_are_refused_with_the_reason(api: TestClient, texts: list[str], reason: str) -> None:
    answer = api.post("/embed", json={"texts": texts})
    assert answer.status_code == 422
    assert reason in str(answer.json()["detail"])


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"mode": "passage"}, 422),
        ({"batch_size": 0}, 422),
        ({"batch_size": 257}, 422),
        ({"instruction": "x"}, 422),
    ],
)
def test_bad_options_are_refused(api: TestClient, extra: dict[str, object], status: int) -> None:
    assert api.post("/embed", json={"texts": ["x"], **extra}).status_code == status


def test_another_model_is_refused_naming_both(api: TestClient) -> None:
    answer = api.post("/embed", json={"texts": ["x"], "model_name": "other/model"})
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "model_name 'other/model' does not match the loaded model 'test-model'"
    }


def test_another_quantization_is_refused_naming_both(api: TestClient) -> None:
    answer = api.post("/embed", json={"texts": ["x"], "quantization": "int8"})
    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "quantization 'int8' does not match the loaded model's quantization 'float32'"
    }


def test_the_loaded_model_and_quantization_are_accepted(api: TestClient) -> None:
    answer = api.post("/embed", json={"texts": ["x"], "model_name": "test-model", "quantization": "float32"})
    assert answer.status_code == 200
