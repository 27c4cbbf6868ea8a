"""Representations learned from our own raw clinical text (issue 17): floret vectors; tok2vec pretraining config.

Raw text comes from ``convert raw-text`` (:mod:`spacy_clinical_es.corpora.builders.raw_text`).
"""
