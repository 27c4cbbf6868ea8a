"""``spacy_clinical_es.verify_assets.v1``: check committed pretrained assets before ``nlp.initialize`` reads them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from spacy.language import Language
from spacy.util import logger, registry

from .assets import MANIFEST, verify_path


@registry.callbacks("spacy_clinical_es.verify_assets.v1")
def create_verify_assets(path: Optional[str] = None) -> Callable[[Language], Language]:
    """``[initialize.before_init]`` callback: verify ``path`` against its ``SHA256SUMS`` before initialization.

    path (Optional[str]): usually ``${paths.vectors}``; null (no vectors) checks nothing, and a path no manifest
        covers (vectors built elsewhere) is used unchecked. spaCy runs ``before_init`` before it loads
        ``[initialize] vectors``, so a missing or altered committed file stops training with an
        :class:`~spacy_clinical_es.pretraining.assets.AssetError` that names it.
    """

    def before_init(nlp: Language) -> Language:
        if path:
            count = verify_path(path)
            # spaCy's logger: `spacy train` shows it next to its own "Added vectors" line
            logger.info("%s: %s", path, f"{count} files match {MANIFEST}" if count else f"no {MANIFEST}, not checked")
        return nlp

    return before_init
