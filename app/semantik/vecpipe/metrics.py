"""vecpipe's metrics: embedding and search latency, batch sizes and texts embedded, counted as they
happen; the points of each collection and the model (an info gauge) read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from semantik.vecpipe.models import Embedder
from semantik.vecpipe.store.base import VectorStore

EMBED_SECONDS = Histogram(
    "semantik_vecpipe_embed_duration_seconds", "Time to embed one /embed request's texts",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)  # fmt: skip
EMBED_BATCH = Histogram(
    "semantik_vecpipe_embed_batch_size", "Texts in one /embed request",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)  # fmt: skip
TEXTS = Counter("semantik_vecpipe_texts_embedded_total", "Texts embedded, documents' and queries'")
SEARCH_SECONDS = Histogram(
    "semantik_vecpipe_search_duration_seconds", "Time to answer a search, the query's embedding included",
    ["mode"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip


class StoreAndModel(Collector):
    """semantik_vecpipe_collection_points{collection} and semantik_vecpipe_model_info."""

    def __init__(self, store: VectorStore, embedder: Embedder):
        self.store = store
        self.embedder = embedder

    def collect(self) -> Iterator[GaugeMetricFamily]:
        info = self.embedder.info
        model = GaugeMetricFamily(
            "semantik_vecpipe_model_info", "The embedding model served, as labels",
            labels=["model", "device", "dtype", "quantization"],
        )  # fmt: skip
        model.add_metric([info.name, info.device, info.effective_dtype, info.quantization], 1)
        yield model
        points = GaugeMetricFamily(
            "semantik_vecpipe_collection_points", "Points stored per collection", labels=["collection"]
        )
        for name in self.store.list_collections():
            points.add_metric([name], self.store.collection_info(name).points_count)
        yield points
