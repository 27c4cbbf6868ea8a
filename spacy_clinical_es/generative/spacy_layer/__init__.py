"""The spaCy layer of generative NER (import explicitly; the rest of :mod:`spacy_clinical_es.generative` is spaCy-free).

:mod:`.registry` (format registry functions), :mod:`.annotate` (predictions to
docs, gold targets), :mod:`.backends` (``spacy_clinical_es.Seq2SeqBackend.v1``)
and :mod:`.llm_task` (spacy-llm task ``spacy_clinical_es.GenerativeNER.v1``).
The component is :mod:`spacy_clinical_es.pipeline.generative_ner`.
"""
