from pathlib import Path

import pytest

from semantik.shared.errors import ValidationError
from semantik.shared.services.paths import resolve_source_path


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "docs", tmp_path / "secret"
    (root / "team").mkdir(parents=True)
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    (root / "inside-link").symlink_to(root / "team")
    return root, outside


def test_directory_inside_the_root_is_accepted(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    assert resolve_source_path(str(root / "team"), [root]) == (root / "team").resolve()
    assert resolve_source_path(str(root / "inside-link"), [root]) == (root / "team").resolve()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{root}/../secret", "must not contain '..'"),
        ("{root}/team/../../secret", "must not contain '..'"),
        ("{outside}", "outside the allowed roots"),
        ("/etc", "outside the allowed roots"),
        ("team", "must be absolute"),
        ("{root}/escape", "through a symlink"),
        ("{root}/missing", "does not exist"),
        ("", "non-empty"),
    ],
)
def test_escapes_are_refused_with_a_reason(tree: tuple[Path, Path], raw: str, reason: str) -> None:
    root, outside = tree
    with pytest.raises(ValidationError, match=reason.replace("(", r"\(").replace(".", r"\.")):
        resolve_source_path(raw.format(root=root, outside=outside), [root])


def test_no_roots_means_nothing_is_allowed(tree: tuple[Path, Path]) -> None:
    with pytest.raises(ValidationError, match="DOCUMENT_ALLOWED_ROOTS is empty"):
        resolve_source_path(str(tree[0]), [])
