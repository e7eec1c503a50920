"""Every relative link of the repository's Markdown files names a file of the repository."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# [text](target) and ![alt](target), with an optional "title"; the target is group 1.
LINK = re.compile(r"\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
EXTERNAL = ("http://", "https://", "mailto:")


def links() -> list[tuple[str, Path]]:
    """("file: link" as written, the path it names) for each relative link outside fenced code."""
    # Tracked files, and new ones git does not ignore: a document is checked before its first commit.
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.md"]
    listed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    found = []
    for md in sorted({ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()}):
        fenced = False
        for line in md.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
                continue
            for target in [] if fenced else LINK.findall(line):
                path = target.split("#", 1)[0]
                if path and not target.lower().startswith(EXTERNAL):
                    where = f"{md.relative_to(ROOT)}: {target}"
                    found.append((where, Path(os.path.normpath(md.parent / path))))
    return found


def test_every_relative_link_resolves() -> None:
    broken = [where for where, path in links() if not path.exists()]
    assert not broken, "Markdown links to nothing:\n" + "\n".join(broken)


def test_no_link_leads_into_shared_or_out_of_the_repository() -> None:
    wrong = [where for where, path in links() if "../shared" in where or not path.is_relative_to(ROOT)]
    assert not wrong, "Markdown links into ../shared or out of the repository:\n" + "\n".join(wrong)
