"""Source paths must resolve inside DOCUMENT_ALLOWED_ROOTS, symlinks included."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from semantik.shared.errors import ValidationError


def resolve_source_path(raw: str, roots: list[Path]) -> Path:
    """The real directory ``raw`` names, or ValidationError saying why it is refused."""
    if not roots:
        raise ValidationError("No source path is allowed: DOCUMENT_ALLOWED_ROOTS is empty")
    if not raw or "\x00" in raw:
        raise ValidationError("source path must be a non-empty path")
    candidate = PurePosixPath(raw)
    if ".." in candidate.parts:
        raise ValidationError(f"source path '{raw}' must not contain '..'")
    if not candidate.is_absolute():
        raise ValidationError(f"source path '{raw}' must be absolute")
    lexical_root = next((root for root in roots if candidate.is_relative_to(root)), None)
    if lexical_root is None:
        allowed = ", ".join(str(root) for root in roots)
        raise ValidationError(f"source path '{raw}' is outside the allowed roots ({allowed})")
    try:
        real = Path(raw).resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        raise ValidationError(f"source path '{raw}' does not exist") from None
    except OSError as error:
        raise ValidationError(f"source path '{raw}' cannot be read: {error.strerror}") from None
    if not any(real.is_relative_to(root.resolve()) for root in roots):
        raise ValidationError(
            f"source path '{raw}' resolves to '{real}' through a symlink, outside the allowed roots"
        )
    if not real.is_dir():
        raise ValidationError(f"source path '{raw}' is not a directory")
    return real
