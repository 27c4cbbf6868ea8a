"""Character offset map between a de-identified text and its input.

The map is a list of contiguous :class:`Segment` objects that tile both texts
in order: *copied* segments (``changed=False``) hold the same characters in
input and output, one to one; *changed* segments are the replaced PHI spans
(any lengths, an empty output for ``redact``). Kept PHI spans (sex, ages) are
copied segments of their own, so every PHI span starts and ends a segment.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import DeidError


@dataclass(frozen=True)
class Segment:
    """One piece of the tiling: ``output[out_start:out_end]`` ↔ ``input[in_start:in_end]``."""

    out_start: int
    out_end: int
    in_start: int
    in_end: int
    changed: bool


class OffsetMap:
    """Maps offsets of the de-identified output to the input and back."""

    def __init__(self, segments: Iterable[Segment]) -> None:
        self.segments: tuple[Segment, ...] = tuple(segments)
        out_pos = in_pos = 0
        for seg in self.segments:
            if seg.out_start != out_pos or seg.in_start != in_pos:
                raise DeidError(f"offset map segments are not contiguous at output {out_pos}, input {in_pos}")
            if seg.out_end < seg.out_start or seg.in_end < seg.in_start:
                raise DeidError(f"offset map segment with negative length at output {seg.out_start}")
            if not seg.changed and seg.out_end - seg.out_start != seg.in_end - seg.in_start:
                raise DeidError(f"copied segment with different lengths at output {seg.out_start}")
            out_pos, in_pos = seg.out_end, seg.in_end
        self.output_length = out_pos
        self.input_length = in_pos
        self._out_starts = [s.out_start for s in self.segments]
        self._in_starts = [s.in_start for s in self.segments]

    def __len__(self) -> int:
        return len(self.segments)

    def __repr__(self) -> str:
        return f"OffsetMap({len(self.segments)} segments, output {self.output_length}, input {self.input_length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OffsetMap) and self.segments == other.segments

    def _find(self, starts: list[int], pos: int, length: int, *, side: str) -> Segment:
        if not 0 <= pos <= length:
            raise DeidError(f"offset {pos} outside the text (length {length})")
        if not self.segments:
            return Segment(0, 0, 0, 0, False)
        # The segment holding character ``pos`` ("right"), or ending at ``pos`` ("left").
        if side == "left":
            i = bisect.bisect_left(starts, pos) - 1
        else:
            i = bisect.bisect_right(starts, pos) - 1
        return self.segments[max(i, 0)]

    def to_input(self, out_offset: int, *, side: str = "right") -> int:
        """Input offset of an output offset.

        Inside a copied segment the offset maps one to one. Inside a changed
        segment it maps to the segment's input start (``side="right"``, for a
        span start) or input end (``side="left"``, for a span end).
        """
        seg = self._find(self._out_starts, out_offset, self.output_length, side=side)
        if out_offset == self.output_length:
            return self.input_length
        if not seg.changed:
            return seg.in_start + min(out_offset - seg.out_start, seg.in_end - seg.in_start)
        return seg.in_start if side == "right" else seg.in_end

    def to_output(self, in_offset: int, *, side: str = "right") -> int:
        """Output offset of an input offset (the inverse of :meth:`to_input`)."""
        seg = self._find(self._in_starts, in_offset, self.input_length, side=side)
        if in_offset == self.input_length:
            return self.output_length
        if not seg.changed:
            return seg.out_start + min(in_offset - seg.in_start, seg.out_end - seg.out_start)
        return seg.out_start if side == "right" else seg.out_end

    def to_input_span(self, start: int, end: int) -> tuple[int, int]:
        """Input character span covering the output span ``[start, end)``."""
        if start >= end:
            pos = self.to_input(start)
            return pos, pos
        return self.to_input(start, side="right"), self.to_input(end, side="left")

    def to_output_span(self, start: int, end: int) -> tuple[int, int]:
        """Output character span covering the input span ``[start, end)``."""
        if start >= end:
            pos = self.to_output(start)
            return pos, pos
        return self.to_output(start, side="right"), self.to_output(end, side="left")

    def changed_segments(self) -> list[Segment]:
        """The replaced spans."""
        return [s for s in self.segments if s.changed]

    def to_list(self) -> list[list[int]]:
        """Plain form ``[[out_start, out_end, in_start, in_end, changed], …]`` (JSON, msgpack)."""
        return [[s.out_start, s.out_end, s.in_start, s.in_end, int(s.changed)] for s in self.segments]

    @classmethod
    def from_list(cls, rows: Sequence[Sequence[int]]) -> OffsetMap:
        """Inverse of :meth:`to_list`."""
        return cls(Segment(int(r[0]), int(r[1]), int(r[2]), int(r[3]), bool(r[4])) for r in rows)
