"""OffsetMap: lookups both ways, plain-list round trip, contiguity checks."""
from __future__ import annotations

import pytest

from spacy_clinical_es.deid import DeidError, OffsetMap, Segment


def _map() -> OffsetMap:
    # input  "Ana vive en Sevilla." -> output "Lucía vive en ."  ("Ana" → "Lucía", "Sevilla" removed)
    return OffsetMap(
        [Segment(0, 5, 0, 3, True), Segment(5, 14, 3, 12, False), Segment(14, 14, 12, 19, True), Segment(14, 15, 19, 20, False)]
    )


def test_lookups():
    omap = _map()
    assert omap.to_input(0) == 0 and omap.to_input(3) == 0
    assert omap.to_input(5) == 3 and omap.to_input(10) == 8
    assert omap.to_input_span(0, 5) == (0, 3)
    assert omap.to_input(14) == 19  # the "." after the removed span
    assert omap.to_output_span(12, 19) == (14, 14)
    assert omap.to_output(8) == 10
    with pytest.raises(DeidError):
        omap.to_input(99)


def test_round_trip_and_checks():
    omap = _map()
    assert OffsetMap.from_list(omap.to_list()) == omap
    assert len(omap.changed_segments()) == 2
    with pytest.raises(DeidError):
        OffsetMap([Segment(0, 3, 0, 3, False), Segment(4, 5, 3, 4, False)])
    with pytest.raises(DeidError):
        OffsetMap([Segment(0, 3, 0, 4, False)])
