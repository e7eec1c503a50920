"""What the page does to a document's text: escape, mark the query's words, cut, rejoin chunks."""

from __future__ import annotations

from semantik.webui.pages.text import highlight, in_context, overlap, passage, query_words


def test_query_words_drop_stopwords_short_words_and_repeats() -> None:
    assert query_words("How do the Tides rise, and why do tides fall? a") == ["tides", "rise", "fall"]


def test_text_is_escaped_before_the_words_are_marked() -> None:
    shown = highlight('<script>alert("tides")</script> & the tide <b>', ["tide", "script"])
    assert str(shown) == (
        "&lt;<mark>script</mark>&gt;alert(&#34;<mark>tides</mark>&#34;)&lt;/<mark>script</mark>&gt; "
        "&amp; the <mark>tide</mark> &lt;b&gt;"
    )


def test_a_plural_marks_its_singular_and_a_word_its_longer_forms() -> None:
    shown = str(highlight("A honeybee and honeybees; tides, tidesman", ["honeybees", "tide"]))
    assert shown == (
        "A <mark>honeybee</mark> and <mark>honeybees</mark>; <mark>tides</mark>, <mark>tidesman</mark>"
    )


def test_words_inside_escaped_entities_are_never_marked() -> None:
    assert str(highlight("a < b & c", ["lt", "amp"])) == "a &lt; b &amp; c"


def test_a_passage_is_cut_around_the_first_marked_word() -> None:
    text = " ".join(["filler"] * 200 + ["the", "glacier", "moves"] + ["more"] * 200)
    shown = str(passage(text, ["glacier"], width=120))
    assert shown.startswith("… ") and shown.endswith(" …")
    assert "<mark>glacier</mark>" in shown
    assert len(shown) < 200


def test_a_short_passage_is_shown_whole() -> None:
    assert str(passage("Bees  dance\nto tell", ["bees"])) == "<mark>Bees</mark> dance to tell"


def test_neighbouring_chunks_are_read_without_their_shared_text() -> None:
    first, second, third = (
        "One two three. Four five six.",
        "Four five six. Seven eight.",
        "Seven eight. Nine.",
    )
    assert overlap(first, second) == len("Four five six.")
    chunks = [
        {"chunk_index": 4, "content": first},
        {"chunk_index": 5, "content": second},
        {"chunk_index": 6, "content": third},
    ]
    assert in_context(chunks, 5) == [(4, "One two three."), (5, second), (6, "Nine.")]
    assert in_context(chunks, 4) == [(4, first), (5, "Seven eight."), (6, "Nine.")]


def test_chunks_without_shared_text_are_kept_whole() -> None:
    chunks = [{"chunk_index": 0, "content": "Alpha."}, {"chunk_index": 1, "content": "Beta."}]
    assert in_context(chunks, 1) == [(0, "Alpha."), (1, "Beta.")]
