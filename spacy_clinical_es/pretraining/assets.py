"""Committed pretrained assets (``assets/pretrained``) and their SHA-256 manifest.

The floret vectors that the CNN configs load (all but de-identification's) are committed to git so that a fresh clone trains with them without
rebuilding them. A manifest (``SHA256SUMS``, the format of ``sha256sum``: ``<hex>  <relative path>`` per line)
lists every file of the asset folder; :func:`verify_path` checks the files under a path against it before the
training reads them, so a missing or altered file is a clear error, not a silently different model.
This module knows nothing of spaCy (the ``[initialize.before_init]`` callback is in :mod:`.callbacks`).
"""
from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

from ..errors import ClinicalEsError

logger = logging.getLogger(__name__)

#: The manifest's file name, inside the asset folder it describes.
MANIFEST = "SHA256SUMS"
#: Files of the asset folder that are documentation, not data: not hashed, so they can be edited freely.
UNHASHED = frozenset({MANIFEST, "README.md"})
#: Where the committed assets live, relative to the repository root.
ASSETS_DIR = Path("assets/pretrained")
#: How a user gets a consistent folder back (named in every error).
REBUILD_HINT = (
    "restore the committed files with 'git checkout -- assets/pretrained' or rebuild them with "
    "'python -m spacy project run pretrain' (README: Vectors and pretraining)"
)


class AssetError(ClinicalEsError, FileNotFoundError):
    """A pretrained asset is missing, altered, or its manifest is malformed."""


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """The hex SHA-256 of one file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(root: Path) -> dict[str, str]:
    """Hash every file under ``root`` (except :data:`UNHASHED`) and write ``root/SHA256SUMS``, sorted."""
    root = Path(root)
    entries = {
        path.relative_to(root).as_posix(): sha256_file(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).as_posix() not in UNHASHED
    }
    lines = [f"{digest}  {name}\n" for name, digest in sorted(entries.items())]
    (root / MANIFEST).write_text("".join(lines), encoding="utf-8")
    return entries


def read_manifest(manifest: Path) -> dict[str, str]:
    """``relative path -> hex digest`` from a ``sha256sum``-style file; a malformed line names file and line."""
    entries: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name:
            raise AssetError(f"{manifest}, line {number}: expected '<64 hex digits>  <path>'; {REBUILD_HINT}.")
        entries[name] = digest
    return entries


def find_manifest(path: Path) -> Path | None:
    """The nearest ``SHA256SUMS`` in ``path`` or one of its parents, or None."""
    path = Path(path).resolve()
    for folder in (path, *path.parents):
        candidate = folder / MANIFEST
        if candidate.is_file():
            return candidate
    return None


def verify_path(path: Path | str) -> int:
    """Check every manifest entry under ``path`` (a file or folder); return how many files were verified.

    A path that no manifest covers (e.g. vectors a user built elsewhere) is not checked: 0 is returned and the
    fact is logged. A missing path, a missing file or a file whose digest differs raises :class:`AssetError`
    naming every offending file.
    """
    path = Path(path)
    if not path.exists():
        raise AssetError(f"Pretrained asset {path} not found: {REBUILD_HINT}.")
    manifest = find_manifest(path)
    if manifest is None:
        logger.info("%s is not covered by a %s manifest: not verified", path, MANIFEST)
        return 0
    root = manifest.parent
    prefix = path.resolve().relative_to(root).as_posix()
    prefix = "" if prefix == "." else prefix
    entries = {
        name: digest for name, digest in read_manifest(manifest).items()
        if not prefix or name == prefix or name.startswith(prefix + "/")
    }
    if not entries:
        raise AssetError(f"{manifest} lists no file under {path}: {REBUILD_HINT}.")
    missing = [name for name in sorted(entries) if not (root / name).is_file()]
    altered = [
        name for name in sorted(entries)
        if name not in missing and sha256_file(root / name) != entries[name]
    ]
    if missing or altered:
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(missing)}")
        if altered:
            parts.append(f"SHA-256 differs from {manifest.name}: {', '.join(altered)}")
        raise AssetError(f"Pretrained asset {path} is not the committed one ({'; '.join(parts)}): {REBUILD_HINT}.")
    logger.info("%s: %d files match %s", path, len(entries), manifest)
    return len(entries)


def install_vectors(source: Path, root: Path = ASSETS_DIR, *, name: str = "vectors") -> dict[str, str]:
    """Copy a spaCy vectors folder (``spacy init vectors`` output) to ``root/name`` and rewrite the manifest."""
    source, root = Path(source), Path(root)
    if not (source / "vocab" / "vectors").is_file():
        raise AssetError(f"{source} holds no spaCy vectors (vocab/vectors): run 'spacy init vectors' first.")
    target = root / name
    if target.exists():
        shutil.rmtree(target)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target)
    return write_manifest(root)
