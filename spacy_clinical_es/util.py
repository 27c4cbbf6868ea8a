"""Small shared helpers with no spaCy dependency."""
from __future__ import annotations

from pathlib import Path
from typing import Union

#: A file system path as users pass it (evaluated at runtime, so no ``str | Path`` on Python 3.9).
PathLike = Union[str, Path]
