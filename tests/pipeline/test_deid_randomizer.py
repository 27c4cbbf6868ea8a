"""The deid_randomizer component, and the MEDDOCAN oracle acceptance tests.

Oracle leak test, exact definition. Every MEDDOCAN train and dev document is
converted with ``document_to_doc`` (span group ``"meddocan"``) and passed
through the component (mode ``surrogate``, default options and policy; the
``es_ES`` locale on the whole corpus, every other Faker locale on 100 dev
documents, and on the whole corpus as a slow test). For every gold
annotation that the options do not keep (``SEXO_SUJETO_ASISTENCIA`` and
``EDAD_SUJETO_ASISTENCIA`` are kept by default, ages above 89 generalized;
annotations made of kinship words only are kept by ``keep_relatives``, and of
the other ``FAMILIARES_SUJETO_ASISTENCIA`` annotations only the capitalized
name words are checked: none may occur in the output more often than in the
input minus that mention):

* *leak*: its surface ``o`` (normalized: case- and accent-insensitive,
  whitespace runs collapsed; only when ``len(o) >= 3``) occurs in the
  normalized output more often (overlapping occurrences counted) than in the
  normalized input in which every replaced span was cut out (replaced by a
  NUL character). So ``o`` may survive only where the input already had it
  outside the replaced spans — in unannotated text or in a kept span —
  and an occurrence anywhere else (inside any surrogate, or formed across a
  surrogate and its context) is a leak;
* *echo*: the replaced region that holds it equals its original
  (normalized);
* *inconsistency*: two regions with the same label and the same normalized
  original got different normalized surrogates.

* *mask tag*: a typed mask tag (``[NOMBRE]``…) inside the replaced region.

All four counts must be 0.
"""
from __future__ import annotations

import pickle
import re
import time
from collections import Counter

import pytest
import spacy
from spacy.tokens import Doc, DocBin

from spacy_clinical_es.corpora.readers import iter_corpus
from spacy_clinical_es.corpora.representation import doc_to_document, document_to_doc
from spacy_clinical_es.deid import (
    LOCALES,
    MASK_TAGS,
    DeidError,
    DeidOptions,
    OffsetMap,
    normalize,
    randomize,
)
from spacy_clinical_es.deid.people import is_kinship_only
from spacy_clinical_es.pipeline import deid_randomizer as component_module
from spacy_clinical_es.tokenizer import make_clinical_nlp

SPAN_KEY = "meddocan"
KEPT_LABELS = {"SEXO_SUJETO_ASISTENCIA", "EDAD_SUJETO_ASISTENCIA"}
RELATIVE_LABEL = "FAMILIARES_SUJETO_ASISTENCIA"
TEXT = "Paciente: Ernesto Rivera Bueno, 70 años, varón. Ingreso 03/03/2014 en Madrid."


def _count(haystack: str, needle: str) -> int:
    count, i = 0, haystack.find(needle)
    while i != -1:
        count, i = count + 1, haystack.find(needle, i + 1)
    return count


@pytest.fixture(scope="module")
def nlp() -> spacy.Language:
    return make_clinical_nlp()


def _small_doc(nlp: spacy.Language) -> Doc:
    doc = nlp.make_doc(TEXT)
    doc.ents = [
        doc.char_span(10, 30, "NOMBRE_SUJETO_ASISTENCIA"),
        doc.char_span(32, 39, "EDAD_SUJETO_ASISTENCIA"),
        doc.char_span(41, 46, "SEXO_SUJETO_ASISTENCIA"),
        doc.char_span(56, 66, "FECHAS"),
        doc.char_span(70, 76, "TERRITORIO"),
    ]
    return doc


def test_factory_and_outputs(nlp):
    pipe_nlp = make_clinical_nlp()
    pipe = pipe_nlp.add_pipe("deid_randomizer", config={"seed": 1})
    cfg = pipe_nlp.config["components"]["deid_randomizer"]
    assert cfg["mode"] == "surrogate" and cfg["options"]["keep_sex"] is True and cfg["options"]["keep_relatives"] is True
    assert cfg["options"]["locale"] == "es_ES" and cfg["policy"]["recall"] == "replace_if_certain"
    assert "key" not in cfg and "key_env" not in cfg and pipe.key_env == "SPACY_CLINICAL_ES_DEID_KEY"
    doc = pipe(_small_doc(pipe_nlp))
    assert doc.text == TEXT  # the input Doc is not changed
    assert "Ernesto" not in doc._.deid_text and "Madrid" not in doc._.deid_text
    assert "70 años, varón" in doc._.deid_text
    out = doc._.deid_doc
    assert isinstance(out, Doc) and out.text == doc._.deid_text
    assert [e.label_ for e in out.ents] == [e.label_ for e in doc.ents]
    assert [s.label_ for s in out.spans["deid"]] == [e.label_ for e in doc.ents]
    assert doc_to_document(out).annotations[0].label == "NOMBRE_SUJETO_ASISTENCIA"
    omap = doc._.deid_offset_map
    assert isinstance(omap, OffsetMap) and omap.to_input_span(out.ents[0].start_char, out.ents[0].end_char) == (10, 30)
    assert doc._.deid_stats["surrogate"] == 3 and doc._.deid_stats["keep"] == 2


def test_mask_mode_and_span_group_input(nlp):
    pipe_nlp = make_clinical_nlp()
    pipe = pipe_nlp.add_pipe("deid_randomizer", config={"mode": "mask", "spans_key": "phi"})
    doc = _small_doc(pipe_nlp)
    doc.spans["phi"] = list(doc.ents)
    doc.ents = []
    pipe(doc)
    assert doc._.deid_text == "Paciente: [NOMBRE], 70 años, varón. Ingreso [FECHA] en [TERRITORIO]."
    assert [s.label_ for s in doc._.deid_doc.spans["phi"]] == ["NOMBRE_SUJETO_ASISTENCIA", "EDAD_SUJETO_ASISTENCIA", "SEXO_SUJETO_ASISTENCIA", "FECHAS", "TERRITORIO"]  # fmt: skip
    with pytest.raises(DeidError):
        pipe(pipe_nlp.make_doc("sin grupo"))
    with pytest.raises(DeidError):
        pipe_nlp.add_pipe("deid_randomizer", name="bad", config={"mode": "blur"})


def test_outputs_survive_docbin(nlp):
    pipe = component_module.DeidRandomizer(nlp, seed=3)
    doc = pipe(_small_doc(nlp))
    docbin = DocBin(store_user_data=True)
    docbin.add(doc)
    restored = next(DocBin().from_bytes(docbin.to_bytes()).get_docs(nlp.vocab))
    assert restored._.deid_text == doc._.deid_text
    assert restored._.deid_offset_map == doc._.deid_offset_map
    assert [(e.text, e.label_) for e in restored._.deid_doc.ents] == [(e.text, e.label_) for e in doc._.deid_doc.ents]


def test_deid_doc_is_built_directly_and_survives_a_fresh_vocab(nlp):
    pipe = component_module.DeidRandomizer(nlp, seed=3)
    doc = pipe(_small_doc(nlp))
    stored = doc.user_data[component_module.DEID_USER_DATA_KEY]
    assert "doc" not in stored  # only the recipe: text, spans, replacement token offsets, offset map, counts
    out = doc._.deid_doc
    assert [tuple(s) for s in stored["spans"]] == [(e.start_char, e.end_char, e.label_) for e in out.ents]
    # tokens outside the replaced spans are the input's; the replacements are tokenized by the pipeline
    reference = nlp.make_doc(doc._.deid_text)
    assert [t.text for t in out] == [t.text for t in reference] and out.text == reference.text
    assert doc._.deid_doc is out  # built once per Doc
    assert not hasattr(component_module, "_PIPELINES") and not hasattr(component_module, "_fallback_pipeline")
    docbin = DocBin(store_user_data=True)
    docbin.add(doc)
    other = spacy.blank("es")  # another vocab: no live randomizer, the package's clinical tokenizer is used
    restored = next(DocBin().from_bytes(docbin.to_bytes()).get_docs(other.vocab))
    assert [t.text for t in restored._.deid_doc] == [t.text for t in doc._.deid_doc]
    assert [(e.start_char, e.end_char, e.label_) for e in restored._.deid_doc.ents] == [
        (e.start_char, e.end_char, e.label_) for e in doc._.deid_doc.ents
    ]


def test_key_is_never_serialized(nlp, tmp_path, monkeypatch):
    monkeypatch.delenv("SPACY_CLINICAL_ES_DEID_KEY", raising=False)
    pipe_nlp = make_clinical_nlp()
    pipe = pipe_nlp.add_pipe("deid_randomizer", config={"seed": 5, "options": {"max_age": 99}})
    pipe.set_key("TOP-SECRET-KEY")
    assert "TOP-SECRET" not in repr(pipe)
    first = pipe(_small_doc(pipe_nlp))._.deid_text
    pipe_nlp.to_disk(tmp_path / "model")
    for path in (tmp_path / "model").rglob("*"):
        if path.is_file():
            assert b"TOP-SECRET" not in path.read_bytes()
    assert b"TOP-SECRET" not in pipe_nlp.to_bytes()
    loaded = spacy.load(tmp_path / "model")
    loaded_pipe = loaded.get_pipe("deid_randomizer")
    assert loaded_pipe.cfg["options"]["max_age"] == 99 and loaded_pipe.cfg["seed"] == 5
    loaded_pipe.set_key(b"TOP-SECRET-KEY")
    assert loaded_pipe(_small_doc(loaded))._.deid_text == first
    clone = pickle.loads(pickle.dumps(pipe))
    assert b"TOP-SECRET" not in pickle.dumps(pipe)
    with pytest.raises(DeidError):
        clone(_small_doc(pipe_nlp))
    monkeypatch.setenv("SPACY_CLINICAL_ES_DEID_KEY", "TOP-SECRET-KEY")
    assert clone(_small_doc(pipe_nlp))._.deid_text == first


def test_patient_key_attribute(nlp):
    pipe = component_module.DeidRandomizer(nlp, seed=0)
    texts = ["Visita el 03/03/2014.", "Visita el 10/10/2015."]
    shifts = []
    for text in texts:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(10, 20, "FECHAS")]
        doc._.deid_patient_key = "P-1"
        pipe(doc)
        import datetime as dt

        before = dt.datetime.strptime(text[10:20], "%d/%m/%Y")
        after = dt.datetime.strptime(doc._.deid_text[10:20], "%d/%m/%Y")
        shifts.append((after - before).days)
    assert shifts[0] == shifts[1] != 0


def test_a_saved_config_cannot_choose_the_key_variable(tmp_path, monkeypatch):
    """Issue 20: a crafted pipeline must not point the key at a predictable variable (e.g. HOME)."""
    import srsly
    from thinc.api import Config

    monkeypatch.delenv("SPACY_CLINICAL_ES_DEID_KEY", raising=False)
    pipe_nlp = make_clinical_nlp()
    pipe_nlp.add_pipe("deid_randomizer")
    pipe_nlp.to_disk(tmp_path / "model")
    # 1. in config.cfg: not a setting of the component, loading fails with spaCy's config error
    config = Config().from_disk(tmp_path / "model" / "config.cfg")
    config["components"]["deid_randomizer"]["key_env"] = "HOME"
    config.to_disk(tmp_path / "model" / "config.cfg")
    with pytest.raises(Exception, match="key_env"):
        spacy.load(tmp_path / "model")
    # 2. in the component's saved cfg: ignored, the runtime default stays
    del config["components"]["deid_randomizer"]["key_env"]
    config.to_disk(tmp_path / "model" / "config.cfg")
    cfg_path = tmp_path / "model" / "deid_randomizer" / "cfg"
    srsly.write_json(cfg_path, {**srsly.read_json(cfg_path), "key_env": "HOME"})
    loaded = spacy.load(tmp_path / "model").get_pipe("deid_randomizer")
    assert loaded.key_env == "SPACY_CLINICAL_ES_DEID_KEY" and "key_env" not in loaded.cfg
    assert loaded._resolve_key() is None  # HOME is set, but never read
    loaded.configure(key_env="MY_DEID_KEY")  # the runtime may choose it
    monkeypatch.setenv("MY_DEID_KEY", "k" * 32)
    assert loaded._resolve_key() == "k" * 32 and "MY_DEID_KEY" not in str(loaded.cfg)


def test_configure_is_checked_and_atomic(tmp_path):
    pipe_nlp = make_clinical_nlp()
    pipe = pipe_nlp.add_pipe("deid_randomizer", config={"seed": 1})
    policy_file = tmp_path / "policy.yml"
    policy_file.write_text("recall: mask\nlabels:\n  PROFESION: keep\n")
    pipe.configure(mode="mask", policy=policy_file, keep_relatives=False, locale="es_CL")
    assert pipe.cfg["mode"] == "mask" and pipe.policy.recall == "mask" and pipe.policy.labels == {"PROFESION": "keep"}
    assert pipe.options.keep_relatives is False and pipe.options.locale == "es_CL"
    settings = pipe.settings()
    assert settings["policy"]["recall"] == "mask" and settings["options"]["locale"] == "es_CL"
    before = dict(pipe.cfg)
    for bad in ({"mode": "blur"}, {"locale": "fr_FR"}, {"policy": {"recall": "blur"}}, {"recall_threshold": 0.3}):
        with pytest.raises(DeidError):
            pipe.configure(**bad)
        assert pipe.cfg == before
    pipe.configure(use_recall=False)
    assert pipe.policy.recall == "keep"
    pipe.configure(use_recall=True)
    assert pipe.policy.recall == "replace_if_certain"


def test_sources_and_the_issue_examples_through_the_component():
    from spacy.tokens import Span

    from spacy_clinical_es.pipeline.phi_recall import RECALL_KB_ID

    pipe_nlp = make_clinical_nlp()
    pipe = pipe_nlp.add_pipe("deid_randomizer", config={"seed": 2, "spans_key": "phi"})
    text = "Domicilio: Hualde. Paciente Martínez Soto, 62 años, con enfermedad de Crohn; su hija Lucía."
    doc = pipe_nlp.make_doc(text)

    def span(surface: str, label: str, recall: bool) -> Span:
        start = text.index(surface)
        found = doc.char_span(start, start + len(surface), label=label)
        return Span(doc, found.start, found.end, label=label, kb_id=RECALL_KB_ID if recall else "")

    doc.spans["phi"] = [
        span("Domicilio", "CALLE", True),
        span("Hualde", "TERRITORIO", True),
        span("Martínez Soto", "NOMBRE_SUJETO_ASISTENCIA", False),
        span(",", "CALLE", True),
        span("Crohn", "NOMBRE_PERSONAL_SANITARIO", False),
        span("hija Lucía", "FAMILIARES_SUJETO_ASISTENCIA", False),
    ]
    out = pipe(doc)._.deid_text
    assert out.startswith("Domicilio: [***]. Paciente ") and ", 62 años, con enfermedad de Crohn; su hija " in out
    assert "Martínez" not in out and "Soto" not in out and "Lucía" not in out
    assert doc._.deid_stats["kept_field_label"] == 1 and doc._.deid_stats["kept_punctuation"] == 1
    assert [s.label_ for s in doc._.deid_doc.spans["phi"]][:2] == ["CALLE", "TERRITORIO"]


# ----------------------------------------------------------------------------- MEDDOCAN


@pytest.fixture(scope="module")
def meddocan(data_dir) -> dict[str, list]:
    return {split: list(iter_corpus("meddocan", split, data_dir=data_dir)) for split in ("train", "dev")}


def _relative_name_words(text: str) -> list[str]:
    """Capitalized words of a relative mention that are not kinship words (the names keep_relatives replaces)."""
    words = re.findall(r"[^\W\d_]+", text)
    return [w for i, w in enumerate(words) if len(w) >= 3 and w[:1].isupper() and not is_kinship_only(w) and (i > 0 or not w.isupper())]


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", normalize(text))


def _oracle(documents: list, nlp: spacy.Language, locale: str) -> Counter:
    """The counts of the oracle leak test (see the module docstring) over ``documents``."""
    pipe = component_module.DeidRandomizer(nlp, spans_key=SPAN_KEY, seed=0, options=DeidOptions(locale=locale))
    counts: Counter = Counter()
    for document in documents:
        doc = pipe(document_to_doc(document, nlp, span_key=SPAN_KEY))
        out_text = doc._.deid_text
        changed = doc._.deid_offset_map.changed_segments()
        replaced = [(s.in_start, s.in_end) for s in changed]
        pieces, last = [], 0
        for start, end in replaced:
            pieces.append(document.text[last:start] + "\x00")
            last = end
        outside = normalize("".join(pieces) + document.text[last:])
        output = normalize(out_text)
        surrogate_of: dict[tuple[str, str], str] = {}
        for ann in document.annotations:
            if ann.label in KEPT_LABELS or is_kinship_only(ann.text):
                counts["kept"] += 1
                continue
            if ann.label == RELATIVE_LABEL:  # keep_relatives: kinship and details kept, names replaced
                counts["relative"] += 1
                words_in, words_out = Counter(_words(document.text)), Counter(_words(out_text))
                for word in _relative_name_words(ann.text):
                    counts["leak"] += words_out[normalize(word)] > words_in[normalize(word)] - 1
                continue
            counts["checked"] += 1
            seg = next((s for s in changed if s.in_start <= ann.start and ann.end <= s.in_end), None)
            if seg is None:
                counts["not_replaced"] += 1
                continue
            original = normalize(document.text[seg.in_start : seg.in_end])
            surrogate = normalize(out_text[seg.out_start : seg.out_end])
            counts["echo"] += surrogate == original
            key = (ann.label, original)
            counts["inconsistent"] += surrogate_of.setdefault(key, surrogate) != surrogate
            surface = normalize(ann.text)
            if len(surface) >= 3 and _count(output, surface) > _count(outside, surface):
                counts["leak"] += 1
            counts["mask_tag"] += any(f"[{tag}]" in out_text[seg.out_start : seg.out_end] for tag in MASK_TAGS.values())
        counts["documents"] += 1
        counts["fallback"] += doc._.deid_stats.get("by_shape", 0) + doc._.deid_stats.get("by_no_surrogate", 0)
    return counts


def _assert_oracle(counts: Counter) -> None:
    assert counts["not_replaced"] == 0
    assert counts["leak"] == 0
    assert counts["echo"] == 0
    assert counts["inconsistent"] == 0
    assert counts["mask_tag"] == 0


def test_meddocan_oracle_no_leaks(meddocan, nlp):
    started = time.perf_counter()
    counts = _oracle(meddocan["train"] + meddocan["dev"], nlp, "es_ES")
    print(f"\nMEDDOCAN oracle: {dict(counts)} in {time.perf_counter() - started:.1f} s")
    assert counts["documents"] == 750
    assert counts["checked"] > 13500
    _assert_oracle(counts)


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "es_ES"])
def test_meddocan_oracle_no_leaks_other_locales(meddocan, nlp, locale):
    """Every other Faker locale on 100 dev documents (the whole corpus: the slow test below)."""
    counts = _oracle(meddocan["dev"][:100], nlp, locale)
    assert counts["checked"] > 1500
    _assert_oracle(counts)


@pytest.mark.slow
@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "es_ES"])
def test_meddocan_oracle_no_leaks_other_locales_whole_corpus(meddocan, nlp, locale):
    counts = _oracle(meddocan["train"] + meddocan["dev"], nlp, locale)
    assert counts["documents"] == 750
    _assert_oracle(counts)


def test_meddocan_dev_non_phi_characters_survive(meddocan, nlp):
    pipe = component_module.DeidRandomizer(nlp, spans_key=SPAN_KEY, seed=1)
    for document in meddocan["dev"]:
        # the pure randomizer with the exact gold offsets, and the component with the span group
        gold = [(a.start, a.end, a.label) for a in document.annotations]
        doc = document_to_doc(document, nlp, span_key=SPAN_KEY)
        given = [(s.start_char, s.end_char, s.label_) for s in doc.spans[SPAN_KEY]]
        pipe(doc)
        pure = randomize(document.text, gold, seed=1)
        for spans, out_text, omap in (
            (gold, pure.text, pure.offset_map),
            (given, doc._.deid_text, doc._.deid_offset_map),
        ):
            phi = [False] * len(document.text)
            for start, end, _ in spans:
                phi[start:end] = [True] * (end - start)
            seen = [False] * len(document.text)
            for out_pos, char in enumerate(out_text):
                in_pos = omap.to_input(out_pos)
                if not phi[in_pos]:
                    assert document.text[in_pos] == char, (document.id, in_pos)
                    seen[in_pos] = True
            missing = [i for i, p in enumerate(phi) if not p and not seen[i]]
            assert not missing, (document.id, missing[:5])
