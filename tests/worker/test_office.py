"""Office documents, written by the libraries people write them with (python-docx, python-pptx,
docutils' OpenDocument writer: tests/data/office), and the archives that must not be trusted."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from semantik.worker import office
from semantik.worker.parsing import ParseError, document_kind, extract_text, mime_type

DATA = Path(__file__).parents[1] / "data" / "office"


def read(name: str) -> str:
    assert document_kind(name) == "office"
    return extract_text((DATA / name).read_bytes(), "office", name)


def test_word_paragraphs_runs_tabs_tables_and_entities() -> None:
    assert read("rotation.docx").split("\n") == [
        "Crop rotation",
        "Rotating crops keeps the soil fertile: legumes fix nitrogen\tthat cereals use the year after.",
        "Four fields, four years: wheat, turnips, barley, clover.",
        "Norfolk",
        "since 1730",
        "Déjà vu & <angle brackets> survive.",
    ]


def test_powerpoint_slides_in_order_and_opendocument_text() -> None:
    assert read("tides.pptx") == (
        "Tidal power\nThe Moon pulls the oceans twice a day.\n\n"
        "Barrages\nLa Rance has run since 1966.\nIt makes 240 MW."
    )
    text = read("bees.odt")
    assert text.startswith("Honeybee dances\nA forager back from a good patch of flowers dances on the comb.")
    assert "rststyle" not in text  # the styles before the body are not text


def test_each_format_has_its_type() -> None:
    assert mime_type("office", "a.DOCX") == office.WORD.mime
    assert mime_type("office", "a.odp") == "application/vnd.oasis.opendocument.presentation"


def archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def test_slides_are_read_in_their_numbers_order_not_their_names() -> None:
    slide = "<p:sld><a:p><a:r><a:t>slide {}</a:t></a:r></a:p></p:sld>"
    members = {f"ppt/slides/slide{n}.xml": slide.format(n).encode() for n in (10, 2, 1)}
    assert extract_text(archive(members), "office", "deck.pptx") == "slide 1\n\nslide 2\n\nslide 10"


def test_word_field_codes_and_deleted_text_are_not_text() -> None:
    body = (
        "<w:document><w:body><w:p><w:r><w:instrText>PAGE \\* MERGEFORMAT</w:instrText></w:r>"
        "<w:r><w:delText>struck out</w:delText></w:r><w:r><w:t>kept</w:t></w:r></w:p></w:body></w:document>"
    )
    assert extract_text(archive({"word/document.xml": body.encode()}), "office", "a.docx") == "kept"


@pytest.mark.parametrize(
    ("data", "category", "fragment"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "parse_error", "not a zip archive"),
        (archive({"word/other.xml": b"<x/>"}), "parse_error", "no word/document\\.xml in the archive"),
        (archive({"word/document.xml": b"\xff\xfe<w:t>"}), "parse_error", "word/document.xml"),
        # 300 MB of zeros deflate to about 300 KB: refused by its declared size, never inflated.
        (
            archive({"word/document.xml": bytes(300 * 1024 * 1024)}),
            "too_large",
            "over the 268435456-byte limit",
        ),
        (archive({"word/document.xml": b"<w:document><w:body></w:body></w:document>"}), "empty", "no text"),
    ],
)
def test_refusals(data: bytes, category: str, fragment: str) -> None:
    with pytest.raises(ParseError) as refused:
        extract_text(data, "office", "a.docx")
    assert refused.value.category == category
    assert fragment in str(refused.value)
