"""Where the corpora live: one configurable data directory."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataDirError

ENV_VAR = "SPACY_CLINICAL_ES_DATA"
_REPO_ROOT = Path(__file__).resolve().parents[2]

# Sub-paths of each corpus inside the data directory (the layout of the public
# releases, mirrored in ../shared/data).
CORPUS_PATHS = {
    "meddocan": "meddocan",
    "medprocner": "medprocner",
    "distemist": "distemist",
    "symptemist": "symptemist",
    "codiesp": "codiesp/final_dataset_v4_to_publish",
    "cantemist": "cantemist",
    "nubes": "nubes",
}


def resolve_data_dir(explicit: str | Path | None = None) -> Path:
    """Return the corpus directory.

    Order: the explicit argument, ``$SPACY_CLINICAL_ES_DATA``, then
    ``../shared/data`` beside the current directory or beside the repository.
    """
    candidates = []
    if explicit:
        candidates.append(Path(explicit))
    elif os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    else:
        candidates += [Path.cwd().parent / "shared" / "data", _REPO_ROOT.parent / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    raise DataDirError(
        f"No corpus data directory found (looked in: {', '.join(str(c) for c in candidates)}). "
        f"Pass --data-dir or set {ENV_VAR} to the folder that holds meddocan/, distemist/, …"
    )


def corpus_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """Return the folder of one corpus inside the data directory."""
    if name not in CORPUS_PATHS:
        raise DataDirError(f"Unknown corpus {name!r}; known: {', '.join(sorted(CORPUS_PATHS))}")
    path = resolve_data_dir(data_dir) / CORPUS_PATHS[name]
    if not path.is_dir():
        raise DataDirError(f"Corpus {name!r} not found at {path}; check the data directory.")
    return path
