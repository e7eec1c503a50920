"""The suite leaves `git status` as it found it: what it generates (secrets, logs, lab addresses,
build output) is ignored, and no committed file is rewritten. Collected last, and checked at the end of
each of the suite's streams (tests/conftest.py): the later one sees what both did."""

from __future__ import annotations

from support import tree


def test_the_suite_leaves_the_working_tree_as_it_found_it(stream: str) -> None:
    assert tree.AT_START is not None
    assert tree.dirty() - tree.AT_START == set(), f"after the {stream} stream"
