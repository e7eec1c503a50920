#!/usr/bin/env python3
"""Give a new venv the bytecode of the venv in use, for every source file the two share.

    share_bytecode.py OLD_LIB NEW_LIB

uv hardlinks each venv's files from its cache, so a module that did not change between two locks is
the same file (the same inode) in both venvs, and its compiled .pyc in OLD_LIB is right for NEW_LIB
too. Each one is linked across, so that compileall, run next, compiles only the modules that
changed. A .pyc is taken only where its source is that same inode: anything else is left to
compileall (and Python checks every .pyc against its source's mtime and size when it imports).

Prints how many .pyc files were taken. No OLD_LIB (a first install): prints 0.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def share(old: Path, new: Path) -> int:
    taken = 0
    for cache, _, names in os.walk(old):
        if os.path.basename(cache) != "__pycache__":
            continue
        package = Path(cache).parent.relative_to(old)
        for name in names:
            # module.cpython-311[.opt-N].pyc compiles module.py
            source = name.split(".", 1)[0] + ".py"
            try:
                was, now = (old / package / source).stat(), (new / package / source).stat()
            except FileNotFoundError:
                continue
            target = new / package / "__pycache__" / name
            if (was.st_dev, was.st_ino) != (now.st_dev, now.st_ino) or target.exists():
                continue
            target.parent.mkdir(exist_ok=True)
            os.link(Path(cache) / name, target)
            taken += 1
    return taken


if __name__ == "__main__":
    old_lib, new_lib = (Path(arg) for arg in sys.argv[1:3])
    print(share(old_lib.resolve(), new_lib) if old_lib.is_dir() else 0)
