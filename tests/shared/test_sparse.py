"""The sparse index's configuration and its BM25 encoder (shared by the worker and vecpipe)."""

from __future__ import annotations

import pytest

from semantik.shared import sparse
from semantik.shared.errors import ValidationError

FULL = {"enabled": True, "plugin_id": "bm25-local", "model_config_data": {"k1": 1.2, "b": 0.75}}


def test_a_config_is_stored_whole_when_enabled_and_as_none_otherwise() -> None:
    assert sparse.stored({}) == FULL
    assert sparse.stored({"model_config_data": {"k1": 2}}) == {
        **FULL,
        "model_config_data": {"k1": 2.0, "b": 0.75},
    }
    assert sparse.stored({"enabled": False}) is None and sparse.stored(None) is None
    assert sparse.parameters(FULL) == (1.2, 0.75) and sparse.parameters(None) is None
    assert sparse.enabled(FULL) and not sparse.enabled(None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("bm25", "must be an object or null"),
        ({"plugin_id": "splade-local"}, "plugin_id"),
        ({"model_config_data": {"k1": -1}}, "model_config_data.k1"),
        ({"model_config_data": {"avg_len": 100}}, "model_config_data.avg_len"),
        ({"enabled": True, "extra": 1}, "extra"),
    ],
)
def test_a_bad_override_is_a_400_naming_the_field(value: object, reason: str) -> None:
    with pytest.raises(ValidationError, match=f"sparse_index_config.*{reason}"):
        sparse.parse(value)


def test_documents_and_queries_share_one_tokenizer_that_keeps_identifiers_whole() -> None:
    (document,) = sparse.encode_documents(["Set work_mem for sorts; work_mem is per operation."])
    indices, values = sparse.encode_query("work_mem")
    assert values == [1.0] * len(indices)  # a query weighs each distinct term once
    assert len(indices) == 3  # "work", "mem" and "work_mem" itself
    assert set(indices) <= set(document["indices"])
    assert sparse.encode_documents(["Set work_mem for sorts; work_mem is per operation."]) == [document]
    assert sparse.encode_query("the of and") == ([], [])


def test_k1_and_b_change_the_document_weights_only() -> None:
    text = ["memory memory memory for the sort"]
    assert sparse.encode_documents(text, 1.2, 0.75) != sparse.encode_documents(text, 2.0, 0.75)
    assert (
        sparse.encode_documents(text, 1.2, 0.75)[0]["indices"]
        == sparse.encode_documents(text, 2.0, 0.0)[0]["indices"]
    )
