"""The weekly report's OPEL level colours carry white text: each passes WCAG 2.1 AA (4.5:1)."""

from __future__ import annotations

import pytest

from flowsight.api.charts import LEVEL_COLOURS


def luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of `#rrggbb`."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("level", sorted(LEVEL_COLOURS))
def test_white_text_on_each_level_colour_is_readable(level: int) -> None:
    ratio = 1.05 / (luminance(LEVEL_COLOURS[level]) + 0.05)
    assert ratio >= 4.5, f"OPEL {level}: {ratio:.2f}:1"
