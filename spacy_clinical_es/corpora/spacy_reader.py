"""A spaCy corpus reader for BRAT folders, so ``spacy train`` reads BRAT directly.

In a training config::

    [corpora.train]
    @readers = "spacy_clinical_es.BratCorpus.v1"
    path = ${paths.train}
    span_key = "sc"
    set_ents = true

Each ``.txt``/``.ann`` pair becomes an :class:`~spacy.training.Example` whose
reference is the Doc representation of :mod:`.representation` (span group,
``doc.ents`` and exact records) and whose predicted doc is
``nlp.make_doc(text)``.
"""
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Optional, Union

import spacy
from spacy.language import Language
from spacy.training import Example

from ..errors import ConfigError
from .brat import iter_brat_dir
from .report import ConversionReport
from .representation import document_to_doc

# No `from __future__ import annotations` here: spaCy's registry validates the
# argument types of create_brat_corpus from the real annotation objects.


@spacy.registry.readers("spacy_clinical_es.BratCorpus.v1")
def create_brat_corpus(
    path: Optional[Union[str, Path]],
    span_key: Optional[str] = None,
    set_ents: bool = True,
    limit: int = 0,
) -> Callable[[Language], Iterator[Example]]:
    """Create a BratCorpus reader (a callable taking ``nlp``) for a BRAT folder."""
    return BratCorpus(path, span_key=span_key, set_ents=set_ents, limit=limit)


class BratCorpus:
    """Iterate over a BRAT folder as training Examples, like ``spacy.training.Corpus``.

    ``span_key`` defaults to ``"sc"`` (the spancat default); ``limit`` > 0
    stops after that many documents. Conversion counts (misaligned spans,
    annotations left out of ``doc.ents``) accumulate in ``self.report``.
    """

    def __init__(
        self,
        path: Optional[Union[str, Path]],
        *,
        span_key: Optional[str] = None,
        set_ents: bool = True,
        limit: int = 0,
    ) -> None:
        if path is None:
            raise ConfigError(
                "BratCorpus needs a path: set it in the config (e.g. path = ${paths.train}) "
                "or with --paths.train on the command line."
            )
        self.path = Path(path)
        self.span_key = span_key or "sc"
        self.set_ents = set_ents
        self.limit = limit
        self.report = ConversionReport()

    def __call__(self, nlp: Language) -> Iterator[Example]:
        """Yield one Example per document, in file-name order."""
        for i, document in enumerate(iter_brat_dir(self.path)):
            if self.limit and i >= self.limit:
                break
            reference = document_to_doc(
                document, nlp, span_key=self.span_key, set_ents=self.set_ents, report=self.report
            )
            yield Example(nlp.make_doc(document.text), reference)
