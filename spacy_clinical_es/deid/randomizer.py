"""``randomize``: replace the PHI spans of one text; spaCy-free.

Input: a text and ``(start, end, label)`` character spans. Output
(:class:`Result`): the de-identified text, the output spans with their
original labels, and an :class:`~.offsets.OffsetMap` from output to input.

Modes: ``"surrogate"`` (realistic replacements, see :mod:`.surrogates`),
``"mask"`` (``[NOMBRE]``-style tags, see :data:`.categories.MASK_TAGS`) and
``"redact"`` (the span is removed). In every mode sex mentions and ages are
kept by default (:class:`~.options.DeidOptions`), ages above ``max_age``
generalized.

Guarantees in ``"surrogate"`` mode:

* a surrogate never equals its original (case- and accent-insensitive);
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
* dates move by one shift per document, or per ``patient_key`` when one is
  given, so intervals between full dates survive;
* with a ``seed`` (and no key) the output is a deterministic function of the
  seed and the input; without key and seed every call draws fresh randomness.

Overlapping spans are merged into one replaced region (counted in
``stats["merged_overlaps"]``) labelled by its longest span, replaced unless
all its spans are kept. Offsets outside the text raise :class:`DeidError`;
empty spans are counted (``stats["empty_spans"]``) and left alone.

Nothing here logs or raises with the text of a span.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from . import categories as cat
from .context import MIN_BLOCK_LENGTH, SurrogateContext
from .dates import shift_dates
from .errors import DeidError
from .offsets import OffsetMap, Segment
from .options import MODES, DeidOptions
from .people import generalize_age, surrogate_relative
from .seeding import Seeder, master_secret, text_digest
from .surrogates import make_surrogate
from .textutil import count_overlapping, normalize

logger = logging.getLogger(__name__)

MAX_ROUNDS = 4
_SHIFT_TRIES = 128

#: Actions recorded per span.
SURROGATE = "surrogate"
KEEP = "keep"
GENERALIZE = "generalize"
PARTIAL = "partial"
MASK = "mask"
REDACT = "redact"


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


@dataclass
class Result:
    """De-identified text, output spans ``(start, end, label)``, offset map and counts."""

    text: str
    spans_out: list[tuple[int, int, str]]
    offset_map: OffsetMap
    replacements: list[Replacement] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)


@dataclass
class _Region:
    start: int
    end: int
    label: str
    category: str
    action: str


def _check_spans(text: str, spans: Iterable[Sequence[object]], stats: Counter) -> list[tuple[int, int, str]]:
    checked = []
    for i, span in enumerate(spans):
        if len(span) != 3:
            raise DeidError(f"span {i}: expected (start, end, label), got {len(span)} fields")
        start, end, label = span
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
            raise DeidError(f"span {i}: offsets must be integers")
        if not isinstance(label, str):
            raise DeidError(f"span {i}: the label must be a string")
        if not 0 <= start <= end <= len(text):
            raise DeidError(f"span {i}: offsets {start}-{end} are outside the text ({len(text)} characters) or reversed")
        if start == end:
            stats["empty_spans"] += 1
            continue
        checked.append((start, end, label))
    return checked


def _is_kept(category: str, options: DeidOptions, mode: str) -> bool:
    if category == cat.SEX:
        return options.keep_sex
    if category == cat.AGE:
        return options.keep_ages
    if category == cat.RELATIVE:
        return options.keep_relatives and mode == "surrogate"
    return False


def _regions(text: str, spans: list[tuple[int, int, str]], options: DeidOptions, mode: str, stats: Counter) -> list[_Region]:
    """Merge overlapping spans and decide each region's category and action."""
    ordered = sorted(spans, key=lambda s: (s[0], -s[1], s[2]))
    clusters: list[list[tuple[int, int, str]]] = []
    for span in ordered:
        if clusters and span[0] < max(e for _, e, _ in clusters[-1]):
            clusters[-1].append(span)
        else:
            clusters.append([span])
    regions = []
    for cluster in clusters:
        start = cluster[0][0]
        end = max(e for _, e, _ in cluster)
        members = [(s, e, label, cat.category_of(label, text[s:e])) for s, e, label in cluster]
        if len(cluster) > 1:
            stats["merged_overlaps"] += len(cluster) - 1
        replaced = [m for m in members if not _is_kept(m[3], options, mode)]
        pool = replaced or members
        label = max(pool, key=lambda m: (m[1] - m[0], -m[0]))[2]
        category = cat.category_of(label, text[start:end])
        if replaced and _is_kept(category, options, mode):
            category = cat.OTHER if category != cat.AGE else category
            kept = False
        else:
            kept = not replaced
        if kept:
            action = {cat.AGE: GENERALIZE, cat.RELATIVE: PARTIAL}.get(category, KEEP)
        else:
            action = {"surrogate": SURROGATE, "mask": MASK, "redact": REDACT}[mode]
        regions.append(_Region(start, end, label, category, action))
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
    """
    if fixed:
        return _draw_shift(seeder, options, "patient")
    best, best_bad = 0, None
    for attempt in range(_SHIFT_TRIES):
        shift = _draw_shift(seeder, options, str(ctx.round), str(attempt))
        bad = 0
        for date in dates:
            shifted = shift_dates(date, shift)
            if shifted is not None and not ctx.acceptable(shifted, date):
                bad += 1
        if bad == 0:
            return shift
        if best_bad is None or bad < best_bad:
            best, best_bad = shift, bad
    return best


def _leak_count(text: str, regions: list[_Region], out_text: str) -> int:
    """Originals of replaced regions found in the output more often than in the input outside them."""
    replaced = [r for r in regions if r.action == SURROGATE]
    if not replaced:
        return 0
    pieces = []
    last = 0
    for r in replaced:
        pieces.append(text[last : r.start])
        pieces.append("\x00")
        last = r.end
    pieces.append(text[last:])
    outside = normalize("".join(pieces))
    output = normalize(out_text)
    leaks = 0
    for original in {normalize(text[r.start : r.end]) for r in replaced}:
        if len(original) >= MIN_BLOCK_LENGTH and count_overlapping(output, original) > count_overlapping(outside, original):
            leaks += 1
    return leaks


def _render(
    text: str, regions: list[_Region], ctx: SurrogateContext, mode: str, options: DeidOptions
) -> tuple[str, list[Segment], list[Replacement], Counter]:
    pieces: list[str] = []
    segments: list[Segment] = []
    replacements: list[Replacement] = []
    counts: Counter = Counter()
    out_pos = 0
    last = 0
    for region in regions:
        if region.start > last:
            gap = text[last : region.start]
            pieces.append(gap)
            segments.append(Segment(out_pos, out_pos + len(gap), last, region.start, False))
            out_pos += len(gap)
        original = text[region.start : region.end]
        action, how = region.action, ""
        if action == KEEP:
            new = original
        elif action == GENERALIZE:
            new = generalize_age(original, options.max_age)
            action = GENERALIZE if new != original else KEEP
        elif action == PARTIAL:
            new = surrogate_relative(original, ctx, 0, keep_kinship=True) or original
            action = PARTIAL if new != original else KEEP
        elif action == MASK:
            new = options.mask_format.format(tag=cat.mask_tag(region.label, region.category))
        elif action == REDACT:
            new = ""
        else:
            tag = options.mask_format.format(tag=cat.mask_tag(region.label, region.category))
            new, how = make_surrogate(original, region.category, ctx, tag)
            counts[f"by_{how}"] += 1
        counts[action] += 1
        changed = new != original
        segments.append(Segment(out_pos, out_pos + len(new), region.start, region.end, changed))
        replacements.append(
            Replacement(region.start, region.end, out_pos, out_pos + len(new), region.label, region.category, action, how)
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
) -> Result:
    """De-identify ``text`` given its PHI ``spans`` (see the module docstring).

    ``key``: secret for cross-document consistency (never stored or logged).
    ``seed``: makes a run reproducible when no key is given. ``patient_key``:
    documents with the same one share their date shift (needs a key or a
    seed to be stable across calls).
    """
    if mode not in MODES:
        raise DeidError(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
    if key is not None and len(key) == 0:
        raise DeidError("the secret key is empty; give a non-empty key or None")
    options = options or DeidOptions()
    stats: Counter = Counter()
    checked = _check_spans(text, spans, stats)
    regions = _regions(text, checked, options, mode, stats)
    master = Seeder(master_secret(key, seed))
    digest = text_digest(text).hex()
    seeder = master if key is not None else master.child("document", digest)
    date_seeder = master.child("patient", patient_key) if patient_key is not None else master.child("dates", digest)
    blocklist = [text[r.start : r.end] for r in regions if r.action == SURROGATE]
    dates = [text[r.start : r.end] for r in regions if r.action == SURROGATE and r.category == cat.DATE]
    best = None
    for round_ in range(MAX_ROUNDS if mode == "surrogate" else 1):
        ctx = SurrogateContext(seeder, options, blocklist=blocklist, round_=round_)
        ctx.date_shift = _choose_shift(date_seeder, options, dates, ctx, fixed=patient_key is not None)
        rendered = _render(text, regions, ctx, mode, options)
        leaks = _leak_count(text, regions, rendered[0]) if mode == "surrogate" else 0
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
