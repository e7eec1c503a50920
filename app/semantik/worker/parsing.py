"""From a file's bytes to plain text: text and code, Markdown, HTML, PDF and office documents, each
also gzip-compressed (README.gz, changelog.Debian.gz, manual.html.gz).

Every refusal is a ``ParseError`` with a category, so a bad file becomes a failed document with a
reason instead of failing the operation around it.
"""

from __future__ import annotations

import codecs
import html
import io
import logging
import math
import re
import signal
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath

from semantik.shared.config import Settings
from semantik.worker import office
from semantik.worker.refusals import ParseError

PLAIN_EXTENSIONS = frozenset(
    ".txt .text .log .rst .adoc .org .tex .csv .tsv .json .jsonl .yaml .yml .toml .ini .cfg .conf "
    ".env .properties .xml .sql .py .pyi .ipynb .js .mjs .cjs .ts .tsx .jsx .java .kt .kts .scala "
    ".groovy .c .h .cc .cpp .cxx .hpp .hh .cs .go .rs .rb .php .pl .pm .lua .r .swift .m .mm .sh "
    ".bash .zsh .fish .ps1 .bat .css .scss .sass .less .vue .svelte .dart .ex .exs .erl .hs .ml "
    ".clj .el .vim .proto .graphql .tf .hcl .cmake .gradle .dockerfile .makefile .j2 .jinja".split()
)
MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd"})
HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})
PDF_EXTENSIONS = frozenset({".pdf"})
PLAIN_NAMES = frozenset({"readme", "license", "makefile", "dockerfile", "changelog", "authors"})
# Never read, whatever their content: drawings and key material (text, but no document), and a tar
# archive (so a .tar.gz is not inflated only to be refused).
NOT_DOCUMENTS = frozenset(".svg .pem .key .crt .csr .der .p12 .pfx .gpg .asc .kdbx .tar".split())

MIME_TYPES = {"markdown": "text/markdown", "html": "text/html", "pdf": "application/pdf"}
# Control characters other than tab, newlines and form feed; text has almost none of them.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
MAX_CONTROL_SHARE = 0.05
SNIFF_BYTES = 8192
# A charset named in the file's first bytes (as the HTML standard's prescan: its first 1024): an XML
# declaration, or an HTML meta tag (either form).
PRESCAN_BYTES = 1024
DECLARED_CHARSET = re.compile(
    rb"""<\?xml[^>]*?\bencoding\s*=\s*["']([\w.:-]+)|<meta[^>]*?\bcharset\s*=\s*["']?([\w.:-]+)""",
    re.IGNORECASE,
)
# As the WHATWG Encoding standard: pages labelled Latin-1 or ASCII are windows-1252.
WINDOWS_1252_LABELS = dict.fromkeys(
    ["iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii"], "cp1252"
)
ASCII = bytes(range(128))
MAX_LEGACY_NON_ASCII_SHARE = 0.3
GZIP_SUFFIX = ".gz"
# MAX_DOCUMENT_SIZE_MB's default, for callers without settings (the pipeline passes the setting).
DEFAULT_MAX_BYTES = int(Settings.model_fields["max_document_size_mb"].default * 1024 * 1024)


def inner_path(path: str) -> str:
    """A gzip file stands for the file inside it, named without its .gz."""
    pure = PurePath(path)
    return str(pure.with_suffix("")) if pure.suffix.lower() == GZIP_SUFFIX else path


def document_kind(path: str) -> str | None:
    """'text', 'markdown', 'html', 'pdf', 'office' by the file's name, or None: then it is read if its
    content is text (unknown_type_text). A gzip file is of the kind of the file inside it."""
    pure = PurePath(inner_path(path))
    suffix = pure.suffix.lower()
    if suffix in office.FORMATS:
        return "office"
    if suffix in MARKDOWN_EXTENSIONS:
        return "markdown"
    if suffix in HTML_EXTENSIONS:
        return "html"
    if suffix in PDF_EXTENSIONS:
        return "pdf"
    if suffix in PLAIN_EXTENSIONS or (not suffix and pure.name.lower() in PLAIN_NAMES):
        return "text"
    return None


def mime_type(kind: str | None, path: str) -> str | None:
    if kind is None:
        return None
    path = inner_path(path)
    if kind == "office":
        return office.FORMATS[PurePath(path).suffix.lower()].mime
    if kind != "text":
        return MIME_TYPES[kind]
    return "application/json" if path.lower().endswith(".json") else "text/plain"


def decode_text(data: bytes) -> str:
    """UTF-8 (or UTF-16 with a byte-order mark); else the charset the file declares, else windows-1252
    when it reads as Western European text. Binary content and other legacy encodings are refused."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ParseError("invalid_encoding", f"invalid UTF-16 at byte {error.start}") from None
    head = data[:SNIFF_BYTES]
    if b"\x00" in head:
        raise ParseError("binary_content", "binary content (NUL bytes) in a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        text = _decode_legacy(data, f"not valid UTF-8 at byte {error.start} ({error.reason})")
    sample = text[:SNIFF_BYTES]
    if sample and len(CONTROL.findall(sample)) > MAX_CONTROL_SHARE * len(sample):
        raise ParseError("binary_content", "binary content (control characters) in a text file")
    return text


def _decode_legacy(data: bytes, not_utf8: str) -> str:
    """Text from before UTF-8: in the charset its XML declaration or HTML meta tag names, else in
    windows-1252 (which browsers read an unlabelled page in) when few of its bytes are outside ASCII:
    accents are a few letters in a hundred, where Cyrillic, Greek or CJK in a legacy encoding are most
    of them, and reading those as windows-1252 would index gibberish."""
    declared = DECLARED_CHARSET.search(data[:PRESCAN_BYTES])
    label = (declared[1] or declared[2]).decode("ascii").lower() if declared else None
    if label:
        try:
            return data.decode(WINDOWS_1252_LABELS.get(label, label))
        except (LookupError, ValueError):  # ValueError: UnicodeError and its kinds, from any codec
            pass  # an unknown or wrong label: read it as if it had none
    if len(data.translate(None, ASCII)) > MAX_LEGACY_NON_ASCII_SHARE * len(data):
        declares = f", declares {label}" if label else ""
        message = f"{not_utf8}{declares} and is not Western European text: save it as UTF-8"
        raise ParseError("invalid_encoding", message)
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # one of the five bytes windows-1252 leaves undefined
        return data.decode("latin-1")


# Elements whose text is not shown; a start tag adds a level, an end tag takes one away.
HIDDEN = frozenset({"script", "style", "noscript", "template", "svg"})
RAW_TEXT = {  # content that is not markup: everything up to the end tag
    name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style")
}
BLOCKS = frozenset(  # elements that break a line before and after them
    "p div br li ul ol h1 h2 h3 h4 h5 h6 tr table section article header footer nav aside "
    "pre blockquote dd dt dl figure figcaption hr main title form fieldset".split()
)
# One pass over the markup: a start or end tag, a comment, a declaration, a processing instruction.
MARKUP = re.compile(r"<(/?)([a-zA-Z][^\s/>]*)[^>]*>|<!--.*?(?:-->|\Z)|<![^>]*>|<\?[^>]*>", re.DOTALL)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML page; block elements become line breaks.

    A regular-expression scan that reads a page as the standard library's HTMLParser does
    (tests/worker/test_parsing.py compares them; on the PostgreSQL manual's 1,169 pages the text is
    the same) at three times its speed: HTML parsing was a third of the worker's CPU beside the
    model's work. One difference: a '>' inside a quoted attribute value ends the tag here. Each
    search stops at the page's last '>', so a page of unclosed tags costs one pass, not one per '<'.
    """
    parts: list[str] = []
    cursor = hidden = 0
    end = markup.rfind(">") + 1
    while (tag := MARKUP.search(markup, cursor, end)) is not None:
        if not hidden:
            parts.append(html.unescape(markup[cursor : tag.start()]))
        cursor = tag.end()
        if not tag.group(2):
            continue
        name, closing, empty = tag.group(2).lower(), tag.group(1) == "/", tag.group(0).endswith("/>")
        if name in HIDDEN and closing:
            hidden = max(0, hidden - 1)
        elif name in RAW_TEXT and not empty:
            close = RAW_TEXT[name].search(markup, cursor)
            cursor = close.end() if close else len(markup)
        elif name in HIDDEN and not empty:
            hidden += 1
        elif name in BLOCKS:
            parts.append("\n\n" if empty else "\n")  # <br/> is a start and an end tag
    if not hidden:
        parts.append(html.unescape(markup[cursor:]))
    lines = (" ".join(line.split()) for line in "".join(parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@dataclass
class Deadline:
    """When a parse must be over; ``check`` is the cooperative half, the alarm in ``time_limit`` the other."""

    seconds: float
    ends: float
    armed: bool = True

    def message(self) -> str:
        return f"parsing took longer than {self.seconds:g} s (PARSE_TIMEOUT_SECONDS)"

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise ParseError("parse_timeout", self.message())


class _Expired(BaseException):
    """Raised by the alarm; a BaseException, so a library's ``except Exception`` cannot swallow it."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[Deadline]:
    """A deadline that also interrupts pure-Python work through SIGALRM where that is possible.

    Only the main thread receives signals (a Celery prefork child runs its tasks there); elsewhere, or
    when someone else's ITIMER_REAL is running, only the cooperative checks hold.
    """
    limit = math.inf if seconds is None else seconds
    deadline = Deadline(limit, time.monotonic() + limit)
    interrupt = (
        seconds is not None
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        and signal.getsignal(signal.SIGALRM) is not None  # None: a handler Python could not restore
    )
    if not interrupt:
        yield deadline
        return

    def expire(signum: int, frame: object) -> None:
        if deadline.armed:
            raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)  # == seconds, which is set when interrupting
    try:
        try:
            yield deadline
        finally:
            try:
                deadline.armed = False  # an alarm due from here on is ignored
            finally:  # one-shot timer: once it has fired, nothing can interrupt this
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
    except _Expired:  # also when it fired just as the parse ended: the time was over all the same
        raise ParseError("parse_timeout", deadline.message()) from None


def pdf_to_text(data: bytes, max_pages: int | None = None, deadline: Deadline | None = None) -> str:
    from pypdf import PdfReader

    # pypdf logs every recoverable defect at WARNING; a failed document already says what went wrong.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("encrypted", "the PDF is encrypted with a password")
        count = len(reader.pages)
        if max_pages is not None and count > max_pages:
            message = f"{count} pages is over the {max_pages}-page limit (MAX_PDF_PAGES)"
            raise ParseError("too_many_pages", message)
        pages = []
        for page in reader.pages:
            if deadline is not None:
                deadline.check()  # between pages: holds where the alarm cannot
            pages.append(page.extract_text() or "")
    except ParseError:
        raise
    except Exception as error:  # pypdf raises many types for one cause: a damaged file
        raise ParseError("parse_error", f"unreadable PDF: {error.__class__.__name__}: {error}") from None
    return "\n\n".join(page.strip() for page in pages if page.strip())


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """A gzip file's content (every member of it), refused once it inflates past ``max_bytes``: a few
    kilobytes of gzip can inflate to gigabytes, so it is never inflated further than that."""
    content = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # 16: a gzip header and trailer
        try:
            content += inflater.decompress(data, max_bytes + 1 - len(content))
        except zlib.error as error:
            raise ParseError("parse_error", f"unreadable gzip file: {error}") from None
        if len(content) > max_bytes:
            limit = f"the {max_bytes}-byte limit (MAX_DOCUMENT_SIZE_MB)"
            raise ParseError("too_large", f"inflates to more than {limit}")
        if not inflater.eof:
            raise ParseError("parse_error", "unreadable gzip file: it ends before its content does")
        data = inflater.unused_data.lstrip(b"\0")  # the next member, after any zero padding
    return bytes(content)


def unknown_type_text(data: bytes, suffix: str) -> str:
    """A file of no known type is read when its content is text (a NOTICE, a README.debian, a systemd
    unit); anything else (an image, an archive) is unsupported rather than a failed text file."""
    try:
        return decode_text(data)
    except ParseError as error:
        raise ParseError(
            "unsupported_type", f"unsupported file type {suffix or '(none)'} ({error})"
        ) from None


def extract_text(
    data: bytes,
    kind: str | None,
    path: str,
    *,
    max_pdf_pages: int | None = None,
    timeout: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    """The document's text; ``timeout`` seconds (PARSE_TIMEOUT_SECONDS) bound the parse, None: no limit.
    A gzip file is read as the file inside it, which may be ``max_bytes`` long (MAX_DOCUMENT_SIZE_MB)."""
    inner = inner_path(path)
    suffix = PurePath(inner).suffix
    if kind is None and (not data or suffix.lower() in NOT_DOCUMENTS):
        raise ParseError("unsupported_type", f"unsupported file type {suffix or '(none)'}")
    if inner != path:
        data = gunzip(data, max_bytes)
    if not data:
        raise ParseError("empty", "the file is empty")
    with time_limit(timeout) as deadline:
        if kind is None:
            text = unknown_type_text(data, suffix)
        elif kind == "office":
            text = office.office_to_text(data, suffix.lower(), deadline.check)
        elif kind == "pdf":
            text = pdf_to_text(data, max_pdf_pages, deadline)
        elif kind == "html":
            text = html_to_text(decode_text(data))
        else:
            text = decode_text(data)
        deadline.check()
    if not text.strip():
        raise ParseError("empty", "no text to index" + (" (a scanned PDF?)" if kind == "pdf" else ""))
    return text
