"""``randomize``: replace the PHI spans of one text; spaCy-free.

Input: a text and ``(start, end, label)`` or ``(start, end, label, source)``
character spans (source: ``"entity"`` when absent, ``"rule"``,
``"gazetteer"`` or ``"recall"``). Output
(:class:`Result`): the de-identified text, the output spans with their
original labels, and an :class:`~.offsets.OffsetMap` from output to input.

Modes: ``"surrogate"`` (realistic replacements, see :mod:`.surrogates`),
``"mask"`` (``[NOMBRE]``-style tags, see :data:`.categories.MASK_TAGS`) and
``"redact"`` (the span is removed). In every mode sex mentions and ages are
kept by default (:class:`~.options.DeidOptions`), ages above ``max_age``
generalized.

What happens to each span is decided by the :class:`~.policy.ReplacementPolicy`
(per label and source; protections for punctuation, form labels and
clinical terms first), then by the options (sex, ages, relatives kept).

Guarantees in ``"surrogate"`` mode:

* a surrogate never equals its original (case- and accent-insensitive) and
  holds no significant token of it (:func:`.context.significant_tokens`);
* no mask tag is ever part of surrogate text: a span without an acceptable
  surrogate becomes the neutral mask as a whole region (``how="no_surrogate"``);
* a surrogate never contains an original (three characters or more) of the
  document's replaced spans; after assembly the whole output is checked: no
  such original occurs in the output more often than in the input outside
  the replaced spans (an occurrence across a span boundary triggers a new
  round of surrogates, at most :data:`MAX_ROUNDS`; left-overs are counted in
  ``stats["unresolved_leaks"]``);
* the same original (same category, same normalized text) gets the same
  surrogate within the document; with a secret ``key`` the same holds across
  documents (every choice is seeded by HMAC(key, category | original); no
  mapping is stored) except where a surrogate had to be redrawn because it
  would contain another original of that document;
* without a key, a ``patient_key`` also keys the surrogates: the notes of one
  patient share their mapping (with a seed, across calls);
* dates move by one shift per document, or per ``patient_key`` when one is
  given, so intervals between full dates survive;
* with a ``seed`` (and no key) the output is a deterministic function of the
  seed and the input; without key and seed every call draws fresh randomness.

Overlapping spans are merged into one replaced region (counted in
``stats["merged_overlaps"]``) labelled by its longest span, replaced unless
all its spans are kept. Offsets outside the text raise :class:`DeidError`;
empty spans are counted (``stats["empty_spans"]``) and left alone.

Time and memory are linear in the text's length: the checks look at the
surroundings of each replaced span only.

Nothing here logs or raises with the text of a span.
"""
from __future__ import annotations

import bisect
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..textfold import fold
from . import categories as cat
from .context import MIN_BLOCK_LENGTH, Blocklist, SurrogateContext
from .dates import shift_dates
from .errors import DeidError
from .offsets import OffsetMap, Segment
from .options import MODES, DeidOptions
from .people import (
    generalize_age,
    is_kinship_only,
    relative_name_words,
    surrogate_relative,
)
from .policy import (
    ENTITY,
    FUNCTION_WORDS,
    ISOLATED,
    RECALL,
    REPLACE,
    REPLACE_IF_CERTAIN,
    SOURCES,
    Protector,
    ReplacementPolicy,
    category_is_certain,
)
from .seeding import Seeder, master_secret, text_digest
from .surrogates import make_surrogate

logger = logging.getLogger(__name__)

MAX_ROUNDS = 4
_SHIFT_TRIES = 128
#: Distinct dates looked at when choosing a document's shift (keeps the choice linear).
_SHIFT_SAMPLE = 64

#: Actions recorded per span.
SURROGATE = "surrogate"
KEEP = "keep"
GENERALIZE = "generalize"
PARTIAL = "partial"
MASK = "mask"
REDACT = "redact"
#: Internal: the neutral mask (recorded as ``MASK`` with ``how="neutral"``).
_NEUTRAL = "neutral"
_REPLACING = frozenset({SURROGATE, MASK, REDACT, _NEUTRAL})


@dataclass(frozen=True)
class Replacement:
    """What happened to one (merged) PHI region; offsets only, no text."""

    start: int
    end: int
    out_start: int
    out_end: int
    label: str
    category: str
    action: str
    how: str = ""
    source: str = ENTITY


@dataclass
class Result:
    """De-identified text, output spans ``(start, end, label)``, offset map and counts."""

    text: str
    spans_out: list[tuple[int, int, str]]
    offset_map: OffsetMap
    replacements: list[Replacement] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)


@dataclass
class _Member:
    start: int
    end: int
    label: str
    source: str
    category: str
    action: str
    how: str = ""


@dataclass
class _Region:
    start: int
    end: int
    label: str
    category: str
    action: str
    how: str = ""
    source: str = ENTITY


def _check_spans(text: str, spans: Iterable[Sequence[object]], stats: Counter) -> list[tuple[int, int, str, str]]:
    checked = []
    for i, span in enumerate(spans):
        if len(span) not in (3, 4):
            raise DeidError(f"span {i}: expected (start, end, label) or (start, end, label, source), got {len(span)} fields")
        start, end, label = span[0], span[1], span[2]
        source = span[3] if len(span) == 4 else ENTITY
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
            raise DeidError(f"span {i}: offsets must be integers")
        if not isinstance(label, str):
            raise DeidError(f"span {i}: the label must be a string")
        if source not in SOURCES:
            raise DeidError(f"span {i}: unknown source {source!r}; use one of: {', '.join(SOURCES)}")
        if not 0 <= start <= end <= len(text):
            raise DeidError(f"span {i}: offsets {start}-{end} are outside the text ({len(text)} characters) or reversed")
        if start == end:
            stats["empty_spans"] += 1
            continue
        checked.append((start, end, label, str(source)))
    return checked


def _mode_action(mode: str) -> str:
    return {"surrogate": SURROGATE, "mask": MASK, "redact": REDACT}[mode]


def _configured_action(configured: str, span_text: str, category: str, mode: str, policy: ReplacementPolicy, stats: Counter) -> str:
    """The action of a span from its policy entry (``replace_if_certain`` resolved)."""
    if configured == REPLACE_IF_CERTAIN:
        if category_is_certain(span_text, category):
            stats["recall_certain"] += 1
            configured = REPLACE
        else:
            stats["recall_uncertain"] += 1
            configured = policy.uncertain
            if configured == "mask":
                return REDACT if mode == "redact" else _NEUTRAL
    if configured == REPLACE:
        return _mode_action(mode)
    return {"surrogate": SURROGATE, "mask": MASK, "redact": REDACT, "keep": KEEP}[configured]


def _kept_by_options(category: str, action: str, options: DeidOptions) -> str:
    """Sex, ages and relatives kept as the options say (ages generalized, relative names still replaced)."""
    if action not in _REPLACING:
        return action
    if category == cat.SEX and options.keep_sex:
        return KEEP
    if category == cat.AGE and options.keep_ages:
        return GENERALIZE
    if category == cat.RELATIVE and options.keep_relatives and action == SURROGATE:
        return PARTIAL
    return action


#: Categories whose certainty test is strong evidence of PHI (a parsed date, a phone number, known names…):
#: a recall span of one of them anchors the uncertain recall spans around it (``recall_isolation_chars``).
_ANCHOR_CATEGORIES = frozenset({cat.DATE, cat.PHONE, cat.FAX, cat.EMAIL, cat.URL, cat.IP, cat.NAME})


def _is_anchor(span_text: str, label: str) -> bool:
    category = cat.category_of(label, span_text)
    return category in _ANCHOR_CATEGORIES and category_is_certain(span_text, category)


class _Anchors:
    """The spans that are PHI for sure (entity, rule, gazetteer; a recall span of a strong certain category)."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self._spans = sorted(spans)
        self._starts = [s for s, _ in self._spans]
        self._max_end: list[int] = []  # running max of the ends: overlapping anchors
        running = -1
        for _, e in self._spans:
            running = max(running, e)
            self._max_end.append(running)

    def distance(self, start: int, end: int) -> float:
        """Characters between ``start:end`` and the nearest anchor (0 when they touch; inf without anchors)."""
        if not self._spans:
            return float("inf")
        i = bisect.bisect_left(self._starts, end)
        best = float("inf")
        if i < len(self._spans):
            best = self._starts[i] - end
        if i > 0:
            best = min(best, max(0, start - self._max_end[i - 1]))
        return max(0, best)


def _members(
    text: str, spans: list[tuple[int, int, str, str]], options: DeidOptions, policy: ReplacementPolicy, mode: str, stats: Counter
) -> list[_Member]:
    """Each span's (maybe trimmed) extent, category and action."""
    protector = Protector(text, policy)
    anchors = _Anchors(
        [(s, e) for s, e, label, source in spans if source != RECALL or _is_anchor(text[s:e], label)]
        if policy.recall_isolation_chars is not None
        else []
    )
    members = []
    for start, end, label, source in spans:
        new_start, new_end, reason = protector.protect(start, end, source)
        if reason is not None:
            stats[f"kept_{reason}"] += 1
            members.append(_Member(start, end, label, source, cat.category_of(label, text[start:end]), KEEP, reason))
            continue
        if (new_start, new_end) != (start, end):
            stats["trimmed_field_label"] += 1
        start, end = new_start, new_end
        span_text = text[start:end]
        category = cat.category_of(label, span_text)
        if options.keep_relatives and category not in (cat.RELATIVE, cat.SEX, cat.AGE) and is_kinship_only(span_text):
            category = cat.RELATIVE
            stats["kinship_kept"] += 1
        configured = policy.action_for(label, source)
        if (
            source == RECALL
            and configured == REPLACE_IF_CERTAIN
            and policy.recall_isolation_chars is not None
            and anchors.distance(start, end) > policy.recall_isolation_chars
            and not category_is_certain(span_text, category)
        ):
            stats[f"kept_{ISOLATED}"] += 1
            members.append(_Member(start, end, label, source, category, KEEP, ISOLATED))
            continue
        action = _configured_action(configured, span_text, category, mode, policy, stats)
        members.append(_Member(start, end, label, source, category, _kept_by_options(category, action, options)))
    _join_neighbours(text, members, stats)
    return members


def _join_neighbours(text: str, members: list[_Member], stats: Counter) -> None:
    """An uncertain span right next to a replaced span of its category (nothing or one space between) is
    taken as its continuation and gets its action ("Martínez" + "Soto", "C/ Real" + "5"): no neutral
    mask glued to a surrogate. A span of function words kept by the policy joins a replaced neighbour of
    any category the same way ("Calle" + "de la" + "Paz"); alone ("su" of "su hija") it stays kept."""
    ordered = sorted(members, key=lambda m: (m.start, m.end))
    for i, member in enumerate(ordered):
        function_words = member.action == KEEP and member.how == FUNCTION_WORDS
        if member.action != _NEUTRAL and not function_words:
            continue
        for j in (i - 1, i + 1):
            if not 0 <= j < len(ordered):
                continue
            other = ordered[j]
            gap = text[other.end : member.start] if j < i else text[member.end : other.start]
            if other.action in (SURROGATE, MASK, REDACT) and gap in ("", " ") and (function_words or other.category == member.category):
                member.action, member.category, member.how = other.action, other.category, ""
                stats["function_words_joined" if function_words else "recall_joined_to_neighbour"] += 1
                break


def _regions(text: str, members: list[_Member], stats: Counter) -> list[_Region]:
    """Merge overlapping spans; a region is replaced unless all its spans are kept."""
    ordered = sorted(members, key=lambda m: (m.start, -m.end, m.label))
    clusters: list[list[_Member]] = []
    cluster_end = -1
    for member in ordered:
        if clusters and member.start < cluster_end:
            clusters[-1].append(member)
            cluster_end = max(cluster_end, member.end)
        else:
            clusters.append([member])
            cluster_end = member.end
    regions = []
    for cluster in clusters:
        start = cluster[0].start
        end = max(m.end for m in cluster)
        if len(cluster) == 1:
            m = cluster[0]
            regions.append(_Region(start, end, m.label, m.category, m.action, m.how, m.source))
            continue
        stats["merged_overlaps"] += len(cluster) - 1
        replaced = [m for m in cluster if m.action in _REPLACING]
        chosen = max(replaced or cluster, key=lambda m: (m.end - m.start, -m.start))
        category = cat.category_of(chosen.label, text[start:end])
        action = chosen.action
        if replaced:
            if category in (cat.SEX, cat.RELATIVE):
                category = cat.OTHER
        elif not (action == GENERALIZE and category == cat.AGE or action == PARTIAL and category == cat.RELATIVE):
            action = KEEP
        regions.append(_Region(start, end, chosen.label, category, action, chosen.how, chosen.source))
    return regions


def _draw_shift(seeder: Seeder, options: DeidOptions, *parts: str) -> int:
    rng = seeder.rng("date-shift", *parts)
    days = rng.randint(options.date_shift_min_days, options.date_shift_max_days)
    return days if rng.random() < 0.5 else -days


def _choose_shift(
    seeder: Seeder, options: DeidOptions, dates: list[str], ctx: SurrogateContext, *, fixed: bool
) -> int:
    """The document's shift: the first draw whose shifted dates are all acceptable.

    With a patient key the shift is fixed (same for every document of the patient).
    Only the first :data:`_SHIFT_SAMPLE` distinct dates are looked at.
    """
    if fixed:
        return _draw_shift(seeder, options, "patient")
    sample = list(dict.fromkeys(dates))[:_SHIFT_SAMPLE]
    best, best_bad = 0, None
    for attempt in range(_SHIFT_TRIES):
        shift = _draw_shift(seeder, options, str(ctx.round), str(attempt))
        bad = 0
        for date in sample:
            shifted = shift_dates(date, shift)
            if shifted is not None and not ctx.acceptable(shifted, date):
                bad += 1
        if bad == 0:
            return shift
        if best_bad is None or bad < best_bad:
            best, best_bad = shift, bad
    return best


# --------------------------------------------------------------------------- leak check


def _normalize_mapped(text: str) -> tuple[str, list[int], list[int]]:
    """``normalize(text)`` with, per output character, the input offsets it comes from."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pending_space = -1
    for i, char in enumerate(text):
        if char.isspace():
            if out and pending_space < 0:
                pending_space = i
            continue
        piece = fold(char)
        if not piece:
            if ends:
                ends[-1] = i + 1
            continue
        if pending_space >= 0:
            out.append(" ")
            starts.append(pending_space)
            ends.append(i)
            pending_space = -1
        for c in piece:
            out.append(c)
            starts.append(i)
            ends.append(i + 1)
    return "".join(out), starts, ends


def _occurrences_near(text: str, intervals: list[tuple[int, int]], blocklist: Blocklist, reach: int) -> Counter:
    """Occurrences (normalized) of blocked originals that overlap an interval (an empty one: that strictly contain its point)."""
    counts: Counter = Counter()
    if not intervals or not len(blocklist):
        return counts
    windows: list[list[int]] = []
    for s, e in sorted(intervals):
        lo, hi = max(0, s - reach), min(len(text), e + reach)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], hi)
            windows[-1][2:] += [s, e]
        else:
            windows.append([lo, hi, s, e])
    for window in windows:
        lo, hi, bounds = window[0], window[1], window[2:]
        spans = list(zip(bounds[::2], bounds[1::2]))
        norm, starts, ends = _normalize_mapped(text[lo:hi])
        for k in range(len(norm) - MIN_BLOCK_LENGTH + 1):
            for original in blocklist.bucket(norm[k : k + MIN_BLOCK_LENGTH]):
                if not norm.startswith(original, k):
                    continue
                occ_s, occ_e = lo + starts[k], lo + ends[k + len(original) - 1]
                if any((occ_s < e and occ_e > s) if e > s else (occ_s < s < occ_e) for s, e in spans):
                    counts[original] += 1
    return counts


def _leak_count(text: str, replacements: list[Replacement], out_text: str, blocklist: Blocklist) -> int:
    """Originals of surrogate regions that occur in the output more often than in the input outside them.

    Only occurrences that touch a changed region can differ between the two, so
    only the surroundings of the changed regions are searched (linear time).
    """
    if not len(blocklist):
        return 0
    reach = 2 * max(len(b) for b in blocklist) + 16
    out_changed = [(r.out_start, r.out_end) for r in replacements if text[r.start : r.end] != out_text[r.out_start : r.out_end]]
    in_changed = [
        (r.start, r.end)
        for r in replacements
        if r.action != SURROGATE and text[r.start : r.end] != out_text[r.out_start : r.out_end]
    ]
    in_output = _occurrences_near(out_text, out_changed, blocklist, reach)
    in_input = _occurrences_near(text, in_changed, blocklist, reach)
    return sum(1 for original, n in in_output.items() if n > in_input.get(original, 0))


# --------------------------------------------------------------------------- rendering


def _render(
    text: str, regions: list[_Region], ctx: SurrogateContext, options: DeidOptions, policy: ReplacementPolicy
) -> tuple[str, list[Segment], list[Replacement], Counter]:
    pieces: list[str] = []
    segments: list[Segment] = []
    replacements: list[Replacement] = []
    counts: Counter = Counter()
    neutral = options.mask_format.format(tag=policy.neutral_tag)
    out_pos = 0
    last = 0
    for region in regions:
        if region.start > last:
            gap = text[last : region.start]
            pieces.append(gap)
            segments.append(Segment(out_pos, out_pos + len(gap), last, region.start, False))
            out_pos += len(gap)
        original = text[region.start : region.end]
        action, how = region.action, region.how
        if action == KEEP:
            new = original
        elif action == GENERALIZE:
            new = generalize_age(original, options.max_age)
            action = GENERALIZE if new != original else KEEP
        elif action == PARTIAL:
            new = surrogate_relative(original, ctx, 0, keep_kinship=True) or original
            action = PARTIAL if new != original else KEEP
        elif action == MASK:
            new, how = options.mask_format.format(tag=cat.mask_tag(region.label, region.category)), "typed"
        elif action == _NEUTRAL:
            new, action, how = neutral, MASK, "neutral"
        elif action == REDACT:
            new = ""
        else:
            surrogate, how = make_surrogate(original, region.category, ctx)
            if surrogate is None:
                new, action = neutral, MASK
            else:
                new = surrogate
            counts[f"by_{how}"] += 1
        counts[action] += 1
        changed = new != original
        segments.append(Segment(out_pos, out_pos + len(new), region.start, region.end, changed))
        replacements.append(
            Replacement(
                region.start, region.end, out_pos, out_pos + len(new), region.label, region.category, action, how, region.source
            )
        )
        pieces.append(new)
        out_pos += len(new)
        last = region.end
    if last < len(text):
        segments.append(Segment(out_pos, out_pos + len(text) - last, last, len(text), False))
        pieces.append(text[last:])
    return "".join(pieces), segments, replacements, counts


def randomize(
    text: str,
    spans: Iterable[Sequence[object]],
    *,
    mode: str = "surrogate",
    seed: int | None = None,
    key: bytes | str | None = None,
    patient_key: str | None = None,
    options: DeidOptions | None = None,
    policy: ReplacementPolicy | None = None,
) -> Result:
    """De-identify ``text`` given its PHI ``spans`` (see the module docstring).

    ``key``: secret for cross-document consistency (never stored or logged).
    ``seed``: makes a run reproducible when no key is given. ``patient_key``:
    documents with the same one share their date shift (needs a key or a
    seed to be stable across calls) and, without a key, their surrogates. ``options``: what to keep and how to
    shift (:class:`DeidOptions`); ``policy``: what to do per label and
    source (:class:`~.policy.ReplacementPolicy`).
    """
    if mode not in MODES:
        raise DeidError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
    if key is not None and len(key) == 0:
        raise DeidError("the secret key is empty; give a non-empty key or None")
    options = options or DeidOptions()
    policy = policy or ReplacementPolicy()
    stats: Counter = Counter()
    checked = _check_spans(text, spans, stats)
    regions = _regions(text, _members(text, checked, options, policy, mode, stats), stats)
    master = Seeder(master_secret(key, seed))
    digest = text_digest(text).hex()
    if key is not None:
        seeder = master  # one mapping for every document of the key
    elif patient_key is not None:
        seeder = master.child("patient-surrogates", patient_key)  # one mapping per patient (with a seed)
    else:
        seeder = master.child("document", digest)
    date_seeder = master.child("patient", patient_key) if patient_key is not None else master.child("dates", digest)
    blocklist = Blocklist(
        [text[r.start : r.end] for r in regions if r.action == SURROGATE]
        + [w for r in regions if r.action == PARTIAL for w in relative_name_words(text[r.start : r.end])]
    )
    dates = [text[r.start : r.end] for r in regions if r.action == SURROGATE and r.category == cat.DATE]
    any_surrogate = any(r.action == SURROGATE for r in regions)
    best = None
    for round_ in range(MAX_ROUNDS if any_surrogate else 1):
        ctx = SurrogateContext(seeder, options, blocklist=blocklist, round_=round_)
        ctx.date_shift = _choose_shift(date_seeder, options, dates, ctx, fixed=patient_key is not None)
        rendered = _render(text, regions, ctx, options, policy)
        leaks = _leak_count(text, rendered[2], rendered[0], blocklist) if any_surrogate else 0
        if best is None or leaks < best[0]:
            best = (leaks, round_, rendered)
        if leaks == 0:
            break
    assert best is not None
    leaks, round_, (out_text, segments, replacements, counts) = best
    stats.update(counts)
    stats["spans"] = len(checked)
    stats["regions"] = len(regions)
    stats["rounds"] = round_ + 1
    if leaks:
        stats["unresolved_leaks"] = leaks
        logger.warning("de-identification: %d original(s) still occur in the output across span boundaries", leaks)
    logger.debug("de-identification: %d spans, %d regions, mode %s, %d round(s)", len(checked), len(regions), mode, round_ + 1)
    spans_out = [(r.out_start, r.out_end, r.label) for r in replacements]
    return Result(out_text, spans_out, OffsetMap(segments), replacements, stats)
