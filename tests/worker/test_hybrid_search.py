"""Hybrid search end to end, as real processes: webui, vecpipe (real model, embedded store), worker.

A query that only names an identifier finds the one document that contains it first in sparse and
in hybrid mode, whatever the dense ranking (printed, not asserted: a small model often misses exact
names). A collection made without a sparse index refuses sparse work until a reindex gives it one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from worker.conftest import start_process
from worker.test_end_to_end import SAMPLES, _api, _finished

# Each identifier is in one document only; the prose document talks about the same things without
# naming them, which is what a dense model is drawn to.
DOCUMENTS = {
    "monitoring.txt": (
        "To see what every server process is doing, query pg_stat_activity: one row per backend with "
        "its current query, its state and what it waits for."
    ),
    "timeouts.txt": (
        "Sessions that sit inside an open transaction hold their locks. Set "
        "idle_in_transaction_session_timeout so the server ends them after a while."
    ),
    "watching.txt": (
        "Watching a database server: which clients are connected, which statements are running right "
        "now, which ones are blocked behind others, and how long each has been busy. Keep an eye on "
        "long-running work and on clients that connect and then do nothing for hours."
    ),
}
QUERIES = {"pg_stat_activity": "monitoring.txt", "idle_in_transaction_session_timeout": "timeouts.txt"}


def _ranked(http, collection_id: str, query: str, mode: str | None) -> tuple[list[str], dict]:
    body = {"collection_id": collection_id, "query": query, "k": 10}
    answer = http.post("/api/v2/search/single", json=body | ({"search_mode": mode} if mode else {}))
    assert answer.status_code == 200, answer.text
    return [hit["file_name"] for hit in answer.json()["results"]], answer.json()


def test_an_identifier_is_found_first_by_sparse_and_hybrid_search(
    vecpipe_server, webui_server: str, worker_env, documents_root: Path, tmp_path: Path, processes
) -> None:
    folder = documents_root / "hybrid"
    shutil.copytree(SAMPLES, folder)
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text + "\n")
    processes.append(start_process("worker", worker_env, tmp_path / "worker.log", " ready."))
    http = _api(webui_server)
    fields = {"chunk_size": 200, "chunk_overlap": 40}
    collection = http.post("/api/v2/collections", json={"name": "hybrid", **fields}).json()
    assert collection["sparse_index_config"]["enabled"] is True  # on by default
    _finished(http, collection["initial_operation_id"])
    added = http.post(f"/api/v2/collections/{collection['id']}/sources", json={"source_path": str(folder)})
    _finished(http, added.json()["id"])

    for query, expected in QUERIES.items():
        dense, _ = _ranked(http, collection["id"], query, "dense")
        print(
            f"{query}: dense ranks {expected} at {dense.index(expected) + 1 if expected in dense else '>10'}"
        )
        for mode in ("sparse", "hybrid"):
            assert _ranked(http, collection["id"], query, mode)[0][0] == expected, (query, mode)
        found, answer = _ranked(http, collection["id"], query, None)  # the default mode
        assert (answer["search_mode_used"], found[0]) == ("hybrid", expected)

    # A collection without the sparse index: refused in sparse mode, until a reindex adds one.
    plain = http.post("/api/v2/collections", json={"name": "plain", "sparse_index_config": None, **fields})
    plain = plain.json()
    _finished(http, plain["initial_operation_id"])
    _finished(
        http,
        http.post(f"/api/v2/collections/{plain['id']}/sources", json={"source_path": str(folder)}).json()[
            "id"
        ],
    )
    refused = http.post(
        "/api/v2/search/single",
        json={"collection_id": plain["id"], "query": "pg_stat_activity", "search_mode": "sparse"},
    )
    assert refused.status_code == 400 and "needs a sparse index" in refused.json()["detail"]
    reindex = http.post(f"/api/v2/collections/{plain['id']}/reindex", json={"sparse_index_config": {}})
    assert reindex.status_code == 202, reindex.text
    _finished(http, reindex.json()["id"])
    assert http.get(f"/api/v2/collections/{plain['id']}").json()["sparse_index_config"]["enabled"] is True
    assert _ranked(http, plain["id"], "pg_stat_activity", "sparse")[0][0] == "monitoring.txt"
