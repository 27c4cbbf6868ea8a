"""Replacement policy: what happens to each PHI span, by label and by source.

A span comes from one *source*: ``"entity"`` (the detector's ``doc.ents``),
``"rule"`` (``phi_rules``), ``"gazetteer"`` (``phi_gazetteer``) or
``"recall"`` (a ``phi_recall`` span no entity covers). The policy gives each
source an *action* (fields ``entity``, ``rule``, ``gazetteer``, ``recall``):

* ``"replace"``: what the run's mode does (surrogate, typed mask or redact);
* ``"surrogate"``, ``"mask"`` (typed tag, ``[NOMBRE]``), ``"redact"``, ``"keep"``;
* ``"replace_if_certain"``: ``"replace"`` when the span's content confirms its
  category (a date that parses, a known name, a phone number…:
  :func:`category_is_certain`), else ``uncertain`` (default: the *neutral*
  mask ``[***]``, which claims no category).

Defaults: entities, rules and gazetteer spans are replaced; recall spans are
replaced when their category is certain and get the neutral mask otherwise.
An uncertain recall span with no entity, rule or gazetteer span (nor a
recall span that is certainly a date, a phone, an e-mail, a URL, an IP or a
name) within ``recall_isolation_chars`` characters is kept (counted as
``kept_isolated``): PHI comes in clusters (headers, addresses, signatures), and an isolated
low-confidence span in the clinical narrative is far more often a clinical
word ("Fobia Social", "síndrome de Horner") than a name the detector missed.
``labels`` overrides per label (``{"PROFESION": "keep"}``) or per label and
source (``{"NOMBRE_SUJETO_ASISTENCIA": {"recall": "surrogate"}}``).

Before any action, *protected* text is never replaced (each switch on by
default):

* ``keep_punctuation``: spans without a letter or digit;
* ``keep_function_words``: spans made of function words only ("su", "de la");
* ``keep_field_labels``: form labels ("NASS:", "Domicilio:", "nº col.");
  a span that starts or ends in one is trimmed;
* ``keep_clinical_terms``: clinical vocabulary (diseases, procedures,
  symptoms, eponyms: "enfermedad de Crohn", "maniobra de Valsalva") from
  the term list built from the public clinical corpora
  (:mod:`.clinical_terms`). A recall span inside a term occurrence is kept; an
  entity is kept only when a *longer* term surrounds it (the "Crohn" of
  "enfermedad de Crohn"), since a detector's entity equal to a lone term
  word is more often a real name.
* ``keep_clinical_vocab``: a *recall* span (never an entity, a rule or a
  gazetteer span) whose words are all common clinical words (in many public
  clinical case reports, never in a MEDDOCAN train PHI annotation:
  :mod:`.clinical_vocab`) or function words is kept ("Calcificaciones",
  "Multicorte"): ``phi_recall`` is the safety net for what the detector
  missed, and these words are not what it is there to catch.

The policy is a frozen dataclass, loadable from a YAML or JSON file
(:meth:`ReplacementPolicy.from_file`); unknown keys and actions are errors.
"""
from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Optional, Union

from . import categories as cat
from .errors import DeidError
from .textutil import normalize

ENTITY = "entity"
RULE = "rule"
GAZETTEER = "gazetteer"
RECALL = "recall"
SOURCES: tuple[str, ...] = (ENTITY, RULE, GAZETTEER, RECALL)

REPLACE = "replace"
REPLACE_IF_CERTAIN = "replace_if_certain"
ACTIONS: tuple[str, ...] = (REPLACE, REPLACE_IF_CERTAIN, "surrogate", "mask", "redact", "keep")
UNCERTAIN_ACTIONS: tuple[str, ...] = ("mask", "redact", "keep", "surrogate", "replace")

#: Why a span was kept by the protections (counted as ``kept_<reason>`` in the stats).
PUNCTUATION = "punctuation"
FUNCTION_WORDS = "function_words"
FIELD_LABEL = "field_label"
CLINICAL_TERM = "clinical_term"
CLINICAL_VOCAB = "clinical_vocab"
ISOLATED = "isolated"

LabelRule = Union[str, Mapping[str, str]]


@dataclass(frozen=True)
class ReplacementPolicy:
    """Actions per source and label, and the protections (see the module docstring).

    entity, rule, gazetteer, recall: the action of each source's spans.
    labels: label → action, or label → {source or "*": action}; wins over the sources.
    uncertain: what ``replace_if_certain`` does with an uncertain span
        ("mask": the neutral mask; "redact", "keep", "surrogate" or "replace").
    neutral_tag: the tag of the neutral mask (written with the mask format: ``[***]``).
    keep_punctuation, keep_function_words, keep_field_labels, keep_clinical_terms: the protections.
    clinical_terms: a term list file (one term per line) instead of the shipped one.
    keep_clinical_vocab: keep a *recall* span whose words are all common clinical words.
    clinical_vocab: a vocabulary file (one normalized word per line) instead of the shipped one.
    recall_isolation_chars: an uncertain recall span farther than this from every entity, rule and
        gazetteer span and every recall span that is certainly a date, contact or name is kept;
        ``None``: off (100 was chosen on MEDDOCAN dev, see metrics/deid.md).
    """

    entity: str = REPLACE
    rule: str = REPLACE
    gazetteer: str = REPLACE
    recall: str = REPLACE_IF_CERTAIN
    labels: Optional[Mapping[str, LabelRule]] = None
    uncertain: str = "mask"
    neutral_tag: str = "***"
    keep_punctuation: bool = True
    keep_function_words: bool = True
    keep_field_labels: bool = True
    keep_clinical_terms: bool = True
    clinical_terms: Optional[str] = None
    keep_clinical_vocab: bool = True
    clinical_vocab: Optional[str] = None
    recall_isolation_chars: Optional[int] = 100

    def __post_init__(self) -> None:
        for source in SOURCES:
            _check_action(getattr(self, source), f"policy.{source}")
        labels: dict[str, LabelRule] = {}
        for label, rule in dict(self.labels or {}).items():
            if isinstance(rule, str):
                _check_action(rule, f"policy.labels.{label}")
                labels[str(label)] = rule
            elif isinstance(rule, Mapping):
                for source, action in rule.items():
                    if source != "*" and source not in SOURCES:
                        raise DeidError(f"policy.labels.{label}: unknown source {source!r}; known: *, {', '.join(SOURCES)}")
                    _check_action(action, f"policy.labels.{label}.{source}")
                labels[str(label)] = dict(rule)
            else:
                raise DeidError(f"policy.labels.{label}: give an action or a {{source: action}} mapping")
        if self.uncertain not in UNCERTAIN_ACTIONS:
            raise DeidError(f"policy.uncertain must be one of {', '.join(UNCERTAIN_ACTIONS)} (got {self.uncertain!r})")
        if not self.neutral_tag or not isinstance(self.neutral_tag, str):
            raise DeidError("policy.neutral_tag must be a non-empty string")
        distance = self.recall_isolation_chars
        if distance is not None and (isinstance(distance, bool) or not isinstance(distance, int) or distance < 0):
            raise DeidError(f"policy.recall_isolation_chars must be null or an integer >= 0 (got {distance!r})")
        object.__setattr__(self, "labels", labels)

    @property
    def sources(self) -> dict[str, str]:
        """Source → action."""
        return {source: getattr(self, source) for source in SOURCES}

    def action_for(self, label: str, source: str) -> str:
        """The configured action of a span (before the protections and the certainty test)."""
        rule = self.labels.get(label)
        if rule is None:
            rule = self.labels.get(label.upper())
        if isinstance(rule, str):
            return rule
        if isinstance(rule, Mapping):
            if source in rule:
                return rule[source]
            if "*" in rule:
                return rule["*"]
        return getattr(self, source) if source in SOURCES else self.entity

    def to_dict(self) -> dict[str, Any]:
        """Plain form (JSON, spaCy config)."""
        values = asdict(self)
        values["labels"] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in (self.labels or {}).items()}
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ReplacementPolicy:
        """A policy from a dict; unknown keys are an error (they would be silently ignored)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise DeidError(f"unknown policy keys: {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**dict(values))

    @classmethod
    def from_file(cls, path: str | Path) -> ReplacementPolicy:
        """A policy from a ``.yaml``/``.yml`` or ``.json`` file."""
        import srsly

        path = Path(path)
        if not path.is_file():
            raise DeidError(f"policy file not found: {path}")
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                values = srsly.read_yaml(path)
            elif path.suffix.lower() == ".json":
                values = srsly.read_json(path)
            else:
                raise DeidError(f"policy file {path}: use a .yaml, .yml or .json file")
        except DeidError:
            raise
        except Exception:  # noqa: BLE001  (any parser's error carries the file's text: name the file only)
            raise DeidError(f"policy file {path} is not valid {path.suffix.lstrip('.').upper()}") from None
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise DeidError(f"policy file {path}: expected a mapping of policy keys at the top level")
        return cls.from_dict(values)


def _check_action(action: object, where: str) -> None:
    if action not in ACTIONS:
        raise DeidError(f"{where}: unknown action {action!r}; use one of: {', '.join(ACTIONS)}")


# --------------------------------------------------------------------------- certainty

_PHONE_RE = re.compile(r"^\s*\+?[\d\s().-]{9,}\s*$")
_ID_RE = re.compile(r"^\s*[\w./-]*\d[\w./-]*\s*$")


def category_is_certain(text: str, category: str) -> bool:
    """Whether ``text``'s content confirms ``category`` (used by ``replace_if_certain``)."""
    from .dates import shift_dates
    from .names import is_first_name, is_surname
    from .people import age_numbers, is_relative
    from .places import is_country, province_of, split_street_type

    stripped = text.strip()
    if not any(c.isalnum() for c in stripped):
        return False
    if category == cat.DATE:
        return shift_dates(stripped, 400) is not None
    if category in (cat.PHONE, cat.FAX):
        return bool(_PHONE_RE.match(stripped)) and sum(c.isdigit() for c in stripped) >= 9
    if category == cat.EMAIL:
        return bool(cat.EMAIL_RE.match(stripped))
    if category == cat.URL:
        return bool(cat.URL_RE.match(stripped))
    if category == cat.IP:
        return bool(cat.IPV4_RE.match(stripped))
    if category == cat.ID:
        return bool(_ID_RE.match(stripped)) and sum(c.isdigit() for c in stripped) >= 3
    if category == cat.AGE:
        return bool(age_numbers(stripped))
    if category in (cat.TERRITORY, cat.COUNTRY):
        return province_of(stripped) is not None or is_country(stripped)
    if category == cat.STREET:
        return bool(split_street_type(stripped)) and any(c.isalpha() for c in stripped)
    if category == cat.RELATIVE:
        return is_relative(stripped)
    if category == cat.NAME:
        words = re.findall(r"[^\W\d_]+", stripped)
        names = [w for w in words if len(w) > 1 and normalize(w) not in _NAME_GLUE]
        return bool(names) and all(w[:1].isupper() and (is_first_name(w) or is_surname(w)) for w in names)
    # hospitals and health centres are resolved from the span's own words (hospital, centro de salud…)
    return category in (cat.HOSPITAL, cat.HEALTH_CENTRE)


_NAME_GLUE = frozenset({"de", "del", "la", "las", "los", "y", "dr", "dra", "sr", "sra", "don", "dona"})


# --------------------------------------------------------------------------- function words

#: Articles, possessives, prepositions, conjunctions and clitics: a span of these only holds no PHI.
FUNCTION_WORDS_ES: frozenset[str] = frozenset(
    {
        "su", "sus", "mi", "mis", "tu", "tus", "el", "la", "los", "las", "lo", "un", "una", "unos", "unas", "de",
        "del", "al", "a", "en", "con", "por", "para", "sin", "y", "e", "o", "u", "que", "se", "le", "les", "me",
        "te", "nos", "este", "esta", "ese", "esa",
    }
)  # fmt: skip
_FUNCTION_RE = re.compile(r"[^\W_]+")


def is_function_words(text: str) -> bool:
    """Whether ``text`` has words and all are function words ("su", "de la")."""
    words = _FUNCTION_RE.findall(text)
    return bool(words) and all(normalize(w) in FUNCTION_WORDS_ES for w in words)


# --------------------------------------------------------------------------- field labels

#: Form labels: protected when followed by a colon ("Domicilio:").
COLON_LABELS: tuple[str, ...] = (
    "nombre", "nombre y apellidos", "apellidos", "apellido", "primer apellido", "segundo apellido", "domicilio",
    "direccion", "dirección postal", "localidad", "municipio", "provincia", "pais", "poblacion", "ciudad",
    "codigo postal", "c.p", "cp", "fecha", "fecha de nacimiento", "f. nacimiento", "f. nac", "nacimiento",
    "lugar de nacimiento", "fecha de ingreso", "fecha de alta", "fecha de consulta", "ingreso", "alta", "edad",
    "sexo", "medico", "medica", "medico responsable", "facultativo", "facultativo responsable", "enfermera",
    "enfermero", "e-mail", "email", "correo", "correo electronico", "tel", "telf", "tfno", "telefono", "movil",
    "fax", "hospital", "centro", "centro de salud", "servicio", "unidad", "episodio", "historia clinica",
    "n de historia", "numero de historia", "paciente", "remitido por", "firma", "profesion", "ocupacion",
    "nacionalidad", "estado civil", "colegiado", "numero de colegiado", "asegurado", "aseguradora",
    "n de afiliacion", "numero de afiliacion", "contacto", "persona de contacto", "acompanante", "nhc", "nass",
    "nuhsa", "cip", "dni", "nif", "nie", "nie/nif", "dni/nif", "n historia", "cama", "habitacion", "especialidad",
)  # fmt: skip
#: Labels protected wherever they occur (identifier names and abbreviations, never PHI themselves).
BARE_LABELS: tuple[str, ...] = (
    "nhc", "nass", "nuhsa", "cip", "dni", "nif", "nie", "n col", "n colegiado", "n de colegiado", "no col",
    "num col", "n historia", "c.p", "tfno", "telf", "e-mail",
)  # fmt: skip

_ACCENTS = {"a": "[aáàä]", "e": "[eéèë]", "i": "[iíìï]", "o": "[oóòö]", "u": "[uúùü]", "n": "[nñ]"}


def _phrase_pattern(phrase: str) -> str:
    out = []
    for char in phrase:
        if char in _ACCENTS:
            out.append(_ACCENTS[char])
        elif char == " ":
            out.append(r"\s+")
        elif char == ".":
            out.append(r"\.?\s*")
        else:
            out.append(re.escape(char))
    pattern = "".join(out)
    # "n" of "nº", "n.º", "no." and "num." forms
    return pattern.replace(r"[nñ]\s+", r"(?:n\.?\s*[ºo°]\.?|n[uú]m\.?|n[uú]mero)\s*", 1) if phrase.startswith("n ") else pattern


def _alternation(phrases: Sequence[str]) -> str:
    return "|".join(_phrase_pattern(p) for p in sorted(set(phrases), key=len, reverse=True))


_FIELD_RE = re.compile(
    rf"(?<![^\W_])(?:(?:{_alternation(COLON_LABELS)})(?=\s*:)|(?:{_alternation(BARE_LABELS)})\.?(?![^\W_]))",
    re.IGNORECASE,
)


def field_label_intervals(text: str) -> list[tuple[int, int]]:
    """Character intervals of form labels in ``text`` (without their colon)."""
    return [m.span() for m in _FIELD_RE.finditer(text)]


# --------------------------------------------------------------------------- clinical terms

_WORD_RE = re.compile(r"[^\W_]+")
#: The word right before a span, separated by one space or a hyphen only ("TAC Multicorte", "Diff-Quick").
_PREVIOUS_WORD_RE = re.compile(r"(?<![^\W_])([^\W\d_]+)(?: |-)$")
#: A recall span this long at most is kept as the continuation of a clinical word.
MAX_CONTINUATION_WORDS = 2


class ClinicalTerms:
    """A word trie of normalized clinical terms; finds the term occurrences around a span."""

    def __init__(self, terms: Sequence[str], heads: Sequence[str] = ()) -> None:
        self.heads = frozenset(normalize(h) for h in heads)
        self.trie: dict[str, Any] = {}
        self.max_words = 0
        n = 0
        for term in terms:
            words = _WORD_RE.findall(normalize(term))
            if not words:
                continue
            node = self.trie
            for word in words:
                node = node.setdefault(word, {})
            node[""] = True
            self.max_words = max(self.max_words, len(words))
            n += 1
        self.size = n

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"ClinicalTerms({self.size} terms)"

    def covering(self, words: Sequence[str], first: int, last: int) -> tuple[int, int] | None:
        """The longest term occurrence ``(i, j)`` over ``words[i:j]`` with ``i <= first`` and ``j > last``."""
        best: tuple[int, int] | None = None
        for i in range(max(0, first - self.max_words + 1), first + 1):
            node = self.trie
            j = i
            while j < len(words) and words[j] in node:
                node = node[words[j]]
                j += 1
                if "" in node and j > last and (best is None or j - i > best[1] - best[0]):
                    best = (i, j)
        return best


@functools.lru_cache(maxsize=4)
def load_clinical_terms(path: str | None = None) -> ClinicalTerms:
    """The term list at ``path`` (one term per line, ``#`` comments), else the shipped one."""
    if path is None:
        from .clinical_terms import resource_path

        file = resource_path()
        if not file.exists():
            raise DeidError(
                "the shipped clinical term list is missing; rebuild it with "
                "`python -m spacy_clinical_es deid-terms` or set keep_clinical_terms to false"
            )
    else:
        file = Path(path)
        if not file.is_file():
            raise DeidError(f"clinical term list not found: {file}")
    from .clinical_terms import HEAD_PREFIX

    lines = [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    heads = [line[len(HEAD_PREFIX) :] for line in lines if line.startswith(HEAD_PREFIX)]
    return ClinicalTerms([line for line in lines if not line.startswith(HEAD_PREFIX)], heads)


# --------------------------------------------------------------------------- protection


class Protector:
    """Applies the protections of a policy to the spans of one text."""

    def __init__(self, text: str, policy: ReplacementPolicy) -> None:
        self.text = text
        self.policy = policy
        self._labels = field_label_intervals(text) if policy.keep_field_labels else []
        self._label_starts = [s for s, _ in self._labels]
        self._terms = load_clinical_terms(policy.clinical_terms) if policy.keep_clinical_terms else None
        self._vocab: frozenset[str] | None = None
        if policy.keep_clinical_vocab:
            from .clinical_vocab import load_clinical_vocab

            self._vocab = load_clinical_vocab(policy.clinical_vocab)
        self._words: list[tuple[int, int]] | None = None
        self._norm_words: dict[int, str] = {}

    def _word_index(self) -> list[tuple[int, int]]:
        if self._words is None:
            self._words = [m.span() for m in _WORD_RE.finditer(self.text)]
            self._word_starts = [s for s, _ in self._words]
        return self._words

    def _norm_word(self, i: int) -> str:
        word = self._norm_words.get(i)
        if word is None:
            s, e = self._words[i]  # type: ignore[index]
            word = self._norm_words[i] = normalize(self.text[s:e])
        return word

    def _in_term(self, start: int, end: int, source: str) -> bool:
        assert self._terms is not None
        words = self._word_index()
        first = bisect.bisect_right(self._word_starts, start) - 1
        if first < 0 or words[first][1] <= start:
            first += 1
        last = bisect.bisect_left(self._word_starts, end) - 1
        if first > last or first >= len(words):
            return False
        lo = max(0, first - self._terms.max_words + 1)
        hi = min(len(words), last + self._terms.max_words)
        if self._after_eponym_head(first, last):
            return True  # an eponym: "maniobra de Valsalva"
        window = _LazyWords(self, lo, hi)
        found = self._terms.covering(window, first - lo, last - lo)
        if found is None:
            return False
        if source == RECALL:
            return True
        return found[0] < first - lo or found[1] > last - lo + 1  # a longer term around an entity

    def _after_eponym_head(self, first: int, last: int) -> bool:
        """Whether words ``first..last`` are a capitalized name after "<eponym head> de".

        The span may start with the "de" ("de Horner" of "síndrome de Horner") or
        be the second part of a hyphenated name ("Chester" of "enfermedad de
        Erdheim-Chester", "Quick" of "tinción de Diff-Quick").
        """
        words = self._words
        assert words is not None
        name = first
        if self._norm_word(name) in ("de", "del") and name < last:
            name += 1
        while name >= 1 and self.text[words[name - 1][1] : words[name][0]] == "-" and self.text[words[name - 1][0]].isupper():
            name -= 1
        if name < 2 or self._norm_word(name - 1) not in ("de", "del") or self._norm_word(name - 2) not in self._terms.heads:  # type: ignore[union-attr]
            return False
        return self.text[words[name][0]].isupper()

    def _label_cut(self, start: int, end: int) -> tuple[int, int]:
        """``(start, end)`` without form labels at its edges (and the punctuation they leave)."""
        i = bisect.bisect_right(self._label_starts, end) - 1
        changed = False
        while i >= 0:
            s, e = self._labels[i]
            if e <= start:
                break
            if s < end and e > start:
                if s <= start and e >= end:
                    return start, start
                if s <= start:
                    start, changed = e, True
                elif e >= end:
                    end, changed = s, True
            i -= 1
        if changed:
            while start < end and not self.text[start].isalnum():
                start += 1
            while end > start and not self.text[end - 1].isalnum():
                end -= 1
        return start, end

    def protect(self, start: int, end: int, source: str) -> tuple[int, int, str | None]:
        """``(start, end, reason)``: the span to replace (maybe trimmed), or a keep reason."""
        policy = self.policy
        text = self.text
        if policy.keep_punctuation and not any(c.isalnum() for c in text[start:end]):
            return start, end, PUNCTUATION
        if policy.keep_function_words and is_function_words(text[start:end]):
            return start, end, FUNCTION_WORDS
        if self._labels:
            new_start, new_end = self._label_cut(start, end)
            if new_start >= new_end:
                return start, end, FIELD_LABEL
            start, end = new_start, new_end
        if self._terms is not None and len(self._terms) and self._in_term(start, end, source):
            return start, end, CLINICAL_TERM
        if source == RECALL and self._vocab and self._in_vocab(start, end):
            return start, end, CLINICAL_VOCAB
        return start, end, None

    def _in_vocab(self, start: int, end: int) -> bool:
        """Whether a recall span is common clinical wording (see ``keep_clinical_vocab``).

        Kept: every word a vocabulary word or a function word (one vocabulary
        word at least), or a short span (:data:`MAX_CONTINUATION_WORDS`) that
        continues a capitalized vocabulary word right before it ("TAC
        Multicorte", "Mitomicina C"); never when a capitalized word of the span
        is a known name or place ("Colón", "Mali": the vocabulary's words are
        accent-folded, and "colon" is clinical).
        """
        assert self._vocab is not None
        vocab = self._vocab
        raw = _WORD_RE.findall(self.text[start:end])
        words = [normalize(w) for w in raw]
        if any(_is_name_or_place(r, w) for r, w in zip(raw, words)):
            return False
        if any(w in vocab for w in words) and all(w in vocab or w in FUNCTION_WORDS_ES for w in words):
            return True
        if not words or len(words) > MAX_CONTINUATION_WORDS:
            return False
        before = _PREVIOUS_WORD_RE.search(self.text, max(0, start - 64), start)
        return before is not None and before.group(1)[:1].isupper() and normalize(before.group(1)) in vocab


def _is_name_or_place(raw: str, word: str) -> bool:
    """Whether a capitalized ``raw`` word (normalized: ``word``) is a known first name, surname, country or province."""
    if not raw[:1].isupper():
        return False
    from .names import is_first_name, is_surname
    from .places import is_country, province_of

    return is_first_name(word) or is_surname(word) or is_country(raw) or province_of(raw) is not None


class _LazyWords(Sequence[str]):
    """Normalized words ``lo:hi`` of a text, normalized on first access."""

    def __init__(self, protector: Protector, lo: int, hi: int) -> None:
        self._p, self._lo, self._hi = protector, lo, hi

    def __len__(self) -> int:
        return self._hi - self._lo

    def __getitem__(self, i):  # type: ignore[no-untyped-def,override]
        return self._p._norm_word(self._lo + i)
