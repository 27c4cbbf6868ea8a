"""``spacy_clinical_es.numpy_blas_ops.v1``: run a pipeline's CPU matrix products with NumPy's BLAS.

thinc's CPU ops multiply matrices with the bundled BLIS kernels. On the
machines this package was measured on, NumPy's own BLAS (OpenBLAS) is about
three times faster for the shapes of a CNN ``tok2vec`` (tens of thousands of
rows times a few hundred columns), which makes the embedding and encoding
layers of the de-identification detector two to three times faster. thinc
has this switch built in (``NumpyOps(use_blis=False)``); this callback
applies it to the models of a pipeline, so a config can ask for it::

    [nlp.after_pipeline_creation]
    @callbacks = "spacy_clinical_es.numpy_blas_ops.v1"

    [initialize.after_init]
    @callbacks = "spacy_clinical_es.numpy_blas_ops.v1"

The pipeline then loads with plain ``spacy.load`` (entry point
``spacy_callbacks``) and trains with ``spacy train``. Only models on thinc's
plain CPU ops are touched (a GPU pipeline keeps its ops). Results are the
same up to floating-point rounding (the two libraries sum in different
orders). NumPy's BLAS may start several threads: set ``OPENBLAS_NUM_THREADS``
(or ``OMP_NUM_THREADS``) before starting Python to control it; the
benchmarks in ``metrics/`` use one.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from spacy.language import Language
from spacy.util import registry
from thinc.api import Model, NumpyOps

logger = logging.getLogger(__name__)

_NUMPY_BLAS_OPS: NumpyOps | None = None


def numpy_blas_ops() -> NumpyOps:
    """One shared ``NumpyOps(use_blis=False)`` instance."""
    global _NUMPY_BLAS_OPS
    if _NUMPY_BLAS_OPS is None:
        _NUMPY_BLAS_OPS = NumpyOps(use_blis=False)
    return _NUMPY_BLAS_OPS


def use_numpy_blas(nlp: Language) -> int:
    """Switch every thinc model node of ``nlp`` on plain ``NumpyOps`` to NumPy's BLAS.

    RETURNS (int): the number of nodes switched (already switched ones are not counted).
    """
    ops = numpy_blas_ops()
    switched = 0
    for _, component in nlp.components:
        model = getattr(component, "model", None)
        if not isinstance(model, Model):
            continue
        for node in model.walk():
            current = node.ops
            if type(current) is NumpyOps and getattr(current, "use_blis", True):
                node.ops = ops
                switched += 1
    logger.debug("numpy_blas_ops: %d model nodes switched", switched)
    return switched


@registry.callbacks("spacy_clinical_es.numpy_blas_ops.v1")
def create_numpy_blas_ops() -> Callable[[Language], Language]:
    """A callback for ``[nlp.after_pipeline_creation]`` / ``[initialize.after_init]`` (see the module docstring)."""

    def apply(nlp: Language) -> Language:
        use_numpy_blas(nlp)
        return nlp

    return apply


__all__ = ["create_numpy_blas_ops", "numpy_blas_ops", "use_numpy_blas"]
