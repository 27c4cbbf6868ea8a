"""Shared ``to_bytes``/``from_bytes``/``to_disk``/``from_disk`` for rule-like components.

Components whose state is a ``cfg`` dict plus a list of JSON records (patterns,
phrases) serialize the way spaCy's ``span_ruler`` does: ``cfg`` as JSON and the
records as ``<name>.jsonl`` in the component's directory. A subclass names the
records (``_state_name``) and says how to read and restore them.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import srsly
from spacy.util import (
    SimpleFrozenList,
    ensure_path,
    from_bytes,
    from_disk,
    to_bytes,
    to_disk,
)

if TYPE_CHECKING:  # annotations only (postponed): no runtime dependency
    from typing import Self


class RecordsSerializable:
    """Mixin: ``cfg`` + a list of JSON records, saved and loaded like ``span_ruler``.

    Subclasses define ``cfg``, ``_state_name``, ``_state_records()`` (the
    records to save), ``_load_records(records)`` (add them back), ``clear()``
    and ``_validate()`` (checks ``cfg`` after loading).
    """

    cfg: dict[str, Any]
    _state_name: ClassVar[str] = "records"

    def _state_records(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _load_records(self, records: Iterable[dict[str, Any]]) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def _validate(self) -> None:
        raise NotImplementedError

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        """Serialize the cfg and the records."""
        serializers = {
            "cfg": lambda: srsly.json_dumps(self.cfg),
            self._state_name: lambda: srsly.json_dumps(self._state_records()),
        }
        return to_bytes(serializers, exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> Self:
        """Load what :meth:`to_bytes` wrote."""
        self.clear()
        deserializers = {
            "cfg": lambda b: self.cfg.update(srsly.json_loads(b)),
            self._state_name: lambda b: self._load_records(srsly.json_loads(b)),
        }
        from_bytes(bytes_data, deserializers, exclude)
        self._validate()
        return self

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        """Write ``cfg`` and ``<records>.jsonl`` to the directory ``path``."""
        path = ensure_path(path)
        serializers = {
            "cfg": lambda p: srsly.write_json(p, self.cfg),
            self._state_name: lambda p: srsly.write_jsonl(p.with_suffix(".jsonl"), self._state_records()),
        }
        to_disk(path, serializers, exclude)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> Self:
        """Load what :meth:`to_disk` wrote (missing files leave the defaults)."""
        path = ensure_path(path)
        self.clear()

        def load_cfg(p: Path) -> None:
            if p.exists():
                self.cfg.update(srsly.read_json(p))

        def load_records(p: Path) -> None:
            p = p.with_suffix(".jsonl")
            if p.exists():
                self._load_records(srsly.read_jsonl(p))

        from_disk(path, {"cfg": load_cfg, self._state_name: load_records}, exclude)
        self._validate()
        return self
