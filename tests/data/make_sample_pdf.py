"""Writes sample_docs/tides.pdf: a small two-page PDF with real text, built by hand (no PDF library
writes text), kept here so the sample can be regenerated: `python tests/data/make_sample_pdf.py`."""

from pathlib import Path

PAGES = [
    [
        "Spring tides and neap tides",
        "Tides are raised by the gravity of the Moon and, to a lesser degree, the Sun.",
        "When the Sun, the Moon and the Earth line up, at new moon and full moon,",
        "their pulls add together and the tidal range is largest: these are spring tides.",
    ],
    [
        "At the first and last quarter the Sun and the Moon pull at right angles,",
        "partly cancelling each other, and the range is smallest: these are neap tides.",
        "The Bay of Fundy in Canada has the largest tidal range in the world, over 16 metres.",
    ],
]


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def build() -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]  # the page tree is filled in below
    font = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for lines in PAGES:
        text = "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"({_escape(line)}) '" for line in lines) + " ET"
        stream = text.encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content, font)
        )
        kids.append(len(objects))
    refs = b" ".join(b"%d 0 R" % kid for kid in kids)
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


if __name__ == "__main__":
    (Path(__file__).parent / "sample_docs" / "tides.pdf").write_bytes(build())
