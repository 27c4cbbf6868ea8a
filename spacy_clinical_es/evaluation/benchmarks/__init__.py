"""Benchmarks and task evaluations behind ``python -m spacy_clinical_es benchmark NAME``.

One module per benchmark; each exposes a ``run_*`` function that writes a metrics file and returns its content,
reusing :mod:`spacy_clinical_es.evaluation.metrics` and :mod:`spacy_clinical_es.evaluation.report`.
"""
