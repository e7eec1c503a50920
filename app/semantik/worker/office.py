"""Text of office documents: Word and PowerPoint (.docx, .pptx) and OpenDocument (.odt, .odp).

Each is a zip archive of XML parts. The parts that hold the text are read in order and scanned once
for their tags, as parsing.html_to_text reads a page: no XML parser, so no entity expansion and no
DOCTYPE to trust. Sizes are checked against the archive's directory before anything is inflated
(zipfile stops a member at its declared size), so a small archive cannot unpack into gigabytes.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from semantik.worker.refusals import ParseError


@dataclass(frozen=True)
class Format:
    mime: str
    part: re.Pattern[str]  # the members that hold the text, read in their names' natural order
    text: str | None  # the element whose character data is text; None: all of it in office:body
    paragraph: frozenset[str]  # end tags that end a paragraph
    tab: str
    newline: frozenset[str]  # empty elements that break a line


WORD = Format(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    re.compile(r"word/document\.xml"),
    "w:t",  # not w:instrText (field codes) nor w:delText (deleted text)
    frozenset({"w:p"}),
    "w:tab",
    frozenset({"w:br", "w:cr"}),
)
POWERPOINT = Format(
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    re.compile(r"ppt/slides/slide(\d+)\.xml"),
    "a:t",
    frozenset({"a:p"}),
    "a:tab",
    frozenset({"a:br"}),
)


def opendocument(mime: str) -> Format:
    paragraphs, breaks = frozenset({"text:p", "text:h"}), frozenset({"text:line-break"})
    return Format(mime, re.compile(r"content\.xml"), None, paragraphs, "text:tab", breaks)


FORMATS = {
    ".docx": WORD,
    ".pptx": POWERPOINT,
    ".odt": opendocument("application/vnd.oasis.opendocument.text"),
    ".odp": opendocument("application/vnd.oasis.opendocument.presentation"),
}
# The text parts' XML, inflated: far above a real document's, far below what a zip bomb unpacks to.
MAX_XML_BYTES = 256 * 1024 * 1024
TOKEN = re.compile(r"<(/?)([\w:.-]+)([^>]*?)(/?)>|<[!?][^>]*>|([^<]+)")
ODF_SPACES = re.compile(r'text:c="(\d+)"')


def office_to_text(data: bytes, suffix: str, check: Callable[[], None] = lambda: None) -> str:
    """The document's text, paragraph by paragraph; `check()` runs between parts (a parse deadline)."""
    form = FORMATS[suffix]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ParseError(
            "parse_error", f"unreadable {suffix}: not a zip archive (password-protected, or an older format?)"
        ) from None
    with archive:
        parts = sorted(
            (info for info in archive.infolist() if form.part.fullmatch(info.filename)),
            key=lambda info: [int(n) if n.isdigit() else n for n in re.split(r"(\d+)", info.filename)],
        )
        if not parts:
            raise ParseError("parse_error", f"unreadable {suffix}: no {form.part.pattern} in the archive")
        inflated = sum(info.file_size for info in parts)
        if inflated > MAX_XML_BYTES:
            message = f"{inflated} bytes of XML inflated is over the {MAX_XML_BYTES}-byte limit"
            raise ParseError("too_large", message)
        texts = []
        for info in parts:
            check()
            try:
                xml = archive.read(info).decode("utf-8")
            except (zipfile.BadZipFile, UnicodeDecodeError, NotImplementedError, OSError) as error:
                raise ParseError("parse_error", f"unreadable {suffix}: {info.filename}: {error}") from None
            texts.append(_xml_text(xml, form))
    return "\n\n".join(text.strip() for text in texts if text.strip())


def _xml_text(xml: str, form: Format) -> str:
    if form.text is None:  # OpenDocument: what is in the body, not the styles before it
        xml = "".join(xml.partition("<office:body")[1:])
    parts: list[str] = []
    inside = 0
    for token in TOKEN.finditer(xml):
        closing, name, attributes, empty, characters = token.groups()
        if characters is not None:
            if form.text is None or inside:
                parts.append(html.unescape(characters))
        elif name is None:
            continue  # a comment, a declaration, a processing instruction
        elif name == form.text:
            inside += -1 if closing else 0 if empty else 1
        elif closing and name in form.paragraph:
            parts.append("\n")
        elif name == form.tab:
            parts.append("\t")
        elif name in form.newline:
            parts.append("\n")
        elif name == "text:s" and form.text is None:  # OpenDocument's run of spaces
            count = ODF_SPACES.search(attributes)
            parts.append(" " * int(count[1]) if count else " ")
    return "".join(parts)
