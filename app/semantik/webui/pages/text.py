"""Text shown on the page: passages cut around the query's words, the words marked, chunks rejoined.

Every piece of a document's text is escaped before any markup is added around it, so a document
whose text is `<script>` shows as text.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# Words too common to be worth marking in a passage.
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i in is it of on or that the this to was what "
    "when where which who why will with you your".split()
)
WORD = re.compile(r"\w+")


def query_words(query: str) -> list[str]:
    """The query's words worth marking: two letters or more, not a stopword, each once."""
    words = (word.lower() for word in WORD.findall(query))
    return list(dict.fromkeys(w for w in words if len(w) > 1 and w not in STOPWORDS))


def _pattern(words: list[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    # A plural marks its singular too ("honeybees" marks "honeybee"), and any word its longer forms
    # ("tide" marks "tides"); longest first, so a word is marked whole.
    stems = {word[:-1] if len(word) > 3 and word.endswith("s") else word for word in words}
    alternatives = "|".join(re.escape(stem) for stem in sorted(stems, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\w*", re.IGNORECASE)


def highlight(text: str, words: list[str]) -> Markup:
    """``text`` escaped, with each of ``words`` wrapped in <mark>."""
    pattern = _pattern(words)
    if pattern is None:
        return Markup(escape(text))
    pieces, cursor = [], 0
    for match in pattern.finditer(text):
        pieces.append(escape(text[cursor : match.start()]))
        pieces.append(Markup("<mark>%s</mark>") % match.group())
        cursor = match.end()
    pieces.append(escape(text[cursor:]))
    return Markup("").join(pieces)


def passage(text: str, words: list[str], width: int = 360) -> Markup:
    """About ``width`` characters of ``text`` around its first marked word (its start when none),
    cut at spaces, with an ellipsis where text was left out, highlighted."""
    text = " ".join(text.split())
    if len(text) <= width:
        return highlight(text, words)
    pattern = _pattern(words)
    found = pattern.search(text) if pattern else None
    start = max(0, (found.start() if found else 0) - width // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 30 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    shown = highlight(text[start:end], words)
    return Markup("%s%s%s") % ("… " if start else "", shown, " …" if end < len(text) else "")


def overlap(previous: str, text: str, probe: int = 8) -> int:
    """How many characters at the start of ``text`` repeat the end of ``previous`` (neighbouring
    chunks share up to the collection's chunk_overlap)."""
    head = text[:probe]
    at = previous.find(head) if head else -1
    while at >= 0:
        if text.startswith(previous[at:]):
            return len(previous) - at
        at = previous.find(head, at + 1)
    return 0


def in_context(chunks: list[dict], focus: int) -> list[tuple[int, str]]:
    """(chunk index, text) for consecutive chunks read as one text: what a chunk repeats of the one
    before it is left out, except in the ``focus`` chunk, which shows whole (its predecessor's end
    gives way instead)."""
    texts = [(chunk.get("chunk_index", 0), chunk.get("content") or "") for chunk in chunks]
    shown = []
    for i, (index, content) in enumerate(texts):
        start, end = 0, len(content)
        if i > 0 and index != focus and texts[i - 1][0] == index - 1:
            start = overlap(texts[i - 1][1], content)
        if i + 1 < len(texts) and texts[i + 1][0] == focus == index + 1:
            end -= overlap(content, texts[i + 1][1])
        shown.append((index, content[start : max(start, end)].strip()))
    return shown
