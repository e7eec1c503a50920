"""Progress inside a batch: embed windows sized to the embedder's speed, and the time left."""

from __future__ import annotations

from datetime import timedelta

import pytest

from semantik.shared.models import Operation, OperationStatus, utcnow
from semantik.worker import pipeline
from semantik.worker.pipeline import BatchTimes, Outcome, Target
from semantik.worker.scanning import FoundFile
from worker.fakes import FakeVectors


class Clock:
    """Stands in for time.perf_counter: an embed call of n texts takes n / rate seconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Windows(list[int]):
    """A pipeline.Progress that keeps the size of each embed call it hears of."""

    def prepared(self, documents: int, chunks: int) -> None:
        pass

    def embedded(self, chunks: int) -> None:
        self.append(chunks)


def _write(rate: float, chunks: int, embed_batch: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from semantik.worker import chunking

    clock, vectors, windows = Clock(), FakeVectors(), Windows()
    embed = vectors.embed

    def slow_embed(texts: list[str], **kwargs: object) -> list[list[float]]:
        clock.now += len(texts) / rate
        return embed(texts, **kwargs)

    monkeypatch.setattr(pipeline.time, "perf_counter", clock)
    monkeypatch.setattr(vectors, "embed", slow_embed)
    vectors.create_collection("v")
    target = Target("c", "v", 100, 0, 1 << 20, embed_batch, 1000, 10, 30.0)
    outcome = Outcome(FoundFile("/d/a.txt", 1, "/d"), "doc")
    outcome.chunks = [chunking.Chunk(index, f"text {index}", 0, 1, 2) for index in range(chunks)]
    with pipeline.VectorStream(target, vectors, windows) as stream:
        stream.write([outcome], BatchTimes()).result()
    return windows


def test_a_slow_embedder_gets_windows_of_a_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    windows = _write(rate=10.0, chunks=200, embed_batch=256, monkeypatch=monkeypatch)
    assert windows[:2] == [pipeline.FIRST_WINDOW] * 2  # both sent before either is back
    assert set(windows[2:-1]) == {int(10.0 * pipeline.WINDOW_SECONDS)}  # 40 texts: 4 s each
    assert sum(windows) == 200


def test_a_fast_embedder_gets_the_largest_windows_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    windows = _write(rate=500.0, chunks=1000, embed_batch=256, monkeypatch=monkeypatch)
    assert windows[:3] == [pipeline.FIRST_WINDOW, pipeline.FIRST_WINDOW, 256] and max(windows) == 256
    assert sum(windows) == 1000


def test_windows_never_pass_the_configured_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(_write(rate=1.0, chunks=20, embed_batch=4, monkeypatch=monkeypatch)) == {4}


def _operation(**meta: int) -> Operation:
    return Operation(
        status=OperationStatus.PROCESSING,
        documents_total=10,
        started_at=utcnow() - timedelta(seconds=100),
        meta=meta,
    )


def test_the_time_left_is_the_rate_so_far_over_the_chunks_expected() -> None:
    operation = _operation(documents_prepared=5, chunks_prepared=50, chunks_embedded=25)
    assert operation.chunks_expected == 100  # 10 chunks a document, 10 documents
    assert operation.eta_seconds == pytest.approx(300, abs=2)  # 75 chunks left at 0.25 chunks/s


def test_no_estimate_before_anything_is_parsed_or_embedded() -> None:
    assert (_operation().chunks_expected, _operation().eta_seconds) == (None, None)
    assert _operation(documents_prepared=5, chunks_prepared=50).eta_seconds is None
    finished = _operation(documents_prepared=10, chunks_prepared=100, chunks_embedded=100)
    finished.status = OperationStatus.COMPLETED
    assert finished.eta_seconds is None
