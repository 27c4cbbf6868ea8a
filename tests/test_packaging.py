"""The de-identification product builds from its config, packages as a wheel and loads in a new environment.

The detector is ``configs/deid_cnn.cfg`` trained for a few steps on two documents (the structure of the real
one, not its quality). The new environment is a fresh ``python -m venv`` whose only link to this one is a ``.pth``
line naming this environment's site-packages (the equivalent of ``--system-site-packages`` for a venv made from a
venv: spaCy, thinc, numpy… are not downloaded again). Its own site-packages come first on ``sys.path`` and the
``.pth`` line does not run this environment's editable-install hooks, so ``spacy_clinical_es`` and
``es_clinical_deid`` can only be imported from the two wheels installed there with ``pip install --no-deps``.
A second ``.pth`` line makes ``torch`` and ``transformers`` unimportable there, as in an install without the
optional extras (spaCy imports every factory module of the package when it creates a pipeline).
"""
from __future__ import annotations

import json
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.cli.train import train
from spacy.tokens import DocBin

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.packaging import (
    CLINICAL_VECTORS,
    PRODUCTS,
    ROOT,
    build_product,
    config_sources,
    evaluation_summary,
    get_product,
    product_meta,
    product_sources,
)
from spacy_clinical_es.pretraining.vectors import VECTORS_NAME
from spacy_clinical_es.tokenizer import make_clinical_nlp

TRAIN = [
    (
        "Paciente: Juan García López. NHC 1234567. Mujer de 70 años. Email: juan.garcia@gmail.com",
        [(10, 27, "NOMBRE_SUJETO_ASISTENCIA"), (33, 40, "ID_SUJETO_ASISTENCIA"), (42, 47, "SEXO_SUJETO_ASISTENCIA"),
         (51, 58, "EDAD_SUJETO_ASISTENCIA"), (67, 88, "CORREO_ELECTRONICO")],
    ),
    (
        "Remitido desde el Hospital Clínico de Valencia el 12/03/2019.",
        [(18, 46, "HOSPITAL"), (50, 60, "FECHAS")],
    ),
]
NOTE = "Paciente: Juan García López, NHC 1234567, ingresa el 12/03/2019 en el Hospital Clínico de Valencia."


def _docbin(path: Path) -> Path:
    nlp = make_clinical_nlp()
    db = DocBin(store_user_data=True)
    for text, spans in TRAIN:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label) for s, e, label in spans]
        db.add(doc)
    db.to_disk(path)
    return path


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """configs/deid_cnn.cfg trained for a few steps on two documents."""
    tmp = tmp_path_factory.mktemp("detector")
    data = _docbin(tmp / "train.spacy")
    overrides = {
        "paths.train": str(data),
        "paths.dev": str(data),
        "training.max_steps": 4,
        "training.eval_frequency": 2,
        "training.patience": 0,
        "components.tok2vec.model.embed.rows": [500, 100, 100, 50],
        "components.tok2vec.model.encode.width": 32,
        "components.tok2vec.model.encode.depth": 1,
    }
    train(ROOT / "configs" / "deid_cnn.cfg", tmp / "out", overrides=overrides)
    return tmp / "out" / "model-best"


def test_deid_config_sources_the_detector() -> None:
    sources = config_sources(ROOT / PRODUCTS["es_clinical_deid"].config, {"paths.deid_model": "X"})
    assert sources == {name: Path("X") for name in ("tok2vec", "ner", "phi_rules", "phi_gazetteer", "phi_recall")}


def test_missing_trained_components_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match="nowhere.*--paths.deid_model"):
        build_product("es_clinical_deid", packages_dir=tmp_path, overrides={"paths.deid_model": str(missing)})
    with pytest.raises(ConfigError, match="Unknown product"):
        get_product("es_clinical_everything")


def test_concepts_sources_carry_the_licences_to_check() -> None:
    product = PRODUCTS["es_clinical_concepts"]
    sources = product_sources(product, ["ner", "clinical_es_entity_linker"])
    licences = {source.license for source in sources}
    assert "CC BY 4.0" in licences
    checks = " ".join(source.check for source in sources)
    assert "WHO" in checks and "SNOMED" in checks
    nubes = product_sources(product, ["clinical_es_context"])
    assert [source.license for source in nubes] == ["CC BY-SA 3.0 ES"]


def test_a_pipeline_with_our_vectors_declares_their_sources_and_licence(tmp_path: Path) -> None:
    nlp = spacy.blank("es")
    nlp.to_disk(tmp_path / "plain")
    plain = product_meta(PRODUCTS["es_clinical_deid"], tmp_path / "plain")
    assert plain["license"].startswith("CC BY 4.0") and CLINICAL_VECTORS.name not in str(plain["sources"])
    nlp.vocab.vectors.name = VECTORS_NAME  # what `spacy init vectors --name` sets (project.yml train-vectors)
    nlp.to_disk(tmp_path / "vectors")
    meta = product_meta(PRODUCTS["es_clinical_deid"], tmp_path / "vectors")
    assert meta["sources"][-1] == CLINICAL_VECTORS.as_meta()
    assert meta["license"].startswith("CC BY-SA 3.0 ES")  # the vectors are derived in part from NUBes


def test_stale_evaluation_is_left_out(tmp_path: Path) -> None:
    metrics = tmp_path / "old.json"
    srsly.write_json(metrics, {"strict": {"p": 0.5, "r": 0.5, "f": 0.5, "per_type": {}}, "n_docs": 3})
    model = tmp_path / "model"
    model.mkdir()
    (model / "meta.json").write_text("{}", encoding="utf-8")  # written after the metrics: the metrics are stale
    assert evaluation_summary([metrics], {"ner": model}) == {}
    metrics.write_text(metrics.read_text(encoding="utf-8"), encoding="utf-8")  # rewritten: now newer
    assert evaluation_summary([metrics], {"ner": model}) == {
        "old.json": {"strict": {"p": 0.5, "r": 0.5, "f": 0.5}, "n_docs": 3}
    }


def _new_venv_with(venv: Path, wheels: list[Path]) -> Path:
    """A new venv that sees this environment's packages but not torch/transformers, with ``wheels`` installed; its python."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    venv_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )
    (venv_site / "_parent_env.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    # as after `pip install <product>` without the optional extras: torch and transformers cannot be imported
    (venv_site / "_no_extras.pth").write_text(
        'import sys; sys.modules.update({"torch": None, "transformers": None})\n', encoding="utf-8"
    )
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", *map(str, wheels)],
        check=True,
    )
    return python


def _run_json(python: Path, script: str, cwd: Path) -> dict:
    """Run ``script`` with ``python`` (it must succeed) and read the JSON object on its last output line."""
    out = subprocess.run([str(python), "-c", script], check=False, capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_deid_wheel_installs_and_loads_in_a_new_venv(detector: Path, tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    result = build_product("es_clinical_deid", packages_dir=packages, overrides={"paths.deid_model": str(detector)})
    assert result.wheel.name == "es_clinical_deid-0.1.0-py3-none-any.whl"
    assert result.project_wheel is not None and result.project_wheel.name.startswith("spacy_clinical_es-")
    meta = result.meta
    assert meta["name"] == "clinical_deid" and meta["lang"] == "es"
    assert "NOMBRE_SUJETO_ASISTENCIA" in meta["labels"]["ner"]
    trained = srsly.read_json(detector / "meta.json")["performance"]
    assert meta["performance"]["ents_f"] == trained["ents_f"]  # the scores of the run that trained the detector
    assert not any(key.endswith("_loss") for key in meta["performance"])
    assert [s["license"] for s in meta["sources"]] == [
        "CC BY 4.0",
        "MIT (spacy-clinical-es; Faker)",
        "CC BY 4.0 (corpus-derived lists); CIE-10 word forms: ICD-10 © World Health Organization",
    ]
    with zipfile.ZipFile(result.wheel) as wheel:
        names = wheel.namelist()
        packaged_meta = json.loads(wheel.read("es_clinical_deid/es_clinical_deid-0.1.0/meta.json"))
    assert any(name.endswith("deid_randomizer/cfg") for name in names)
    assert packaged_meta["sources"] == meta["sources"]
    assert "spacy-clinical-es" in " ".join(packaged_meta["requirements"])

    venv = tmp_path / "venv"
    python = _new_venv_with(venv, [result.project_wheel, result.wheel])
    script = (
        "import json, spacy, spacy_clinical_es, es_clinical_deid\n"
        "try:\n    import torch\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('torch importable')\n"
        "nlp = spacy.load('es_clinical_deid')\n"
        f"doc = nlp({NOTE!r})\n"
        "print(json.dumps({'pipes': nlp.pipe_names, 'deid': doc._.deid_text,\n"
        "                  'modules': [spacy_clinical_es.__file__, es_clinical_deid.__file__],\n"
        "                  'changed': len(doc._.deid_offset_map.changed_segments())}))\n"
    )
    loaded = _run_json(python, script, tmp_path)
    assert loaded["pipes"][-1] == "deid_randomizer"
    assert all(str(venv) in module for module in loaded["modules"])  # both come from the wheels
    assert isinstance(loaded["deid"], str) and loaded["deid"]
    # the same pipeline in this process gives the same number of replaced spans
    here = spacy.load(result.pipeline_dir)
    assert len(here(NOTE)._.deid_offset_map.changed_segments()) == loaded["changed"]


# -- es_clinical_concepts: the config assembles from sourced pipelines of the same structure ---------------------

CONCEPT_TEXT = "Mujer de 70 años con apendicitis aguda, tratada con apendicectomía. Dolor en brazo y pierna izquierdos."
CONCEPT_SPANS = [(0, 5, "SEXO"), (9, 16, "EDAD"), (21, 38, "ENFERMEDAD"), (52, 66, "PROCEDIMIENTO")]
# CodiEsp-style: "Dolor en brazo ... izquierdos" is one discontinuous DIAGNOSTICO (two fragments, one id)
CODIESP_SPANS = [(21, 38, "DIAGNOSTICO", "T1"), (52, 66, "PROCEDIMIENTO", "T2"), (68, 82, "DIAGNOSTICO", "T3"),
                 (92, 102, "DIAGNOSTICO", "T3")]
SMALL_TOK2VEC = {
    "components.tok2vec.model.embed.rows": [300, 50, 50, 20],
    "components.tok2vec.model.encode.width": 16,
    "components.tok2vec.model.encode.depth": 1,
}


def _reference_doc(nlp: spacy.language.Language) -> spacy.tokens.Doc:
    from spacy.tokens import Span

    doc = nlp.make_doc(CONCEPT_TEXT)
    doc.ents = [doc.char_span(s, e, label) for s, e, label in CONCEPT_SPANS]
    doc.spans["imaging"] = [doc.char_span(s, e, label) for s, e, label in CONCEPT_SPANS]
    codiesp = []
    for s, e, label, ann_id in CODIESP_SPANS:
        span = doc.char_span(s, e, label)
        codiesp.append(Span(doc, span.start, span.end, label=label, span_id=ann_id))
    doc.spans["codiesp"] = codiesp
    return doc


def _initialized(config_name: str, overrides: dict, out: Path) -> Path:
    """A pipeline of ``configs/<config_name>`` initialized (not trained) on the example document."""
    from spacy.training import Example

    config = spacy.util.load_config(ROOT / "configs" / config_name, overrides=overrides, interpolate=True)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    example = Example(nlp.make_doc(CONCEPT_TEXT), _reference_doc(nlp))
    nlp.initialize(lambda: [example])
    nlp.to_disk(out)
    return out


def _nubes_part(path: Path) -> Path:
    """A NUBes-like DocBin (cues and scopes as ``convert nubes`` writes them): two sentences negated by "no", from
    which the concepts pipeline's clinical_context rules learn their lexicon."""
    from spacy.tokens import DocBin, Span

    from spacy_clinical_es.context.schema import CUES_KEY, SCOPES_KEY
    from spacy_clinical_es.tokenizer import make_clinical_nlp

    nlp = make_clinical_nlp()
    docs = []
    for text in ("No se observan adenopatías .", "no presenta apendicitis aguda ."):
        doc = nlp.make_doc(text)
        doc.spans[CUES_KEY] = [Span(doc, 0, 1, label="NegSyn", span_id="T1")]
        doc.spans[SCOPES_KEY] = [Span(doc, 1, len(doc) - 1, label="DISO", span_id="T1")]
        docs.append(doc)
    DocBin(docs=docs).to_disk(path)
    return path


def _concepts_overrides(tmp_path: Path) -> dict[str, str]:
    """Initialized (untrained) components of the product's configs and tiny knowledge bases, as path overrides."""
    from spacy_clinical_es.linking import Concept, TerminologyKB

    concept = _initialized("imaging_cnn.cfg", SMALL_TOK2VEC, tmp_path / "imaging_cnn")
    nested = _initialized("imaging_nested.cfg", SMALL_TOK2VEC, tmp_path / "imaging_nested")
    small_fragment_graph = {
        f"components.discontinuous_ner.model.tok2vec.{key.split('model.', 1)[1]}": value
        for key, value in SMALL_TOK2VEC.items()
    }
    discontinuous = _initialized("codiesp_discontinuous.cfg", small_fragment_graph, tmp_path / "discontinuous")
    # as `spacy train` writes it for the best model (initialized pipelines have no scores of their own)
    meta_path = concept / "meta.json"
    srsly.write_json(meta_path, {**srsly.read_json(meta_path), "performance": {"ents_f": 0.5, "ner_loss": 3.0}})
    snomed, cie10 = TerminologyKB(), TerminologyKB()
    snomed.add(Concept("74400008", "apendicitis aguda", (), "ENFERMEDAD", "SNOMEDCT"))
    snomed.add(Concept("80146002", "apendicectomía", (), "PROCEDIMIENTO", "SNOMEDCT"))
    cie10.add(Concept("K35.8", "apendicitis aguda", (), "", "CIE10"))
    codiesp = TerminologyKB()
    codiesp.add(Concept("k35.80", "apendicitis aguda", (), "DIAGNOSTICO", "ICD10-CM"))
    snomed.to_disk(tmp_path / "snomed.jsonl")
    cie10.to_disk(tmp_path / "cie10.jsonl")
    codiesp.to_disk(tmp_path / "codiesp.jsonl")
    return {
        "paths.nubes_train": str(_nubes_part(tmp_path / "nubes_train.spacy")),
        "paths.concept_model": str(concept),
        "paths.nested_model": str(nested),
        "paths.discontinuous_model": str(discontinuous),
        "paths.snomed_kb": str(tmp_path / "snomed.jsonl"),
        "paths.cie10_kb": str(tmp_path / "cie10.jsonl"),
        "paths.codiesp_kb": str(tmp_path / "codiesp.jsonl"),
    }


def test_concepts_config_assembles_and_loads(tmp_path: Path) -> None:
    overrides = _concepts_overrides(tmp_path)
    e2e = tmp_path / "e2e.json"
    evaluated: list[Path] = []

    def evaluate(pipeline_dir: Path) -> None:  # stands for benchmark e2e: runs on the assembled pipeline, before the meta
        evaluated.append(pipeline_dir)
        srsly.write_json(e2e, {"n_docs": 2, "tasks": [{"name": "MedProcNER SNOMED CT", "p": 0.5, "r": 0.25, "f": 0.25,
                                                       "stages": {"correct": 1}}]})

    result = build_product("es_clinical_concepts", packages_dir=tmp_path / "packages", overrides=overrides,
                           project_wheel=False, metrics=[e2e], evaluate=evaluate)
    assert result.wheel.name == "es_clinical_concepts-0.1.0-py3-none-any.whl"
    meta = result.meta
    assert evaluated == [result.pipeline_dir]
    assert meta["evaluation"] == {"e2e.json": {"n_docs": 2, "MedProcNER SNOMED CT": {"p": 0.5, "r": 0.25, "f": 0.25}}}
    assert {"ner", "spancat", "discontinuous_ner"} <= set(meta["labels"])
    assert meta["performance"] == {"imaging_cnn/ents_f": 0.5}  # one prefix per sourced run, losses dropped
    assert any("WHO" in check for check in meta["redistribution_checks"])
    nlp = spacy.load(result.pipeline_dir)
    assert nlp.pipe_names[-2:] == ["codiesp_codes", "clinical_context"]
    assert nlp.get_pipe("snomed_linker").kb is not None  # the knowledge bases are inside the pipeline
    # the untrained detectors find what they find; whatever is in "concepts" carries both code systems
    doc = nlp(CONCEPT_TEXT)
    doc.spans["concepts"] = [doc.char_span(21, 38, "ENFERMEDAD", span_id="C1")]
    for name in ("snomed_linker", "snomed_codes", "cie10_linker", "cie10_codes", "codiesp_linker", "codiesp_codes"):
        doc = nlp.get_pipe(name)(doc)
    codes = doc.spans["concepts"][0]._.concept_codes
    assert codes["SNOMED CT"]["code"] == "74400008" and codes["CIE-10"]["code"] == "K35.8"
    assert codes["CIE-10-ES"]["code"] == "k35.80"
    # negation: the rules learned from the NUBes part when the pipeline was assembled, saved inside it
    doc = nlp.make_doc("No se observan signos de apendicitis aguda.")
    doc.spans["concepts"] = [doc.char_span(25, 42, "ENFERMEDAD", span_id="C1")]
    doc = nlp.get_pipe("clinical_context")(doc)
    concept = doc.spans["concepts"][0]
    assert (concept._.negated, concept._.uncertain, concept._.context_cue) == (True, False, "No")
    assert meta["license"].startswith("CC BY-SA 3.0 ES")  # the cue lexicon is derived from NUBes (ShareAlike)


def test_package_command_names_what_is_missing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from spacy_clinical_es.cli import app

    result = CliRunner().invoke(
        app, ["package", "es_clinical_deid", "--output", str(tmp_path), "--paths.deid_model", str(tmp_path / "none")]
    )
    assert result.exit_code == 1
    assert "Trained component directories not found" in result.output and "--paths.deid_model" in result.output


def test_package_scores_the_assembled_concepts_pipeline_end_to_end(tmp_path: Path) -> None:
    """``package es_clinical_concepts --e2e-gold``: benchmark e2e on the assembled pipeline, its headline in the meta."""
    from typer.testing import CliRunner

    from spacy_clinical_es.cli import app

    from .evaluation.benchmarks.test_e2e import _gold

    overrides = _concepts_overrides(tmp_path)
    gold = _gold(tmp_path / "gold.spacy")
    e2e = tmp_path / "scores" / "e2e.json"
    args = [arg for key, value in overrides.items() for arg in (f"--{key}", value)]
    result = CliRunner().invoke(app, ["package", "es_clinical_concepts", "--output", str(tmp_path / "packages"),
                                      "--no-project-wheel", "--e2e-gold", str(gold), "--e2e-output", str(e2e), *args])
    assert result.exit_code == 0, result.output
    assert "MedProcNER SNOMED CT: end-to-end F1" in result.output
    scores = srsly.read_json(e2e)
    assert [task["name"] for task in scores["tasks"]] == ["MedProcNER SNOMED CT", "DisTEMIST SNOMED CT",
                                                          "DisTEMIST ICD-10 (cross-map)"]
    assert e2e.with_suffix(".md").exists()
    meta = srsly.read_json(tmp_path / "packages" / "build" / "es_clinical_concepts" / "pipeline" / "meta.json")
    assert set(meta["evaluation"]["e2e.json"]) >= {"MedProcNER SNOMED CT", "DisTEMIST SNOMED CT"}


def test_concepts_wheel_installs_and_loads_in_a_new_venv(tmp_path: Path) -> None:
    """``pip install`` of the es_clinical_concepts wheel, then ``spacy.load`` + one note, knowledge bases inside."""
    result = build_product("es_clinical_concepts", packages_dir=tmp_path / "packages",
                           overrides=_concepts_overrides(tmp_path))
    assert result.project_wheel is not None
    venv = tmp_path / "venv"
    python = _new_venv_with(venv, [result.project_wheel, result.wheel])
    script = (
        "import json, spacy, es_clinical_concepts\n"
        "nlp = spacy.load('es_clinical_concepts')\n"
        f"doc = nlp({CONCEPT_TEXT!r})\n"
        "linker = nlp.get_pipe('snomed_linker')\n"
        "neg = nlp.make_doc('No se observan signos de apendicitis aguda.')\n"
        "neg.spans['concepts'] = [neg.char_span(25, 42, 'ENFERMEDAD', span_id='C1')]\n"
        "neg = nlp.get_pipe('clinical_context')(neg)\n"
        "print(json.dumps({'pipes': nlp.pipe_names, 'module': es_clinical_concepts.__file__,\n"
        "                  'kb': len(linker.kb), 'concepts': len(doc.spans['concepts']),\n"
        "                  'negated': neg.spans['concepts'][0]._.negated}))\n"
    )
    loaded = _run_json(python, script, tmp_path)
    assert loaded["pipes"][-1] == "clinical_context" and str(venv) in loaded["module"]
    assert loaded["negated"] is True  # the cue lexicon learned at assembly travels inside the wheel
    assert loaded["kb"] == 2  # the two SNOMED CT concepts of the tiny knowledge base travel inside the wheel
    here = spacy.load(result.pipeline_dir)
    assert len(here(CONCEPT_TEXT).spans["concepts"]) == loaded["concepts"]
