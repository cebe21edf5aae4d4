"""Small inline SVG charts for server-rendered pages: no script, no CDN, printable as drawn.

Each chart carries a text alternative (`role="img"`, `<title>`) listing its values, so a
screen reader and a printed copy lose nothing the bars show."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

#: OPEL levels' colours (1 to 4), dark enough for white text and distinct in greyscale print.
LEVEL_COLOURS = {1: "#2e7d32", 2: "#8a5a00", 3: "#c2410c", 4: "#991b1b"}  # as the dashboard's
#: Time not scored: pale, so no level's colour, on screen or in greyscale print, is mistaken for it.
NOT_SCORED_COLOUR = "#dde3ea"
_PAST, _THIS_WEEK = "#9aa9b8", "#1d4f91"


def _number(value: float | int | None) -> str:
    return "no figure" if value is None else f"{value:g}"


def week_bars(
    values: Sequence[float | int | None],
    weeks: Sequence[str],
    label: str,
    *,
    width: int = 96,
    height: int = 24,
    labelled: bool = False,
) -> Markup:
    """One bar per week, this week (the last) darker; a week without a figure has no bar.

    `labelled` adds week names below and values above the bars (for the larger charts)."""
    present = [float(v) for v in values if v is not None]
    top, bottom = max([0.0, *present]), min([0.0, *present])
    span = (top - bottom) or 1.0
    room = 11 if labelled else 1  # space for the texts above and below
    plot = height - 2 * room
    slot = width / max(len(values), 1)
    baseline = room + plot * top / span
    text = "; ".join(f"{w} {_number(v)}" for w, v in zip(weeks, values, strict=True))
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}: {escape(text)}">',
        f"<title>{escape(label)}: {escape(text)}</title>",
        f'<line x1="0" x2="{width}" y1="{baseline:.1f}" y2="{baseline:.1f}" stroke="#c8d1da"/>',
    ]
    for position, value in enumerate(values):
        x = position * slot + slot * 0.15
        colour = _THIS_WEEK if position == len(values) - 1 else _PAST
        if value is not None:
            size = plot * abs(float(value)) / span
            y = baseline - size if value >= 0 else baseline
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{max(size, 0.5):.1f}" fill="{colour}"/>'
            )
        if labelled:
            middle = position * slot + slot / 2
            parts.append(
                f'<text x="{middle:.1f}" y="{height - 2}" font-size="8" '
                f'text-anchor="middle" fill="#3d4b5a">{escape(weeks[position])}</text>'
            )
            if value is not None:
                parts.append(
                    f'<text x="{middle:.1f}" y="9" font-size="8" text-anchor="middle" '
                    f'fill="#1d2733">{escape(_number(value))}</text>'
                )
    parts.append("</svg>")
    return Markup("".join(parts))  # nosec B704 # every text above went through escape(); numbers are formatted


def level_bar(
    hours: Mapping[int, float], label: str, *, not_scored: float = 0.0, width: int = 240
) -> Markup:
    """A week as one bar split by the hours spent at each OPEL level, then the hours not
    scored (pale, last)."""
    total = sum(hours.values()) + not_scored or 1.0
    text = ", ".join(f"OPEL {level} {value:g} h" for level, value in sorted(hours.items()))
    text += f", not scored {not_scored:g} h"
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="16" '
        f'viewBox="0 0 {width} 16" role="img" aria-label="{escape(label)}: {escape(text)}">',
        f"<title>{escape(label)}: {escape(text)}</title>",
    ]
    x = 0.0
    segments = [(LEVEL_COLOURS[n], v) for n, v in sorted(hours.items())]
    for colour, value in [*segments, (NOT_SCORED_COLOUR, not_scored)]:
        size = width * value / total
        if size > 0:
            parts.append(
                f'<rect x="{x:.1f}" y="0" width="{size:.1f}" height="16" fill="{colour}"/>'
            )
        x += size
    parts.append("</svg>")
    return Markup("".join(parts))  # nosec B704 # every text above went through escape(); numbers are formatted
