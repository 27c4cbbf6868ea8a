from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacy_clinical_es.corpora.annotations import Annotation, Document, Relation
from spacy_clinical_es.corpora.brat import (
    BINARY_ATTRIBUTE_VALUE,
    format_ann,
    iter_brat_dir,
    parse_ann,
    parse_standoff,
    read_brat_document,
    read_text_dir,
    write_brat_document,
)
from spacy_clinical_es.errors import CorpusFormatError

SECRET = "Juan Pérez"
TEXT = f"Paciente {SECRET} con dolor abdominal agudo.\n"
# Offsets: "Juan Pérez" 9-19, "dolor" 24-29, "abdominal" 30-39, "agudo" 40-45.


def _annotation_view(ann: Annotation) -> tuple:
    return (ann.id, ann.label, list(ann.fragments), ann.text, ann.codes, ann.attributes, ann.notes)


# -- every .ann file of every corpus ------------------------------------------------


def test_every_ann_file_round_trips(data_dir: Path) -> None:
    """Read, re-write and re-parse every .ann of the data directory (ids, attributes, notes, relations)."""
    folders = sorted({p.parent for p in data_dir.rglob("*.ann")})
    assert folders, "no .ann files under the data directory"
    n_docs = n_anns = n_attrs = n_notes = n_rels = 0
    raw_t = raw_a = raw_notes = raw_r = 0
    rel_types: dict[str, int] = {}
    for folder in folders:
        for document in iter_brat_dir(folder):
            ann_path = Path(document.path).with_suffix(".ann")
            raw = ann_path.read_text(encoding="utf-8").split("\n")
            raw_t += sum(line.startswith("T") for line in raw)
            raw_a += sum(line.startswith(("A", "M")) for line in raw)
            raw_notes += sum(line.startswith("#") for line in raw)
            raw_r += sum(line.startswith("R") for line in raw)
            back, back_rels = parse_standoff(format_ann(document), document.text, path="rewritten")
            assert [_annotation_view(a) for a in back] == [_annotation_view(a) for a in document.annotations], (
                ann_path
            )
            assert back_rels == document.relations, ann_path
            n_docs += 1
            n_anns += len(document.annotations)
            n_attrs += sum(len(a.attributes) for a in document.annotations)
            n_notes += sum(len(a.notes) for a in document.annotations)
            n_rels += len(document.relations)
            for rel in document.relations:
                rel_types[rel.type] = rel_types.get(rel.type, 0) + 1
    # Independent raw counts: nothing was lost on the way in.
    assert n_docs == sum(len(list(f.glob("*.txt"))) for f in folders)
    assert (n_anns, n_attrs, n_notes, n_rels) == (raw_t, raw_a, raw_notes, raw_r)
    assert n_anns > 40_000 and n_attrs > 2_000 and n_notes > 12_000
    if (data_dir / "nubes").is_dir():
        # NUBes SOURCE.md: Scope 8,496 · DiscScope 502 · DiscMarker 74.
        assert rel_types == {"Scope": 8_496, "DiscScope": 502, "DiscMarker": 74}


def test_nubes_relation_lines_are_reproduced_byte_for_byte(corpus_path) -> None:
    """NUBes .ann files hold T lines then R lines, both in id order: format_ann gives the same bytes."""
    folder = corpus_path("nubes") / "NUBes" / "SAMPLE-002"
    documents = list(iter_brat_dir(folder))[:40]
    assert sum(len(d.relations) for d in documents) > 50
    for document in documents:
        original = Path(document.path).with_suffix(".ann").read_bytes().decode("utf-8")
        assert format_ann(document) == original


def test_meddocan_files_are_reproduced_byte_for_byte(corpus_path) -> None:
    """MEDDOCAN .ann files hold only T lines in id order: format_ann must give the same bytes."""
    folder = corpus_path("meddocan") / "dev"
    for document in list(iter_brat_dir(folder))[:50]:
        original = Path(document.path).with_suffix(".ann").read_bytes().decode("utf-8")
        assert format_ann(document) == original


# -- parsing ---------------------------------------------------------------------------


def test_parse_all_line_types() -> None:
    ann = (
        "T1\tPERSONA 9 19\tJuan Pérez\n"
        "T2\tSINTOMA 24 29;40 45\tdolor agudo\n"
        "T3\tSINTOMA 24 39\tdolor abdominal\n"
        "A1\tIMAGEN T2\n"
        "M2\tCertainty T2 High\n"
        "#1\tAnnotatorNotes T2\t     note with leading spaces\n"
        "#1\tAnnotatorNotes T2\t\n"
        "N1\tReference T2 SNOMEDCT:12345\tdolor\n"
        "N2\tReference T2 SNOMEDCT:678\n"
        "N3\tReference T3 HPO:HP:0000819\tx\n"
    )
    anns = parse_ann(ann, TEXT)
    assert [a.id for a in anns] == ["T1", "T2", "T3"]
    t2 = anns[1]
    assert t2.fragments == [(24, 29), (40, 45)] and t2.is_discontinuous
    assert t2.text == "dolor agudo"
    assert t2.attributes == {"IMAGEN": BINARY_ATTRIBUTE_VALUE, "Certainty": "High"}
    assert t2.notes == ["     note with leading spaces", ""]
    assert t2.codes == {"SNOMEDCT": "12345+678"}
    assert anns[2].codes == {"HPO": "HP:0000819"}
    # Nested annotation T2/T3 kept as is.
    assert anns[2].fragments == [(24, 39)]


def test_parse_keeps_bom_offsets_and_crlf(tmp_path: Path) -> None:
    text = "\ufeffDatos: Juan.\n"
    (tmp_path / "a.txt").write_bytes(text.encode("utf-8"))
    (tmp_path / "a.ann").write_bytes(b"T1\tNOMBRE 8 12\tJuan\r\n")
    doc = read_brat_document(tmp_path / "a.txt", corpus="x")
    assert doc.text.startswith("\ufeff")
    assert doc.annotations[0].fragments == [(8, 12)] and doc.annotations[0].text == "Juan"
    assert doc.annotations[0].source == "x" and doc.corpus == "x"


def test_fragment_order_is_kept() -> None:
    anns = parse_ann("T1\tX 40 45;24 29\tagudo dolor\n", TEXT)
    assert anns[0].fragments == [(40, 45), (24, 29)]
    assert format_ann(Document("d", TEXT, anns)).startswith("T1\tX 40 45;24 29\tagudo dolor\n")


def test_line_break_inside_span_is_written_as_space() -> None:
    text = "uno\ndos tres"
    doc = Document("d", text, [Annotation("T1", "X", [(0, 7)], "uno\ndos")])
    written = format_ann(doc)
    assert written == "T1\tX 0 7\tuno dos\n"
    assert parse_ann(written, text)[0].text == "uno\ndos"


# -- corrupted input: CorpusFormatError with file and line, never the text ----------


def _write_pair(tmp_path: Path, ann: str, text: str = TEXT) -> Path:
    (tmp_path / "doc.txt").write_text(text, encoding="utf-8")
    (tmp_path / "doc.ann").write_text(ann, encoding="utf-8")
    return tmp_path / "doc.txt"


def _assert_error(err: pytest.ExceptionInfo, *, line: int | None, secret: str = SECRET) -> str:
    message = str(err.value)
    assert "doc." in message, message
    if line is not None:
        assert f"line {line}" in message and err.value.line == line, message
    assert secret not in message and "Juan" not in message, message
    return message


def test_offset_beyond_text(tmp_path: Path) -> None:
    txt = _write_pair(tmp_path, "T1\tPERSONA 9 19\tJuan Pérez\nT2\tPERSONA 9 999\tJuan Pérez\n")
    with pytest.raises(CorpusFormatError) as err:
        read_brat_document(txt)
    message = _assert_error(err, line=2)
    assert "annotation T2" in message and "999" in message and str(len(TEXT)) in message


def test_text_mismatch(tmp_path: Path) -> None:
    txt = _write_pair(tmp_path, "T1\tPERSONA 9 19\tJuan Peres!\n")
    with pytest.raises(CorpusFormatError) as err:
        read_brat_document(txt)
    message = _assert_error(err, line=1)
    assert "expected 10 characters, found 11" in message and "annotation T1" in message


def test_text_mismatch_in_second_fragment(tmp_path: Path) -> None:
    txt = _write_pair(tmp_path, "T4\tX 9 19;24 29\tJuan Pérez dolo\n")
    with pytest.raises(CorpusFormatError) as err:
        read_brat_document(txt)
    message = _assert_error(err, line=1)
    assert "fragment 2 (24-29)" in message and "expected 5 characters, found 4" in message


@pytest.mark.parametrize(
    "line",
    [
        "T1 PERSONA 9 19 Juan Pérez",  # spaces instead of tabs
        "T1\tPERSONA 9-19\tJuan Pérez",
        "T1\tPERSONA\tJuan Pérez",
        "Juan Pérez\tPERSONA 9 19",
        "A1\tIMAGEN T1 a b",
        "#1\tAnnotatorNotes\tJuan Pérez",
        "N1\tReference T1 nocolon\tJuan Pérez",
        "R1\tRel Arg1:T1",
        "R1\tRel Arg1 T1 Arg2:T1",
        "R1\tRel Arg1:T1 Arg1:T1",
        "R1\tRel Arg1:T1 Arg2:T1\tJuan Pérez",
        "E1\tEvent:T1",
        "*\tEquiv T1 T1",
    ],
    ids=["spaces", "dash", "no-offsets", "no-id", "attr-fields", "note-target", "norm-db", "relation-one-arg",
         "relation-no-colon", "relation-same-role", "relation-text", "event", "equiv"],
)  # fmt: skip
def test_malformed_line(tmp_path: Path, line: str) -> None:
    txt = _write_pair(tmp_path, f"T1\tPERSONA 9 19\tJuan Pérez\n{line}\n")
    with pytest.raises(CorpusFormatError) as err:
        read_brat_document(txt)
    _assert_error(err, line=2)


@pytest.mark.parametrize(
    "line",
    [
        "A1\tIMAGEN T9",
        "#1\tAnnotatorNotes T9\tJuan Pérez",
        "N1\tReference T9 SNOMEDCT:1\tJuan Pérez",
        "R1\tScope Arg1:T1 Arg2:T9",
        "R1\tScope Arg1:T9 Arg2:T1",
    ],
    ids=["attribute", "note", "normalization", "relation-arg2", "relation-arg1"],
)
def test_unknown_referenced_id(tmp_path: Path, line: str) -> None:
    txt = _write_pair(tmp_path, f"T1\tPERSONA 9 19\tJuan Pérez\n{line}\n")
    with pytest.raises(CorpusFormatError) as err:
        read_brat_document(txt)
    assert "unknown annotation id T9" in _assert_error(err, line=2)


def test_relations_are_read_and_written_with_ids_and_roles(tmp_path: Path) -> None:
    content = (
        "T1\tNegSynMarker 20 23\tcon\n"
        "T2\tDISO 24 29;40 45\tdolor agudo\n"
        "R3\tScope Arg1:T1 Arg2:T2\t\n"
        "R1\tLinks Source:T2 Target:T1\n"
    )
    txt = _write_pair(tmp_path, content)
    document = read_brat_document(txt)
    assert document.relations == [
        Relation("R3", "Scope", "T1", "T2"),
        Relation("R1", "Links", "T2", "T1", roles=("Source", "Target")),
    ]
    written = format_ann(document)
    assert written.endswith("R3\tScope Arg1:T1 Arg2:T2\nR1\tLinks Source:T2 Target:T1\n")
    assert parse_standoff(written, document.text)[1] == document.relations


def test_duplicate_relation_id(tmp_path: Path) -> None:
    txt = _write_pair(
        tmp_path, "T1\tPERSONA 9 19\tJuan Pérez\nR1\tX Arg1:T1 Arg2:T1\nR1\tY Arg1:T1 Arg2:T1\n"
    )
    with pytest.raises(CorpusFormatError) as err:
        read_brat_document(txt)
    assert "duplicate relation id (first on line 2)" in _assert_error(err, line=3)


@pytest.mark.parametrize(
    "relation",
    [
        Relation("R1", "Scope", "T1", "T9"),
        Relation("T1", "Scope", "T1", "T1"),
        Relation("R1", "Sco pe", "T1", "T1"),
        Relation("R1", "Scope", "T1", "T1", roles=("A:1", "Arg2")),
        Relation("R1", "Scope", "T1", "T1", roles=("Arg", "Arg")),
    ],
    ids=["unknown-arg", "bad-id", "space-in-type", "colon-in-role", "same-roles"],
)
def test_unwritable_relations_raise(relation: Relation) -> None:
    document = Document("d", TEXT, [Annotation("T1", "PERSONA", [(9, 19)], SECRET)], relations=[relation])
    with pytest.raises(CorpusFormatError) as err:
        format_ann(document)
    assert SECRET not in str(err.value)


def test_duplicate_id(tmp_path: Path) -> None:
    txt = _write_pair(tmp_path, "T1\tPERSONA 9 19\tJuan Pérez\nT1\tPERSONA 9 19\tJuan Pérez\n")
    with pytest.raises(CorpusFormatError) as err:
        read_brat_document(txt)
    _assert_error(err, line=2)


def test_empty_fragment(tmp_path: Path) -> None:
    txt = _write_pair(tmp_path, "T1\tPERSONA 19 9\tJuan Pérez\n")
    with pytest.raises(CorpusFormatError) as err:
        read_brat_document(txt)
    _assert_error(err, line=1)


def test_missing_txt(tmp_path: Path) -> None:
    _write_pair(tmp_path, "T1\tPERSONA 9 19\tJuan Pérez\n")
    (tmp_path / "other.ann").write_text("T1\tPERSONA 9 19\tJuan Pérez\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError) as err:
        list(iter_brat_dir(tmp_path))
    message = str(err.value)
    assert "other.txt" in message and "other.ann" in message and SECRET not in message


def test_wrong_encoding(tmp_path: Path) -> None:
    (tmp_path / "doc.txt").write_bytes(TEXT.encode("latin-1"))
    (tmp_path / "doc.ann").write_text("T1\tPERSONA 9 19\tJuan Pérez\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError) as err:
        read_brat_document(tmp_path / "doc.txt")
    message = _assert_error(err, line=1)
    assert "doc.txt" in message and f"byte offset {TEXT.index('é')}" in message


def test_wrong_encoding_of_ann(tmp_path: Path) -> None:
    (tmp_path / "doc.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "doc.ann").write_bytes("T0\tX 0 8\tPaciente\nT1\tPERSONA 9 19\tJuan Pérez\n".encode("cp1252"))
    with pytest.raises(CorpusFormatError) as err:
        read_brat_document(tmp_path / "doc.txt")
    message = _assert_error(err, line=2)
    assert "doc.ann" in message and "byte offset" in message


# -- folders and writing -------------------------------------------------------------


def test_iter_brat_dir_sorted_with_text_only_docs(tmp_path: Path) -> None:
    for name in ("es-b", "a", "c"):
        (tmp_path / f"{name}.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "a.ann").write_text("T1\tPERSONA 9 19\tJuan Pérez\n", encoding="utf-8")
    docs = list(iter_brat_dir(tmp_path, corpus="c"))
    assert [d.id for d in docs] == ["a", "c", "b"]  # sorted by file name; ids drop "es-"
    assert [len(d.annotations) for d in docs] == [1, 0, 0]
    assert set(read_text_dir(tmp_path)) == {"a", "b", "c"}


def test_duplicate_document_ids_in_folder(tmp_path: Path) -> None:
    (tmp_path / "es-a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="document id a"):
        list(iter_brat_dir(tmp_path))


def test_write_and_read_back(tmp_path: Path) -> None:
    doc = Document(
        "es-S1",
        "\ufeff" + TEXT,
        [
            Annotation("T1", "PERSONA", [(10, 20)], SECRET, attributes={"EXITUS": "true", "grade": "2"}),
            Annotation("T2", "MORF", [(25, 30), (41, 46)], "dolor agudo", codes={"CIE-O-3.1": "8000/6"}),
        ],
        path="/somewhere/es-S1.txt",
    )
    txt, _ = write_brat_document(doc, tmp_path / "out")
    assert txt.name == "es-S1.txt" and txt.read_bytes() == doc.text.encode("utf-8")
    back = read_brat_document(txt)
    assert [_annotation_view(a) for a in back.annotations] == [_annotation_view(a) for a in doc.annotations]
    write_brat_document(doc, tmp_path / "notes", notes_from_codes="CIE-O-3.1")
    content = (tmp_path / "notes" / "es-S1.ann").read_text(encoding="utf-8")
    assert "#1\tAnnotatorNotes T2\t8000/6\n" in content and "N1" not in content


@pytest.mark.parametrize(
    "annotation",
    [
        Annotation("X1", "L", [(0, 3)], "Pac"),
        Annotation("T1", "two words", [(0, 3)], "Pac"),
        Annotation("T1", "L", [(0, 3)], "Pac", notes=["a\nb"]),
        Annotation("T1", "L", [(0, 3)], "Pac", codes={"A:B": "1"}),
        Annotation("T1", "L", [(0, 999)], "Pac"),
    ],
)
def test_format_rejects_what_brat_cannot_hold(annotation: Annotation) -> None:
    with pytest.raises(CorpusFormatError):
        format_ann(Document("d", TEXT, [annotation]))


# -- hypothesis ------------------------------------------------------------------------

_line_pieces = st.sampled_from(
    ["T1", "T2", "A1", "M1", "N1", "#1", "R1", "E1", "\t", " ", ";", ":", "\n", "\r", "LABEL", "Reference",
     "AnnotatorNotes", "0", "3", "5", "12", "99999999999999999999", "٣", "+1", "Juan", "é", "\ufeff"]
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    content=st.one_of(st.text(), st.lists(_line_pieces, max_size=40).map("".join)),
    doc_text=st.text(max_size=30),
)
def test_random_ann_content_only_raises_corpus_format_error(content: str, doc_text: str) -> None:
    try:
        anns = parse_ann(content, doc_text, path="x.ann")
    except CorpusFormatError as err:
        assert "x.ann" in str(err)
        return
    for ann in anns:
        assert all(0 <= s < e <= len(doc_text) for s, e in ann.fragments)


_token = st.text(alphabet=st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=1, max_size=6)
_note = st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=10)


@st.composite
def _documents(draw: st.DrawFn) -> Document:
    text = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
    annotations = []
    for i in range(draw(st.integers(0, 5))):
        fragments = []
        for _ in range(draw(st.integers(1, 3))):
            start = draw(st.integers(0, len(text) - 1))
            end = draw(st.integers(start + 1, len(text)))
            fragments.append((start, end))
        label = draw(_token)
        attrs = draw(st.dictionaries(_token, st.one_of(st.just(BINARY_ATTRIBUTE_VALUE), _token), max_size=2))
        codes = draw(st.dictionaries(_token.filter(lambda t: ":" not in t), _token, max_size=2))
        notes = draw(st.lists(_note, max_size=2))
        annotations.append(
            Annotation(
                f"T{i + 1}", label, fragments, " ".join(text[s:e] for s, e in fragments), codes, attrs, notes
            )
        )
    relations = []
    if annotations:
        ids = st.sampled_from([a.id for a in annotations])
        for i in range(draw(st.integers(0, 3))):
            roles = draw(st.lists(_token.filter(lambda t: ":" not in t), min_size=2, max_size=2, unique=True))
            relations.append(Relation(f"R{i + 1}", draw(_token), draw(ids), draw(ids), roles=tuple(roles)))
    return Document("d", text, annotations, relations=relations)


@settings(max_examples=200, deadline=None)
@given(_documents())
def test_format_then_parse_round_trips(document: Document) -> None:
    back, relations = parse_standoff(format_ann(document), document.text)
    assert [_annotation_view(a) for a in back] == [_annotation_view(a) for a in document.annotations]
    assert relations == document.relations


def test_error_ids_are_only_quoted_when_they_look_like_ids() -> None:
    with pytest.raises(CorpusFormatError) as err:
        parse_ann("Tpaciente Juan Pérez\tX 0 3\tPac\n", TEXT, path="p.ann")
    assert "Juan" not in str(err.value)
    assert re.search(r"line 1", str(err.value))
