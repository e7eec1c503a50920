"""From bytes to text: each supported type, and each refusal with its category."""

from __future__ import annotations

import codecs
import gzip
import random
import re
import tracemalloc
from html.parser import HTMLParser
from pathlib import Path

import pytest

from semantik.worker import parsing
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
        ("Report.DOCX", "office", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("slides.odp", "office", "application/vnd.oasis.opendocument.presentation"),
        ("old.doc", None, None),
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


class _ReferenceText(HTMLParser):
    """The visible text as the standard library's HTML parser reads it (the worker used it before)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in parsing.HIDDEN:
            self.hidden += 1
        elif tag in parsing.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in parsing.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in parsing.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)

    @classmethod
    def of(cls, markup: str) -> str:
        reader = cls()
        reader.feed(markup)
        reader.close()
        lines = (" ".join(line.split()) for line in "".join(reader.parts).splitlines())
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


EDGES = [
    "<p>a</p><br/>b<br>c<BR />d<hr/>e",
    "<script>if (a<b) { show('<p>x</p>') }</script>after<style>p > a { }</style>styled",
    "<SCRIPT type=x>hidden</SCRIPT >shown<script/>still shown",
    "<svg><p>drawn</p><title>t</title></svg>out<noscript>n</noscript>v<template><b>t</b></template>s",
    "a < b and c > d, 3<4",
    "<!-- a comment -->t<!DOCTYPE html><?xml version='1.0'?>u",
    "&amp; &lt;p&gt; &nbsp;x &#x41;&#66; &copy 2024 &unknown;",
    "</div>an end first<p unclosed",
    "<script>never closed <p>x",
    "<ul><li>one<li>two</ul><table><tr><td>c1<td>c2</table>",
]


def test_html_text_is_the_text_the_standard_librarys_parser_reads() -> None:
    pages = [path.read_text() for path in DATA.glob("*.htm*")]
    assert pages
    rng = random.Random(7)  # pieces cut anywhere: tags, comments and entities broken in two
    pieces = [page[rng.randrange(len(page)) :][: rng.randrange(1, 4000)] for page in pages for _ in range(50)]
    for markup in [*pages, *EDGES, *pieces]:
        assert parsing.html_to_text(markup) == _ReferenceText.of(markup), markup


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
    ("data", "kind", "text"),
    [
        # No charset: windows-1252, as browsers read an unlabelled page (its quotes included).
        ("café crème brûlée, “quoted”".encode("cp1252"), "text", "café crème brûlée, “quoted”"),
        # The charset a page or an XML file declares, in either form of the meta tag.
        ('<meta charset="windows-1251"><p>Привет мир</p>'.encode("cp1251"), "html", "Привет мир"),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"><p>日本語</p>'.encode(
                "sjis"
            ),
            "html",
            "日本語",
        ),
        ('<?xml version="1.0" encoding="ISO-8859-1"?><a>Ærø</a>'.encode("latin-1"), "text", "Ærø"),
        # A label that is wrong (or no charset at all) is read as if it were absent.
        ('<meta charset="utf-8"><p>déjà vu</p>'.encode("cp1252"), "html", "déjà vu"),
        ('<meta charset="idna"><p>déjà vu</p>'.encode("cp1252"), "html", "déjà vu"),
    ],
)
def test_text_from_before_utf8_is_read_in_its_charset(data: bytes, kind: str, text: str) -> None:
    assert text in extract_text(data, kind, "legacy")


def test_a_file_of_no_known_type_is_read_when_it_is_text_but_key_material_never() -> None:
    assert extract_text(b"Thanks to everyone who sent a patch.\n", None, "/docs/THANKS") == (
        "Thanks to everyone who sent a patch.\n"
    )
    assert extract_text("[Unit]\nDescription=Caf\xe9\n".encode("cp1252"), None, "a.service").endswith(
        "Café\n"
    )
    for data, name in ((b"", "NOTES"), (b"-----BEGIN PRIVATE KEY-----\nMIIE\n", "host.pem")):
        with pytest.raises(ParseError) as refused:
            extract_text(data, None, name)
        assert refused.value.category == "unsupported_type"


def test_legacy_text_that_is_not_western_is_refused_with_what_to_do() -> None:
    page = b"<meta charset=bogus>" + "Привет, как дела? Это текст по-русски.".encode("cp1251")
    with pytest.raises(ParseError) as refused:
        extract_text(page, "html", "page.html")
    assert str(refused.value) == (
        "not valid UTF-8 at byte 20 (invalid continuation byte), declares bogus and is not Western "
        "European text: save it as UTF-8"
    )


@pytest.mark.parametrize(
    ("data", "kind", "category"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "text", "binary_content"),
        (bytes(range(1, 32)) * 20, "text", "binary_content"),
        ("Привет, как дела? Это текст по-русски.".encode("cp1251"), "text", "invalid_encoding"),
        (b"", "text", "empty"),
        (b"  \n\n\t ", "markdown", "empty"),
        (b"<html><script>only()</script></html>", "html", "empty"),
        (b"%PDF-1.4 not really", "pdf", "parse_error"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "unsupported_type"),
    ],
)
def test_refusals_carry_a_category(data: bytes, kind: str | None, category: str) -> None:
    with pytest.raises(ParseError) as refused:
        extract_text(data, kind, "file.xyz")
    assert refused.value.category == category
    assert str(refused.value)


@pytest.mark.parametrize(
    ("name", "kind", "mime"),
    [
        ("README.gz", "text", "text/plain"),
        ("changelog.Debian.gz", None, None),
        ("guide.md.gz", "markdown", "text/markdown"),
        ("manual.HTML.GZ", "html", "text/html"),
    ],
)
def test_a_gzip_file_is_of_the_kind_of_the_file_inside(name: str, kind: str | None, mime: str | None) -> None:
    assert document_kind(f"/docs/{name}") == kind
    assert mime_type(kind, name) == mime


def test_gzip_files_are_read_as_the_file_inside_every_member_of_them() -> None:
    page = gzip.compress(b"<h1>Bees</h1><script>x()</script><p>dance to tell where flowers are</p>")
    assert extract_text(page, "html", "bees.html.gz") == "Bees\n\ndance to tell where flowers are"
    # Debian's changelogs: a name of no known type, text inside; two members, as `cat a.gz b.gz`.
    entry = (b"semantik (0.3.0) stable; urgency=low\n", b"  * Read gzip.\n")
    log = gzip.compress(entry[0]) + gzip.compress(entry[1])
    assert extract_text(log, None, "changelog.Debian.gz") == b"".join(entry).decode()


BAD_GZIP = [
    (gzip.compress(b"x" * 2_000_001), "big.txt.gz", "too_large", "inflates to more than the 2000000"),
    (gzip.compress(b"notes " * 100)[:-12], "cut.txt.gz", "parse_error", "ends before its content does"),
    (b"plain text, not gzip", "fake.txt.gz", "parse_error", "unreadable gzip file"),
    (gzip.compress(b""), "nothing.md.gz", "empty", "the file is empty"),
    (gzip.compress(b"\x00" * 512), "backup.tar.gz", "unsupported_type", "unsupported file type .tar"),
    (gzip.compress(b"\x89PNG\r\n\x1a\n\x00\x00"), "image.gz", "unsupported_type", "binary content"),
]


# Named by file: gzip's header holds the time it was made, and each of make test's processes
# must collect the same test names.
@pytest.mark.parametrize(
    ("data", "name", "category", "message"), BAD_GZIP, ids=[case[1] for case in BAD_GZIP]
)
def test_a_bad_gzip_file_is_refused_with_its_reason(
    data: bytes, name: str, category: str, message: str
) -> None:
    with pytest.raises(ParseError) as refused:
        extract_text(data, document_kind(name), name, max_bytes=2_000_000)
    assert (refused.value.category, message in str(refused.value)) == (category, True), str(refused.value)


def test_a_gzip_bomb_is_refused_without_being_inflated() -> None:
    bomb = gzip.compress(bytes(256 << 20), compresslevel=1)  # 256 MiB of zeros in about 1 MB
    tracemalloc.start()
    try:
        with pytest.raises(ParseError) as refused:
            extract_text(bomb, "text", "zeros.txt.gz", max_bytes=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.category == "too_large"
    assert peak < 8 << 20, f"{peak} bytes allocated to refuse it"
