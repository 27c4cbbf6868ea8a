"""The journal of a file run: ``manifest.jsonl``, ``failures.jsonl`` and the append-only outputs they vouch for.

One implementation shared by the file runners (``deid``:
:mod:`spacy_clinical_es.runtime.batch`, ``annotate``:
:mod:`spacy_clinical_es.runtime.annotate`), so that both resume, cut and
fail the same way:

* ``manifest.jsonl``: a header (``manifest`` version, ``settings_sha256``,
  extra fields of the runner), then one line per document with its ``key``,
  ``id``, ``input_sha256``, ``status`` and the sizes every append-only
  journal had after it (``<name>_end`` keys chosen by the runner, e.g.
  ``audit_end`` or ``table_end``, then ``failures_end``).
* ``--resume``: :meth:`RunJournal.open` reads the manifest (a line a kill
  left half-written is cut, other settings are refused), remembers each
  document's entry, and every journal is cut to the size the last manifest
  line recorded, so what a killed run wrote after it is dropped.
* ``failures.jsonl``: one line per failed document (id, where, reason,
  detail: never text), append-only.

spaCy-free; only counts, ids, hashes and sizes go into these files and logs.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .io import (
    RunnerError,
    open_private_append,
    remove_stale_temporaries,
    truncate_file,
)

if TYPE_CHECKING:
    from spacy.language import Language

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"
FAILURES_NAME = "failures.jsonl"
MANIFEST_VERSION = 1
FAILURES_END = "failures_end"
#: Exit codes of a run: some document failed / some document was written with unresolved leaks.
EXIT_FAILED = 3
EXIT_LEAKS = 4


def exit_code(failed: int, leaky: int = 0) -> int:
    """0: every document written; :data:`EXIT_FAILED`: some failed; :data:`EXIT_LEAKS`: some written with leaks."""
    if failed:
        return EXIT_FAILED
    if leaky:
        return EXIT_LEAKS
    return 0


def model_fingerprint(model: Path | str | Language, *, name_fallback: bool = False) -> str:
    """What a run's settings hash records of its pipeline: SHA-256 of its config (or of ``config.cfg`` + ``meta.json``).

    ``name_fallback``: a name with neither file (an installed package) is recorded as the name itself.
    """
    if not isinstance(model, (str, Path)):
        return hashlib.sha256(model.config.to_str().encode("utf-8")).hexdigest()
    digest = hashlib.sha256()
    for name in ("config.cfg", "meta.json"):
        path = Path(model) / name
        if path.exists():
            digest.update(path.read_bytes())
    if name_fallback and digest.digest() == hashlib.sha256().digest():
        return str(model)
    return digest.hexdigest()


def json_line(obj: Any) -> bytes:
    """One JSONL line (UTF-8; ASCII escapes when a lone surrogate cannot be encoded)."""
    try:
        return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(obj, ensure_ascii=True) + "\n").encode("ascii")


def prepare_out_dir(out: Path, *, dir_mode: int = 0o777, names: Sequence[str] = ()) -> None:
    """Create the output folder ``out`` (never a symlink), refuse symlinked run files, drop stale temporaries."""
    if out.is_symlink():
        raise RunnerError(f"--out {out} is a symlink; give a real folder (the runner never writes through symlinks).")
    if out.exists() and not out.is_dir():
        raise RunnerError(f"--out {out} exists and is not a folder.")
    out.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    for name in (MANIFEST_NAME, *names, FAILURES_NAME):
        if (out / name).is_symlink():
            raise RunnerError(f"{out / name} is a symlink; the runner never writes through symlinks.")
    removed = remove_stale_temporaries(out)
    if removed:
        logger.info("Removed %d temporary file(s) left by an interrupted run.", removed)


class RunJournal:
    """``manifest.jsonl`` + ``failures.jsonl`` + the runner's append-only journals of one output folder.

    ``end_keys``: the manifest keys of the runner's journals (``"audit_end"``,
    ``"table_end"``), recorded in this order before ``failures_end``; a journal
    not opened (disabled) is recorded as 0. ``settings``: what the settings
    hash covers, named in the error when ``--resume`` meets other settings.
    """

    def __init__(
        self,
        out: Path,
        settings_hash: str,
        *,
        end_keys: Sequence[str],
        settings: str = "model, options",
        file_mode: int = 0o600,
    ) -> None:
        self.out = out
        self.settings_hash = settings_hash
        self.end_keys = tuple(end_keys)
        self.settings = settings
        self.file_mode = file_mode
        self.entries: dict[str, dict[str, Any]] = {}
        self.ends: dict[str, int] = {key: 0 for key in (*self.end_keys, FAILURES_END)}
        self.resume = False
        self.handles: dict[str, BinaryIO | None] = {key: None for key in self.end_keys}
        self.manifest: BinaryIO | None = None
        self.failures: BinaryIO | None = None

    @property
    def manifest_path(self) -> Path:
        return self.out / MANIFEST_NAME

    def open(self, resume: bool, header: Mapping[str, Any] | None = None) -> bool:
        """Open the manifest (read first when ``resume``); returns whether this run continues an earlier one."""
        path = self.manifest_path
        if resume and path.exists():
            self.load(path)
        elif path.exists() and not resume:
            logger.warning("%s exists: starting a new run over it (give --resume to skip documents already done).", path)
        self.resume = resume and bool(self.entries)
        self.manifest = open_private_append(path, mode=self.file_mode, truncate=not self.resume)
        if not self.resume:
            self.manifest.write(
                json_line({"manifest": MANIFEST_VERSION, "settings_sha256": self.settings_hash, **(header or {})})
            )
            self.manifest.flush()
        return self.resume

    def load(self, path: Path) -> dict[str, int]:
        """Read the manifest of an earlier run; cut a line a kill left half-written. Returns the recorded sizes."""
        ends = {key: 0 for key in (*self.end_keys, FAILURES_END)}
        data = path.read_bytes()
        good, pos, header = 0, 0, False
        while (nl := data.find(b"\n", pos)) >= 0:
            try:
                entry = json.loads(data[pos:nl])
            except ValueError:
                break
            if not header:
                header = True
                if entry.get("settings_sha256") != self.settings_hash:
                    raise RunnerError(
                        f"{path} was written with other settings ({self.settings}); "
                        "run without --resume or use a new --out folder."
                    )
            else:
                self.entries[entry["key"]] = entry
                ends = {key: entry[key] for key in ends}
            pos = good = nl + 1
        truncate_file(path, good)
        self.ends = ends
        return ends

    def open_journal(self, name: str, end_key: str, *, mode: int | None = None) -> BinaryIO:
        """Open the append-only journal ``name``: cut to its recorded size on resume, emptied otherwise."""
        path = self.out / name
        if self.resume:
            truncate_file(path, self.ends[end_key])
        handle = open_private_append(path, mode=self.file_mode if mode is None else mode, truncate=not self.resume)
        if end_key != FAILURES_END:
            self.handles[end_key] = handle
        return handle

    def open_failures(self) -> BinaryIO:
        self.failures = self.open_journal(FAILURES_NAME, FAILURES_END)
        return self.failures

    def matching(self, key: str, input_hash: str) -> dict[str, Any] | None:
        """The entry an earlier run recorded for ``key`` when the input is unchanged, else ``None``."""
        entry = self.entries.get(key)
        return entry if entry is not None and entry.get("input_sha256") == input_hash else None

    def fail(self, doc_id: str, where: Mapping[str, Any], reason: str | None, detail: str | None) -> None:
        """Append one ``failures.jsonl`` line (id, where, reason, detail: no text) and log it."""
        assert self.failures is not None
        self.failures.write(json_line({"id": doc_id, **where, "reason": reason, "detail": detail}))
        self.failures.flush()
        logger.warning("%s: failed (%s: %s)", doc_id, reason, detail)

    def record(self, entry: dict[str, Any], **after: Any) -> None:
        """Append ``entry`` to the manifest with the sizes of the journals (then ``after``), and flush it."""
        assert self.manifest is not None and self.failures is not None
        for key in self.end_keys:
            handle = self.handles[key]
            entry[key] = handle.tell() if handle is not None else 0
        entry[FAILURES_END] = self.failures.tell()
        entry.update(after)
        self.manifest.write(json_line(entry))
        self.manifest.flush()

    def close(self, *others: BinaryIO | None, fsync: bool = True) -> None:
        """Flush (and ``fsync``) and close the manifest, the journals, the failures and ``others``."""
        for handle in (self.manifest, *self.handles.values(), self.failures, *others):
            if handle is not None and not handle.closed:
                handle.flush()
                if fsync:
                    os.fsync(handle.fileno())
                handle.close()
