"""Keeping saved artefacts free of training PHI.

* :mod:`.artifact_scan` (spaCy-free): scan every byte of a directory (a saved
  pipeline) for the annotated strings of a corpus; reports counts per file and
  label, never the strings.
* :mod:`.prune_strings` (spaCy): a copy of a pipeline whose ``StringStore``
  keeps only what the pipeline needs to run, for ``to_disk``; registered as the
  ``before_to_disk`` callback ``spacy_clinical_es.prune_strings.v1``.

The CLI front is ``python -m spacy_clinical_es audit-model`` / ``prune-model``.
"""
