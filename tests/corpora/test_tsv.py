from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.corpora.brat import iter_brat_dir, read_text_dir
from spacy_clinical_es.corpora.report import ConversionReport
from spacy_clinical_es.corpora.tsv import (
    SUBTASK1_COLUMNS,
    merge_linking,
    read_cantemist_coding,
    read_codiesp_doc_codes,
    read_codiesp_evidence,
    read_distemist_linking,
    read_distemist_mentions,
    read_medprocner_doc_codes,
    read_medprocner_linking,
    read_medprocner_mentions,
    read_mentions_tsv,
    read_symptemist_mentions,
)
from spacy_clinical_es.errors import CorpusFormatError

# Documents withheld from the staged SPACCC corpora = the MEDDOCAN test documents
# (OVERLAP.md, row "MEDDOCAN test*"): 191 of the MedProcNER/DisTEMIST/SympTEMIST
# train docs, 59 of their test docs, 128/57/65 of CodiEsp train/dev/test.
WITHHELD = {"spaccc_train": 191, "spaccc_test": 59, "codiesp_train": 128, "codiesp_dev": 57, "codiesp_test": 65}
# Published counts (each corpus' SOURCE.md).
SOURCE = {
    "spaccc_train_docs": 750,
    "distemist_mentions": 8065,
    "distemist_linking": 1512 + 3624,
    "medprocner_mentions": 11065,
    "medprocner_linking": 4857,
    "medprocner_subtask3_docs": 250,
    "symptemist_mentions": 9092,
    "codiesp_docs": {"train": 500, "dev": 250, "test": 250},
    "codiesp_x": {"train": 7209 + 1972, "dev": 3431 + 1046, "test": 3665 + 1112},
    "codiesp_d": {"train": 5639, "dev": 2677, "test": 2842},
    "codiesp_p": {"train": 1550, "dev": 817, "test": 879},
    "cantemist_coding": {"train": 2757, "dev1": 1385, "dev2": 1279},
}


def _data_rows(path: Path, header: bool = True) -> int:
    lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    return len(lines) - (1 if header else 0)


def _texts(folder: Path) -> dict[str, str]:
    return {doc_id: doc.text for doc_id, doc in read_text_dir(folder).items()}


# -- real data ---------------------------------------------------------------------


def test_distemist_counts(corpus_path) -> None:
    root = corpus_path("distemist") / "training"
    texts = _texts(root / "text_files")
    assert len(texts) == SOURCE["spaccc_train_docs"] - WITHHELD["spaccc_train"] == 559
    report = ConversionReport()
    mentions_path = root / "subtrack1_entities" / "distemist_subtrack1_training_mentions.tsv"
    mentions = read_distemist_mentions(mentions_path, texts, report=report)
    n_mentions = sum(len(v) for v in mentions.values())
    # Every row carried (rows with and without the "es-" prefix find their text).
    assert n_mentions == _data_rows(mentions_path) == 6059 < SOURCE["distemist_mentions"]
    assert len(mentions) == 559 and not report.skipped
    linked_total = icd10 = 0
    for part in ("1", "2"):
        base = root / "subtrack2_linking" / f"distemist_subtrack2_training{part}_linking"
        crossmaps = Path(f"{base}_crossmappings.tsv")
        linked = read_distemist_linking(f"{base}.tsv", texts, crossmappings_path=crossmaps, report=report)
        assert sum(len(v) for v in linked.values()) == _data_rows(Path(f"{base}.tsv"))
        assert merge_linking(mentions, linked, corpus="distemist", report=report) == _data_rows(Path(f"{base}.tsv"))
        linked_total += _data_rows(Path(f"{base}.tsv"))
        icd10 += sum(
            line.split("\t")[10] != "None" for line in crossmaps.read_text(encoding="utf-8").split("\n")[1:] if line
        )
    assert linked_total == 1107 + 2637 < SOURCE["distemist_linking"]
    anns = [a for v in mentions.values() for a in v]
    assert sum("SNOMEDCT" in a.codes for a in anns) == linked_total - 1  # one NOMAP row
    assert sum("ICD10" in a.codes for a in anns) == icd10 == 1146
    assert all(a.codes.get("SNOMEDCT", "1")[0].isdigit() and "E+" not in a.codes.get("SNOMEDCT", "") for a in anns)
    # Excel-mangled SNOMED codes in the crossmappings (4 + 11) and CSV-quoted spans (1 + 1).
    assert report.adjusted[("distemist", "crossmap_snomed_code_differs")] == 15
    assert report.adjusted[("distemist", "csv_quoted_text")] == 2
    assert not report.skipped


@pytest.mark.parametrize(
    ("name", "brat", "tsv", "reader", "source_key"),
    [
        (
            "medprocner",
            "medprocner_train/brat/medprocner_brat_train_subtask1",
            "medprocner_train/tsv/medprocner_tsv_train_subtask1.tsv",
            read_medprocner_mentions,
            "medprocner_mentions",
        ),
        (
            "symptemist",
            "symptemist_train/subtask1-ner/brat",
            "symptemist_train/subtask1-ner/tsv/symptemist_tsv_train_subtask1.tsv",
            read_symptemist_mentions,
            "symptemist_mentions",
        ),
    ],
)
def test_subtask1_tsv_equals_brat(corpus_path, name, brat, tsv, reader, source_key) -> None:
    root = corpus_path(name)
    docs = {d.id: d for d in iter_brat_dir(root / brat)}
    assert len(docs) == SOURCE["spaccc_train_docs"] - WITHHELD["spaccc_train"]
    report = ConversionReport()
    from_tsv = reader(root / tsv, {k: d.text for k, d in docs.items()}, report=report)
    n = sum(len(v) for v in from_tsv.values())
    assert n == _data_rows(root / tsv) < SOURCE[source_key]
    assert not report.skipped
    for doc_id, doc in docs.items():
        assert [(a.id, a.label, a.fragments, a.text) for a in from_tsv.get(doc_id, [])] == [
            (a.id, a.label, a.fragments, a.text) for a in doc.annotations
        ]
    # Only the CSV-quoted span texts needed unquoting (2 in MedProcNER, 14 in SympTEMIST).
    assert report.adjusted[(name, "csv_quoted_text")] == {"medprocner": 2, "symptemist": 14}[name]


def test_medprocner_linking_and_doc_codes(corpus_path) -> None:
    root = corpus_path("medprocner") / "medprocner_train"
    docs = {d.id: d for d in iter_brat_dir(root / "brat" / "medprocner_brat_train_subtask1")}
    report = ConversionReport()
    path = root / "tsv" / "medprocner_tsv_train_subtask2.tsv"
    linked = read_medprocner_linking(path, {k: d.text for k, d in docs.items()}, report=report)
    rows = _data_rows(path)
    assert sum(len(v) for v in linked.values()) == rows == 3543 < SOURCE["medprocner_linking"]
    anns = [a for v in linked.values() for a in v]
    lines = path.read_text(encoding="utf-8").split("\n")
    no_code = sum(line.split("\t")[5] == "NO_CODE" for line in lines if line)
    assert sum("SNOMEDCT" not in a.codes for a in anns) == no_code == 32
    assert set(anns[0].attributes) == {"sem_rel", "is_abbrev", "is_composite", "need_context"}
    mentions = {k: d.annotations for k, d in docs.items()}
    assert merge_linking(mentions, linked, corpus="medprocner", report=report) == rows
    assert not report.skipped
    doc_codes = read_medprocner_doc_codes(root / "tsv" / "medprocner_tsv_train_subtask3.tsv", report=report)
    assert len(doc_codes) == _data_rows(root / "tsv" / "medprocner_tsv_train_subtask3.tsv") == 183
    assert len(doc_codes) < SOURCE["medprocner_subtask3_docs"]
    assert set(doc_codes) <= set(docs)


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_codiesp_counts(corpus_path, split: str) -> None:
    folder = corpus_path("codiesp") / split
    texts = _texts(folder / "text_files")
    assert len(texts) == SOURCE["codiesp_docs"][split] - WITHHELD[f"codiesp_{split}"]
    report = ConversionReport()
    evidence = read_codiesp_evidence(folder / f"{split}X.tsv", texts, report=report)
    anns = [a for v in evidence.values() for a in v]
    assert len(anns) == _data_rows(folder / f"{split}X.tsv", header=False) < SOURCE["codiesp_x"][split]
    assert not report.skipped
    assert {a.label for a in anns} == {"DIAGNOSTICO", "PROCEDIMIENTO"}
    assert all(list(a.codes) == ["ICD10-CM" if a.label == "DIAGNOSTICO" else "ICD10-PCS"] for a in anns)
    assert all(" ".join(texts[d][s:e] for s, e in a.fragments) == a.text for d, v in evidence.items() for a in v)
    expected = {"train": (4, 2), "dev": (2, 1), "test": (1, 0)}[split]
    assert (
        report.adjusted[("codiesp", "trimmed_to_reference")],
        report.adjusted[("codiesp", "empty_fragment_dropped")],
    ) == expected
    # Every adjusted row is located by its 1-based row number.
    assert all(loc.line and loc.path.endswith(f"{split}X.tsv") for loc in report.locations)
    d_codes = read_codiesp_doc_codes(folder / f"{split}D.tsv")
    p_codes = read_codiesp_doc_codes(folder / f"{split}P.tsv")
    assert sum(map(len, d_codes.values())) == _data_rows(folder / f"{split}D.tsv", header=False)
    assert sum(map(len, d_codes.values())) < SOURCE["codiesp_d"][split]
    assert sum(map(len, p_codes.values())) < SOURCE["codiesp_p"][split]
    assert set(d_codes) <= set(texts)


@pytest.mark.parametrize(("folder", "prefix"), [("train-set", "train"), ("dev-set1", "dev1"), ("dev-set2", "dev2")])
def test_cantemist_coding(corpus_path, folder: str, prefix: str) -> None:
    codes = read_cantemist_coding(corpus_path("cantemist") / folder / "cantemist-coding" / f"{prefix}-coding.tsv")
    assert sum(map(len, codes.values())) == SOURCE["cantemist_coding"][prefix]


# -- synthetic rows: every problem is counted with its row, never its text ---------

SECRET = "hematuria macroscópica"
DOC = f"Varón con {SECRET} y dolor."  # SECRET at 10-32, "dolor" at 35-40


def _write(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_bad_rows_are_counted_with_row_numbers(tmp_path: Path) -> None:
    header = "\t".join(SUBTASK1_COLUMNS)
    path = _write(
        tmp_path,
        "m.tsv",
        [
            header,
            f"es-S1\tT1\tSINTOMA\t10\t32\t{SECRET}",  # ok: "es-" joins S1.txt
            f"S1\tT2\tSINTOMA\t10\t99\t{SECRET}",  # beyond the text
            f"S1\tT3\tSINTOMA\t10\t31\t{SECRET}",  # text mismatch
            f"S9\tT4\tSINTOMA\t10\t32\t{SECRET}",  # unknown document
            f"S1\tT5\tSINTOMA\tten\t32\t{SECRET}",  # not an integer
            "S1\tT6\tSINTOMA\t10\t32",  # missing field
            "S1\tT1\tSINTOMA\t35\t40\tdolor",  # duplicate id
            f"S1\tT7\tSINTOMA\t32\t10\t{SECRET}",  # reversed
        ],
    )
    report = ConversionReport()
    out = read_mentions_tsv(path, {"S1": DOC}, corpus="x", report=report)
    assert [a.id for a in out["S1"]] == ["T1"] and out["S1"][0].text == SECRET
    located = [(loc.reason, loc.line) for loc in report.locations]
    assert located == [
        ("offset_out_of_range", 3),
        ("text_mismatch", 4),
        ("unknown_document", 5),
        ("malformed_row", 6),
        ("malformed_row", 7),
        ("duplicate_id", 8),
        ("empty_or_reversed_span", 9),
    ]
    assert report.skipped[("x", "malformed_row")] == 2 and report.n_skipped == 7
    dumped = json.dumps(report.to_dict(), ensure_ascii=False) + report.summary()
    assert SECRET not in dumped and "hematuria" not in dumped
    assert "expected 21 characters" in dumped


def test_header_must_match(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.tsv", ["filename\tid\tlabel", f"S1\tT1\t{SECRET}"])
    with pytest.raises(CorpusFormatError) as err:
        read_mentions_tsv(path, {"S1": DOC}, corpus="x")
    assert "m.tsv" in str(err.value) and "line 1" in str(err.value) and SECRET not in str(err.value)


def test_csv_quoted_text_is_unquoted(tmp_path: Path) -> None:
    text = 'imagen en "donuts" aquí'
    header = "\t".join(SUBTASK1_COLUMNS)
    path = _write(tmp_path, "m.tsv", [header, 'S1\tT1\tX\t0\t18\t"imagen en ""donuts"""'])
    report = ConversionReport()
    out = read_mentions_tsv(path, {"S1": text}, corpus="x", report=report)
    assert out["S1"][0].text == 'imagen en "donuts"'
    assert report.adjusted[("x", "csv_quoted_text")] == 1 and not report.skipped


def test_codiesp_rules(tmp_path: Path) -> None:
    text = "RTU vesical R.T.U. y (IMC > 40) ok"
    #       0123456789012345678901234567890123
    path = _write(
        tmp_path,
        "trainX.tsv",
        [
            "S1\tPROCEDIMIENTO\t0tcb\tvesical R.T.U\t4 11;12 18",  # trailing "." trimmed
            "S1\tDIAGNOSTICO\te66.01\tIMC > 40\t21 30",  # leading "(" trimmed
            "S1\tDIAGNOSTICO\tn32.89\tvesical  RTU\t4 11;11 11;0 3",  # empty fragment, right-to-left
            "S1\tDIAGNOSTICO\tr69\tsomething else\t0 3",  # reference differs: offsets kept
            "S1\tOTRO\tr69\tRTU\t0 3",  # unknown label
            "S1\tDIAGNOSTICO\tr69\tRTU\t0 3;x",  # malformed positions
        ],
    )
    report = ConversionReport()
    anns = read_codiesp_evidence(path, {"S1": text}, report=report)["S1"]
    assert [(a.id, a.fragments, a.text) for a in anns] == [
        ("T1", [(4, 11), (12, 17)], "vesical R.T.U"),
        ("T2", [(22, 30)], "IMC > 40"),
        ("T3", [(4, 11), (0, 3)], "vesical RTU"),
        ("T4", [(0, 3)], "RTU"),
    ]
    assert anns[0].codes == {"ICD10-PCS": "0tcb"} and anns[1].codes == {"ICD10-CM": "e66.01"}
    located = [(loc.reason, loc.line) for loc in report.locations]
    assert located == [
        ("trimmed_to_reference", 1),
        ("trimmed_to_reference", 2),
        ("empty_fragment_dropped", 3),
        ("reference_text_differs", 4),
        ("unknown_label", 5),
        ("malformed_row", 6),
    ]


def test_distemist_crossmaps(tmp_path: Path) -> None:
    link = _write(
        tmp_path,
        "l.tsv",
        [
            "filename\tmark\tlabel\toff0\toff1\tspan\tcode\tsemantic_rel",
            f"es-S1\tT1\tENFERMEDAD\t10\t32\t{SECRET}\t14720231000119109\tEXACT",
            "es-S1\tT2\tENFERMEDAD\t35\t40\tdolor\tNOMAP\tNOMAP",
        ],
    )
    cross = _write(
        tmp_path,
        "c.tsv",
        [
            "filename\tmark\tlabel\toff0\toff1\tspan\tcode\tsemantic_rel\tomim_code\tmesh_code\ticd10_code\thpo_code",
            f"es-S1\tT1\tENFERMEDAD\t10\t32\t{SECRET}\t1.47202310001191E+016\tEXACT\tNone\tD1\tR31\tHP:1",
            "es-S1\tT9\tENFERMEDAD\t0\t5\tVarón\t1\tEXACT\tNone\tNone\tNone\tNone",
        ],
    )
    report = ConversionReport()
    out = read_distemist_linking(link, {"S1": DOC}, crossmappings_path=cross, report=report)
    t1, t2 = out["S1"]
    assert t1.codes == {"SNOMEDCT": "14720231000119109", "ICD10": "R31", "MESH": "D1", "HPO": "HP:1"}
    assert t2.codes == {} and t2.attributes == {"semantic_rel": "NOMAP"}
    assert report.adjusted[("distemist", "crossmap_snomed_code_differs")] == 1
    assert report.skipped[("distemist", "crossmap_without_link")] == 1


def test_merge_linking_counts_unmatched(tmp_path: Path) -> None:
    header = "\t".join(SUBTASK1_COLUMNS)
    mentions = read_mentions_tsv(
        _write(tmp_path, "m.tsv", [header, f"S1\tT1\tPROC\t10\t32\t{SECRET}"]), {"S1": DOC}, corpus="x"
    )
    linking = _write(
        tmp_path,
        "l.tsv",
        [
            "filename\tlabel\tstart_span\tend_span\ttext\tcode\tsem_rel\tis_abbrev\tis_composite\tneed_context",
            f"S1\tPROC\t10\t32\t{SECRET}\t123\tEXACT\tFalse\tFalse\tFalse",
            "S1\tPROC\t35\t40\tdolor\t456\tEXACT\tFalse\tFalse\tFalse",
        ],
    )
    report = ConversionReport()
    linked = read_medprocner_linking(linking, {"S1": DOC}, corpus="x", report=report)
    assert merge_linking(mentions, linked, corpus="x", report=report) == 1
    assert mentions["S1"][0].codes == {"SNOMEDCT": "123"} and mentions["S1"][0].id == "T1"
    assert mentions["S1"][0].attributes["sem_rel"] == "EXACT"
    assert report.skipped[("x", "no_matching_mention")] == 1


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.lists(
            st.one_of(
                st.sampled_from(["S1", "es-S1", "T1", "X", "0", "5", "10", "32", SECRET, '"a""b"', ""]),
                st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=5),
            ),
            min_size=0,
            max_size=7,
        ),
        max_size=8,
    )
)
def test_random_rows_are_carried_or_counted(tmp_path_factory, rows: list[list[str]]) -> None:
    path = tmp_path_factory.mktemp("h") / "m.tsv"
    body = ["\t".join(SUBTASK1_COLUMNS)] + ["\t".join(r) for r in rows]
    path.write_text("\n".join(body), encoding="utf-8", newline="")
    report = ConversionReport()
    out = read_mentions_tsv(path, {"S1": DOC}, corpus="x", report=report)
    carried = sum(len(v) for v in out.values())
    data_lines = [line.removesuffix("\r") for line in "\n".join(body).split("\n")[1:]]
    assert carried + report.n_skipped == sum(1 for line in data_lines if line.strip())
    for ann in out.get("S1", []):
        assert DOC[ann.fragments[0][0] : ann.fragments[0][1]] == ann.text
