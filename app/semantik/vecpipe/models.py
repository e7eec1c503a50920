"""The embedding model: loaded once per process, quantized for real, or a deterministic mock for tests.

Vectors always leave here as float32, L2-normalised in float32: normalising a bfloat16 output in
bfloat16 alone cost 0.002 of cosine similarity in measurement, more than the whole bfloat16 model.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from semantik.shared.config import Quantization, Settings
from semantik.vecpipe.memory import return_free_heap

if TYPE_CHECKING:  # torch is imported only when a real model is loaded, never in mock mode
    from sentence_transformers import SentenceTransformer

    from semantik.vecpipe.quantization import CpuCapability, LoadPlan

log = logging.getLogger(__name__)
Mode = Literal["query", "document"]
MOCK_DIMENSION = 384
MOCK_MAX_TOKENS = 256
TRIM_AFTER_TEXTS = 16  # batches this large return their activation memory; single queries do not


class ModelLoadError(RuntimeError):
    """The model cannot be loaded; vecpipe refuses to start rather than answer 500s."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    device: str
    quantization: Quantization
    effective_dtype: str
    method: str
    dimension: int
    max_tokens: int
    mock: bool = False
    reason: str = ""  # why this dtype for the setting on this hardware
    parameter_dtypes: tuple[str, ...] = ()
    quantized_layers: int = 0
    weight_bytes: int = 0


@dataclass(frozen=True)
class Embedding:
    vectors: np.ndarray  # float32, one L2-normalised row per text
    truncated: int  # texts longer than the model's token limit, embedded from their first tokens


class Embedder(Protocol):
    info: ModelInfo

    def embed(self, texts: list[str], mode: Mode = "document", batch_size: int = 32) -> Embedding: ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class MockEmbedder:
    """Deterministic pseudo-random unit vectors from a hash of each text; no model, for fast tests only.

    Equal texts get equal vectors, so a query finds the document with the same text at score 1.0.
    """

    def __init__(self, name: str, quantization: Quantization, dimension: int = MOCK_DIMENSION):
        self.info = ModelInfo(
            name=name,
            device="cpu",
            quantization=quantization,
            effective_dtype="float32",
            method="mock: hashed random vectors, no model",
            dimension=dimension,
            max_tokens=MOCK_MAX_TOKENS,
            mock=True,
            reason="USE_MOCK_EMBEDDINGS=true",
        )

    def embed(self, texts: list[str], mode: Mode = "document", batch_size: int = 32) -> Embedding:
        rows = [self._vector(text) for text in texts]
        truncated = sum(1 for text in texts if len(text.split()) > self.info.max_tokens)
        return Embedding(_normalised(np.stack(rows)), truncated)

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.info.dimension)


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded once. A GPU encodes one call at a time (the device is
    shared); a CPU encodes each call's batches on a pool of single-threaded encoders (``_batched``)."""

    def __init__(
        self,
        name: str,
        quantization: Quantization,
        device: str | None = None,
        cpu: CpuCapability | None = None,  # another CPU's capability: the benchmark forces a path with it
    ):
        from semantik.vecpipe import quantization as quant

        plan = quant.plan_for(quantization, device or quant.choose_device(), cpu)
        started = time.perf_counter()
        self._model = _load(name, plan)
        if plan.dynamic_int8:
            quant.quantize_dynamic_int8(self._model)
        self._lock = threading.Lock()  # a GPU's calls, one at a time
        self._threads = _cpu_threads(plan.device)
        self._encoders = ThreadPoolExecutor(self._threads, "encode") if self._threads else None
        self.info = ModelInfo(
            name=name,
            device=plan.device,
            quantization=quantization,
            effective_dtype=plan.effective_dtype,
            method=plan.method,
            dimension=_dimension(self._model),
            max_tokens=_max_tokens(self._model),
            reason=plan.reason,
            parameter_dtypes=tuple(quant.parameter_dtypes(self._model)),
            quantized_layers=quant.quantized_layer_count(self._model),
            weight_bytes=quant.weight_bytes(self._model),
        )
        log.info(
            "loaded %s on %s as %s (%s) in %.1f s",
            name,
            plan.device,
            plan.effective_dtype,
            plan.method,
            time.perf_counter() - started,
        )

    @property
    def model(self) -> SentenceTransformer:
        """The loaded SentenceTransformer (tests and the benchmark inspect it)."""
        return self._model

    def embed(self, texts: list[str], mode: Mode = "document", batch_size: int = 32) -> Embedding:
        encode = self._model.encode_query if mode == "query" else self._model.encode_document
        if self._encoders is None:  # a GPU: the whole call at once
            with self._lock:
                truncated = self._count_truncated(texts)
                return Embedding(_normalised(_encoded(encode, texts, batch_size, 0)), truncated)
        truncated = self._count_truncated(texts)
        vectors = self._batched(encode, texts, batch_size, mode)
        if len(texts) >= TRIM_AFTER_TEXTS:
            return_free_heap()  # an idle vecpipe holds its model, not its largest batch
        return Embedding(_normalised(vectors), truncated)

    def _batched(self, encode: Callable, texts: list[str], batch_size: int, mode: Mode) -> np.ndarray:
        """The call's batches, texts of similar lengths in each, on a pool of encoders, one per core,
        each on one thread. Two single-threaded forwards outrun one on two threads and lose far less
        when another process takes a core for a moment (an intra-op parallel step waits for its
        slowest thread); measured on 2 cores, 552 real chunks: 96 texts/s on two threads, 112 on two
        encoders, and with a 10 % competitor beside them 87 against 107. Calls in flight together
        share the pool batch by batch, so no core waits for the last batch of a call. A query runs on
        every core's thread, for its latency; a window of documents, however small, on one (the
        worker keeps two in flight: on two threads each they would crowd each other out)."""
        assert self._encoders is not None
        by_length = sorted(range(len(texts)), key=lambda index: len(texts[index]), reverse=True)
        batches = [by_length[start : start + batch_size] for start in range(0, len(texts), batch_size)]
        threads = self._threads if mode == "query" and len(batches) == 1 else 1
        calls = [
            self._encoders.submit(_encoded, encode, [texts[index] for index in batch], batch_size, threads)
            for batch in batches
        ]
        vectors = np.empty((len(texts), self.info.dimension), dtype=np.float32)
        for batch, call in zip(batches, calls, strict=True):
            vectors[batch] = call.result()
        return vectors

    def _count_truncated(self, texts: list[str]) -> int:
        """Texts the model will cut, from a second, untruncated tokenisation of the long ones only.

        Every token covers at least one byte (WordPiece pieces and [UNK] a character, byte-level BPE
        a byte), so a text of fewer UTF-8 bytes than the limit less the special tokens cannot be cut.
        """
        limit = self.info.max_tokens
        long_texts = [text for text in texts if len(text.encode()) > limit - 2]
        if not long_texts:
            return 0
        lengths = self._model.tokenizer(
            long_texts,
            add_special_tokens=True,
            truncation=False,
            verbose=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        return sum(1 for ids in lengths if len(ids) > limit)


def _encoded(encode: Callable, texts: list[str], batch_size: int, threads: int) -> np.ndarray:
    """The texts' embeddings as float32, computed on ``threads`` of this thread's intra-op threads."""
    if threads:
        import torch

        torch.set_num_threads(threads)  # for this thread's parallel regions (OpenMP's setting is per thread)
    tensor = encode(texts, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)
    vectors: np.ndarray = tensor.float().cpu().numpy()
    return vectors


@functools.cache
def _torch_default_threads() -> int:
    """torch's intra-op threads before any encoder set its own: the cores this process may use."""
    import torch

    return int(torch.get_num_threads())


def _cpu_threads(device: str) -> int:
    """The intra-op threads a CPU model runs on; 0 on a GPU."""
    return _torch_default_threads() if device == "cpu" else 0


# sentence-transformers types both as optional (a module may not say); the models vecpipe loads say.
def _dimension(model: SentenceTransformer) -> int:
    dimension = model.get_embedding_dimension()
    assert dimension is not None
    return int(dimension)


def _max_tokens(model: SentenceTransformer) -> int:
    limit = model.get_max_seq_length()
    assert limit is not None
    return int(limit)


def _load(name: str, plan: LoadPlan) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a journal, not a terminal: no bars among the lines
    try:
        return SentenceTransformer(name, device=plan.device, model_kwargs=plan.model_kwargs)
    except Exception as error:  # any loading failure is fatal at start; say what and why
        raise ModelLoadError(
            f"cannot load DEFAULT_EMBEDDING_MODEL '{name}' on {plan.device}: {error.__class__.__name__}: "
            f"{error}. With HF_HUB_OFFLINE=1 it must be a local directory or already in the Hugging Face "
            "cache."
        ) from error


def load_embedder(settings: Settings) -> Embedder:
    if settings.use_mock_embeddings:
        log.warning("USE_MOCK_EMBEDDINGS=true: vectors are hashed noise, for tests only")
        return MockEmbedder(settings.default_embedding_model, settings.default_quantization)
    return SentenceTransformerEmbedder(settings.default_embedding_model, settings.default_quantization)
