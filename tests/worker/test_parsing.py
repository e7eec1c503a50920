"""From bytes to text: each supported type, and each refusal with its category."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from semantik.worker.parsing import ParseError, document_kind, extract_text, mime_type

DATA = Path(__file__).parents[1] / "data" / "sample_docs"


@pytest.mark.parametrize(
    ("name", "kind", "mime"),
    [
        ("notes.txt", "text", "text/plain"),
        ("README", "text", "text/plain"),
        ("main.rs", "text", "text/plain"),
        ("data.json", "text", "application/json"),
        ("Guide.MD", "markdown", "text/markdown"),
        ("page.htm", "html", "text/html"),
        ("paper.pdf", "pdf", "application/pdf"),
        ("photo.jpg", None, None),
        ("archive.tar.gz", None, None),
        ("noextension", None, None),
    ],
)
def test_kinds_by_name(name: str, kind: str | None, mime: str | None) -> None:
    assert document_kind(f"/docs/{name}") == kind
    assert mime_type(kind, name) == mime


def test_html_keeps_visible_text_and_drops_scripts_and_styles() -> None:
    text = extract_text((DATA / "volcanoes.html").read_bytes(), "html", "volcanoes.html")
    assert "Pyroclastic flows" in text and "Pompeii" in text and "1,000 °C" in text
    assert "Column collapse: the eruption column falls back on itself." in text.splitlines()
    for hidden in ("tracking pixel", "must never be indexed", "font-family", "<p>"):
        assert hidden not in text


def test_pdf_text_comes_out_page_by_page() -> None:
    text = extract_text((DATA / "tides.pdf").read_bytes(), "pdf", "tides.pdf")
    assert text.startswith("Spring tides and neap tides")
    assert "neap tides.\n" in text and text.rstrip().endswith("over 16 metres.")


def test_markdown_and_code_are_read_as_they_are() -> None:
    for name, kind in (("sourdough.md", "markdown"), ("fibonacci.py", "text")):
        raw = (DATA / name).read_bytes()
        assert extract_text(raw, kind, name) == raw.decode()


def test_utf8_with_a_byte_order_mark_and_utf16_are_text() -> None:
    assert extract_text(codecs.BOM_UTF8 + "naïve café".encode(), "text", "a.txt") == "naïve café"
    assert extract_text("naïve café".encode("utf-16"), "text", "a.txt") == "naïve café"


@pytest.mark.parametrize(
    ("data", "kind", "category"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "text", "binary_content"),
        (bytes(range(1, 32)) * 20, "text", "binary_content"),
        ("crème".encode("latin-1"), "text", "invalid_encoding"),
        (b"", "text", "empty"),
        (b"  \n\n\t ", "markdown", "empty"),
        (b"<html><script>only()</script></html>", "html", "empty"),
        (b"%PDF-1.4 not really", "pdf", "parse_error"),
        (b"anything", None, "unsupported_type"),
    ],
)
def test_refusals_carry_a_category(data: bytes, kind: str | None, category: str) -> None:
    with pytest.raises(ParseError) as refused:
        extract_text(data, kind, "file.xyz")
    assert refused.value.category == category
    assert str(refused.value)
