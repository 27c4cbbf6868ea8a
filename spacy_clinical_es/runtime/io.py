"""Files of a batch run: bytes in without translation, bytes out atomically, no symlink followed.

spaCy-free helpers shared by the shells of :mod:`spacy_clinical_es.runtime.batch`:

* :func:`decode_document`: raw bytes → text, or a :class:`DocumentFailure`
  (empty, binary, undecodable, invalid code point) that names a reason and an
  offset, never the text. Reading is byte-faithful: no newline translation,
  a UTF-8 BOM stays in the text (offsets count it), CRLF stays CRLF.
* :func:`jsonl_records` / :func:`csv_rows` / :func:`check_length`: the
  records of JSONL and CSV inputs with their input hashes, and the
  ``--max-chars`` rule, for every file runner.
* :func:`atomic_write`: temporary file in the target folder + ``fsync`` +
  ``os.replace``, created with ``O_EXCL | O_NOFOLLOW`` and an explicit mode.
* :func:`open_private_append`: append-only files of the run (manifest,
  audit, failures, journals) opened without following a symlink.
* :func:`check_no_symlink`: refuse any symlink between the output folder and
  a target.
* :func:`read_key_file` / :func:`check_key`: the secret key from a file that
  only its owner can read, with a minimum length.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ClinicalEsError

#: Prefix of the temporary files of :func:`atomic_write` (left-overs of a killed run are removed on the next run).
TMP_PREFIX = ".deid-tmp-"
#: Encodings tried by detection when the bytes are not UTF-8 (hospital exports from Windows).
DETECTABLE_ENCODINGS = ("cp1252", "latin_1", "iso8859_15")
#: Keys shorter than this are refused (a short key makes keyed surrogates guessable by dictionary attack).
MIN_KEY_LENGTH = 16
#: Share of control characters (other than tab, newlines, form feed) above which a text counts as binary.
MAX_CONTROL_SHARE = 0.01
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v\x1c\x1d\x1e\x85")


class RunnerError(ClinicalEsError, ValueError):
    """A batch run cannot start or go on (bad option, unsafe output folder, unusable key).

    Messages name options, paths and counts, never document text or the key.
    """


class DocumentFailure(Exception):
    """One document cannot be processed: ``reason`` is a short code, ``detail`` a PHI-free explanation."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (the input content hash of the manifest)."""
    return hashlib.sha256(data).hexdigest()


def _detect(raw: bytes) -> tuple[str, str] | None:
    from charset_normalizer import from_bytes

    best = from_bytes(raw, cp_isolation=list(DETECTABLE_ENCODINGS)).best()
    if best is None or best.encoding not in DETECTABLE_ENCODINGS:
        return None
    try:
        return raw.decode(best.encoding), best.encoding
    except UnicodeDecodeError:  # pragma: no cover - charset-normalizer decoded it already
        return None


def decode_bytes(raw: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode ``raw`` without newline translation; returns ``(text, encoding used)``.

    ``encoding`` ``None`` or ``"auto"``: UTF-8 (a BOM is kept as U+FEFF), else the
    most likely of :data:`DETECTABLE_ENCODINGS` by charset-normalizer. An
    explicit encoding is used strictly. Raises :class:`DocumentFailure`
    (``decode_error``) with the byte offset of the first bad byte.
    """
    if encoding and encoding.lower() != "auto":
        try:
            return raw.decode(encoding), encoding
        except LookupError as err:
            raise RunnerError(f"Unknown --encoding {encoding!r}; give a Python codec name such as utf-8 or cp1252.") from err
        except UnicodeDecodeError as err:
            raise DocumentFailure("decode_error", f"not valid {encoding} at byte {err.start}") from None
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as err:
        detected = _detect(raw)
        if detected is None:
            raise DocumentFailure(
                "decode_error",
                f"not UTF-8 at byte {err.start} and not detected as {'/'.join(DETECTABLE_ENCODINGS)}; "
                "give --encoding",
            ) from None
        return detected


def validate_text(text: str) -> None:
    """Raise :class:`DocumentFailure` for a text that cannot be de-identified as it is.

    Empty or whitespace-only (``empty``), NUL or mostly control characters
    (``binary``), code points UTF-8 cannot encode such as a lone surrogate
    from a JSON ``\\ud800`` escape (``invalid_code_point``, with its offset).
    """
    if not text.strip():
        raise DocumentFailure("empty", "no text (empty or whitespace only)")
    nul = text.find("\x00")
    if nul >= 0:
        raise DocumentFailure("binary", f"NUL character at offset {nul}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise DocumentFailure("invalid_code_point", f"unencodable code point (lone surrogate) at offset {err.start}") from None
    controls = sum(1 for ch in text if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) == "Cc")
    if controls > MAX_CONTROL_SHARE * len(text):
        raise DocumentFailure("binary", f"{controls} control characters in {len(text)}")


def decode_document(raw: bytes, encoding: str | None = None) -> tuple[str, str]:
    """``raw`` bytes of one document → ``(text, encoding)``, or :class:`DocumentFailure`."""
    if not raw.strip():
        raise DocumentFailure("empty", "no text (empty or whitespace only)")
    if b"\x00" in raw and not (encoding and encoding.lower().startswith("utf-16")):
        raise DocumentFailure("binary", f"NUL byte at byte {raw.index(0)}")
    text, used = decode_bytes(raw, encoding)
    validate_text(text)
    return text, used


def check_length(text: str, limit: int) -> None:
    """Raise :class:`DocumentFailure` (``too_long``) when ``text`` has more than ``limit`` characters (0: no limit)."""
    if limit and len(text) > limit:
        raise DocumentFailure("too_long", f"{len(text)} characters, more than --max-chars {limit}")


def jsonl_records(path: Path, encoding: str | None = None) -> Iterator[tuple[int, str, Any, str, DocumentFailure | None]]:
    """``(line, input hash, record, encoding, failure)`` per non-blank line of a JSONL input.

    Lines are read as bytes (no newline translation; a BOM on line 1 is
    dropped) and hashed before decoding; ``record`` is ``None`` for a line that
    is not JSON, ``failure`` set for one that cannot be decoded.
    """
    with path.open("rb") as handle:
        for line, raw in enumerate(handle, start=1):
            body = raw.rstrip(b"\r\n")
            if line == 1 and body.startswith(b"\xef\xbb\xbf"):
                body = body[3:]
            if not body.strip():
                continue
            raw_hash = sha256_hex(body)
            try:
                text, used = decode_bytes(body, encoding)
                record = json.loads(text)
            except DocumentFailure as failure:
                yield line, raw_hash, None, "utf-8", failure
                continue
            except ValueError:
                record, used = None, "utf-8"
            yield line, raw_hash, record, used, None


def csv_rows(raw: bytes, encoding: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """The rows of a CSV input with a ``text`` column and the encoding used, or :class:`DocumentFailure`."""
    try:
        if b"\x00" in raw:
            raise DocumentFailure("binary", f"NUL byte at byte {raw.index(0)}")
        text, used = decode_bytes(raw, encoding)
        reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            raise DocumentFailure("bad_record", "the CSV file has no 'text' column")
        return list(reader), used
    except csv.Error:
        raise DocumentFailure("bad_record", "the CSV file cannot be parsed") from None


def row_hash(row: dict[str, Any]) -> str:
    """The input hash of one CSV row (its fields as sorted JSON)."""
    return sha256_hex(json.dumps(row, sort_keys=True).encode("utf-8"))


# -- output side ------------------------------------------------------------------------------


def check_no_symlink(root: Path, target: Path) -> None:
    """Raise :class:`DocumentFailure` (``output_symlink``) if ``root`` or anything between it and ``target`` is a symlink."""
    if root.is_symlink():
        raise DocumentFailure("output_symlink", "the output folder is a symlink")
    relative = target.relative_to(root)
    current = root
    for part in relative.parts:
        current = current / part
        if current.is_symlink():
            raise DocumentFailure("output_symlink", f"{current.relative_to(root)} in the output folder is a symlink")


def make_dirs(root: Path, target_dir: Path, dir_mode: int) -> None:
    """Create ``target_dir`` below ``root`` (``root`` must exist), refusing symlinks on the way."""
    relative = target_dir.relative_to(root)
    current = root
    for part in relative.parts:
        current = current / part
        if current.is_symlink():
            raise DocumentFailure("output_symlink", f"{current.relative_to(root)} in the output folder is a symlink")
        if not current.exists():
            try:
                current.mkdir(mode=dir_mode)
            except FileExistsError:
                pass


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` all at once: a temporary file next to it, then ``os.replace``.

    A reader (or a killed run) sees the old file or the new one, never a part.
    The temporary file is created with ``O_EXCL | O_NOFOLLOW`` and ``mode``;
    ``os.replace`` replaces a directory entry, so no symlink is followed (the
    caller refuses symlinks in the output folder beforehand, see
    :func:`check_no_symlink`).
    """
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def open_private_append(path: Path, *, mode: int = 0o600, truncate: bool = False):
    """Open ``path`` for binary appending without following a symlink, with permissions ``mode``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    if truncate:
        flags |= os.O_TRUNC
    try:
        fd = os.open(path, flags, mode)
    except OSError as err:
        if path.is_symlink():
            raise RunnerError(f"{path} is a symlink; the runner does not write through symlinks.") from err
        raise
    os.fchmod(fd, mode)
    return os.fdopen(fd, "ab")


def truncate_file(path: Path, size: int) -> None:
    """Cut ``path`` to ``size`` bytes (drops what a killed run wrote after its last manifest line)."""
    if path.is_symlink():
        raise RunnerError(f"{path} is a symlink; the runner does not write through symlinks.")
    if path.exists() and path.stat().st_size > size:
        with path.open("r+b") as handle:
            handle.truncate(size)


def remove_stale_temporaries(root: Path) -> int:
    """Delete the temporary files a killed run left under ``root`` (never follows symlinks); returns how many."""
    removed = 0
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames:
            if name.startswith(TMP_PREFIX):
                os.unlink(os.path.join(folder, name))
                removed += 1
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(folder, d))]
    return removed


def file_mode(umask: int) -> int:
    """Permissions of a new output file under ``umask`` (e.g. 0o077 → 0o600)."""
    return 0o666 & ~umask


def dir_mode(umask: int) -> int:
    """Permissions of a new output folder under ``umask`` (e.g. 0o077 → 0o700)."""
    return 0o777 & ~umask


# -- keys -------------------------------------------------------------------------------------


def check_key(key: str, *, source: str) -> str:
    """Return ``key`` if it is long enough, else raise :class:`RunnerError` (the message gives only its length)."""
    if len(key) < MIN_KEY_LENGTH:
        raise RunnerError(
            f"The key from {source} has {len(key)} characters; give at least {MIN_KEY_LENGTH} "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')."
        )
    return key


def read_key_file(path: Path) -> str:
    """The key in ``path`` (one line; a trailing newline is dropped). The file must be private to its owner."""
    try:
        info = path.stat()
    except FileNotFoundError as err:
        raise RunnerError(f"Key file not found: {path}") from err
    if not stat.S_ISREG(info.st_mode):
        raise RunnerError(f"Key file {path} is not a regular file.")
    if info.st_mode & 0o077:
        raise RunnerError(
            f"Key file {path} can be read by group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run chmod 600 {path}."
        )
    key = path.read_bytes().decode("utf-8").rstrip("\r\n")
    return check_key(key, source=f"--key-file {path}")
