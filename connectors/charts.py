"""The sync history chart of a connector's page, drawn on the server: no JavaScript, and the CSP unchanged (SVG
presentation attributes and console.css classes, never a ``style`` attribute). Pure: no I/O.

Bars are the records each sync fetched, oldest on the left; a dot on a second scale is how long it took (so far,
for one still running). A status is told by colour and by a sign under its bar, and failed bars are hatched, so no
colour has to be told apart. The same numbers are a table for screen readers, and the figures under the chart:
success rate, median duration and, while a sync runs, records per minute.

Whatever the upstream sent is drawn: a missing or negative count is "not known", a huge one is capped on the scale
(its title says the number), a missing date has no dot, an unknown status is its own kind.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.utils import timezone
from django.utils.safestring import SafeString

from .aimable.types import Sync
from .templatetags.console import duration as duration_text
from .templatetags.console import html_format, shorten

# Geometry, in viewBox units: the plot sits between the axes' labels (left: records, right: duration) and the row
# of status signs under the bars.
WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 60, 60, 14, 42
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
SLOTS = 30  # at most this many syncs are drawn (the history's page)
MIN_SLOTS = 10  # fewer syncs still get slots of a tenth of the width: a lone bar is not a slab
MIN_BAR = 2.0  # a sync without records still shows its colour
MAX_RECORDS = 10**15  # the scale's ceiling: a larger count is drawn as this, and said in full
MAX_SECONDS = 366 * 24 * 3600.0
RUNNING_RATE_AFTER = 5  # seconds a sync must have run before records per minute mean anything


@dataclass(frozen=True)
class Kind:
    css: str  # the class suffix in console.css (chart-bar-<css>)
    label: str
    sign: str  # the text cue under the bar


OK = Kind("ok", "completed", "✓")
FAILED = Kind("failed", "failed", "✕")
CANCELLED = Kind("cancelled", "cancelled", "⊘")
RUNNING = Kind("running", "running", "…")
KINDS = {
    **dict.fromkeys(("completed", "succeeded", "success"), OK),
    **dict.fromkeys(("failed", "error"), FAILED),
    **dict.fromkeys(("cancelled", "canceled"), CANCELLED),
    **dict.fromkeys(("running", "pending", "queued", "in_progress", "started"), RUNNING),
}
LEGEND = (OK, FAILED, CANCELLED, RUNNING, Kind("unknown", "other status", "?"))


def kind_of(status: str) -> Kind:
    known = KINDS.get((status or "").strip().lower())
    return known or Kind("unknown", shorten(status, 40) or "unknown", "?")


def records_text(count: int | None) -> str:
    if count is None:
        return "not known"
    return f"{count:,}" if count <= MAX_RECORDS else f"more than {MAX_RECORDS:,}"


def _n(value: float) -> str:
    return f"{value:.1f}"


def _short_count(count: int) -> str:
    for size, unit in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if count >= size:
            return f"{count / size:.3g}{unit}"
    return str(count)


@dataclass(frozen=True)
class ChartSync:
    """One sync as the chart draws it."""

    sync: Sync
    kind: Kind
    records: int | None  # None: not known (missing or negative)
    seconds: float | None  # how long it took, or has run so far; None: not known

    @property
    def running(self) -> bool:
        return self.kind is RUNNING

    @property
    def duration(self) -> timedelta | None:
        return None if self.seconds is None else timedelta(seconds=self.seconds)

    @property
    def records_text(self) -> str:
        return records_text(self.records)

    @property
    def scaled_records(self) -> int:
        return min(self.records or 0, MAX_RECORDS)


def chart_sync(sync: Sync, now: datetime) -> ChartSync:
    kind = kind_of(sync.status)
    records = sync.records_fetched if sync.records_fetched is not None and sync.records_fetched >= 0 else None
    end = sync.completed_at or (now if kind is RUNNING else None)
    seconds = None
    if sync.created_at is not None and end is not None:
        seconds = (end - sync.created_at).total_seconds()
        seconds = seconds if 0 <= seconds <= MAX_SECONDS else None
    return ChartSync(sync=sync, kind=kind, records=records, seconds=seconds)


@dataclass(frozen=True)
class Stats:
    finished: int  # completed or failed: what the success rate counts (a cancel is a choice, not a failure)
    succeeded: int
    median: timedelta | None
    records_per_minute: int | None  # of the sync running now
    running: ChartSync | None

    @property
    def success_rate(self) -> int | None:
        return round(100 * self.succeeded / self.finished) if self.finished else None


class SyncChart:
    """The chart, its table rows and its figures, from ``selectors.sync_history``'s answer (newest first)."""

    legend = LEGEND

    def __init__(self, history, *, now: datetime | None = None):
        self.error = history.error
        self.now = now or timezone.now()
        newest_first = [chart_sync(sync, self.now) for sync in history.syncs[:SLOTS]]
        self.rows = newest_first  # the table: newest first, as the sync history page
        self.bars = newest_first[::-1]  # the chart: oldest on the left

    @property
    def empty(self) -> bool:
        return not self.bars

    @cached_property
    def stats(self) -> Stats:
        succeeded = sum(1 for bar in self.bars if bar.kind is OK)
        finished = succeeded + sum(1 for bar in self.bars if bar.kind is FAILED)
        took = [bar.seconds for bar in self.bars if bar.seconds is not None and bar.kind in (OK, FAILED, CANCELLED)]
        median = timedelta(seconds=statistics.median(took)) if took else None
        running = next((row for row in self.rows if row.running), None)
        rate = None
        if running is not None and running.seconds is not None and running.seconds >= RUNNING_RATE_AFTER:
            rate = round(running.scaled_records * 60 / running.seconds)
        return Stats(finished=finished, succeeded=succeeded, median=median, records_per_minute=rate, running=running)

    @property
    def running(self) -> bool:
        return self.stats.running is not None

    @cached_property
    def summary(self) -> str:
        """The chart's accessible name: what a sighted reader takes from it at a glance."""
        counts = {}
        for bar in self.bars:
            counts[bar.kind.label] = counts.get(bar.kind.label, 0) + 1
        parts = ", ".join(f"{n} {label}" for label, n in counts.items())
        top = max((bar.scaled_records for bar in self.bars), default=0)
        longest = max((bar.seconds for bar in self.bars if bar.seconds is not None), default=None)
        text = f"Sync history, the last {len(self.bars)} syncs from oldest to newest: {parts}. "
        text += f"Up to {records_text(top)} records per sync"
        text += f"; the longest took {duration_text(timedelta(seconds=longest))}." if longest is not None else "."
        return text + " The same data is in the table below the chart."

    @cached_property
    def svg(self) -> SafeString:
        top_records = max((bar.scaled_records for bar in self.bars), default=0)
        top_seconds = max((bar.seconds for bar in self.bars if bar.seconds is not None), default=0.0)
        slots = max(MIN_SLOTS, len(self.bars))  # sized to the syncs drawn, so they fill the width
        slot = PLOT_W / slots
        width = slot * 0.7
        base = TOP + PLOT_H
        parts = [
            html_format(
                '<svg class="sync-chart-svg" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}" '
                'focusable="false" xmlns="http://www.w3.org/2000/svg">',
                WIDTH,
                HEIGHT,
                WIDTH,
                HEIGHT,
                self.summary,
            ),
            SafeString(
                "<defs>"
                '<pattern id="sync-chart-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
                'patternTransform="rotate(45)"><rect width="6" height="6" class="chart-hatch-ground" fill="#d55e00"/>'
                '<line x1="0" y1="0" x2="0" y2="6" class="chart-hatch-line" stroke="#ffffff" stroke-width="2.5"/>'
                "</pattern></defs>"
            ),
            html_format(
                '<line class="chart-axis" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#8a91a5" stroke-width="1"/>',
                LEFT,
                base,
                WIDTH - RIGHT,
                base,
            ),
            html_format(
                '<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#d5d9e2" stroke-width="1" '
                'stroke-dasharray="3 3"/>',
                LEFT,
                TOP,
                WIDTH - RIGHT,
                TOP,
            ),
            # The scales' tops: records on the left, duration on the right.
            html_format(
                '<text class="chart-label" x="{}" y="{}" text-anchor="end" fill="#4a5060">{}</text>'
                '<text class="chart-label" x="{}" y="{}" text-anchor="end" fill="#4a5060">records</text>'
                '<text class="chart-label" x="{}" y="{}" text-anchor="end" fill="#4a5060">0</text>',
                LEFT - 6,
                TOP + 4,
                _short_count(top_records),
                LEFT - 6,
                TOP + 18,
                LEFT - 6,
                base,
            ),
        ]
        if top_seconds:
            parts.append(
                html_format(
                    '<text class="chart-label" x="{}" y="{}" fill="#4a5060">{}</text>'
                    '<text class="chart-label" x="{}" y="{}" fill="#4a5060">● time</text>',
                    WIDTH - RIGHT + 6,
                    TOP + 4,
                    duration_text(timedelta(seconds=top_seconds)),
                    WIDTH - RIGHT + 6,
                    TOP + 18,
                )
            )
        dots = []
        for index, bar in enumerate(self.bars):
            x = LEFT + slot * (slots - len(self.bars) + index) + (slot - width) / 2  # the newest at the right
            centre = x + width / 2
            height = max(PLOT_H * bar.scaled_records / top_records if top_records else 0.0, MIN_BAR)
            fill = "url(#sync-chart-hatch)" if bar.kind is FAILED else _FILLS.get(bar.kind.css, _FILLS["unknown"])
            parts.append(
                html_format(
                    '<g class="chart-sync chart-sync-{}"><title>{}</title>'
                    '<rect class="chart-bar chart-bar-{}" x="{}" y="{}" width="{}" height="{}" '
                    'fill="{}"{}/>'
                    '<text class="chart-sign chart-sign-{}" x="{}" y="{}" text-anchor="middle" fill="#33384a">'
                    "{}</text></g>",
                    bar.kind.css,
                    self._title(index, bar),
                    bar.kind.css,
                    _n(x),
                    _n(base - height),
                    _n(width),
                    _n(height),
                    fill,
                    SafeString(' stroke="#2440a8" stroke-dasharray="2 2"') if bar.running else "",
                    bar.kind.css,
                    _n(centre),
                    base + 16,
                    bar.kind.sign,
                )
            )
            if bar.seconds is not None and top_seconds:
                dots.append((centre, TOP + PLOT_H * (1 - bar.seconds / top_seconds), bar))
        if len(dots) > 1:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in dots)
            parts.append(
                html_format(
                    '<polyline class="chart-duration-line" points="{}" fill="none" stroke="#33384a" '
                    'stroke-width="1" stroke-opacity="0.5"/>',
                    points,
                )
            )
        for x, y, bar in dots:
            parts.append(
                html_format(
                    '<circle class="chart-duration" cx="{}" cy="{}" r="3" fill="{}" stroke="#33384a" '
                    'stroke-width="1.5"><title>{}</title></circle>',
                    _n(x),
                    _n(y),
                    "#ffffff" if bar.running else "#33384a",
                    ("running for " if bar.running else "took ") + duration_text(bar.duration),
                )
            )
        parts.append(
            html_format(
                '<text class="chart-label" x="{}" y="{}" fill="#4a5060">← older</text>'
                '<text class="chart-label" x="{}" y="{}" text-anchor="end" fill="#4a5060">newer →</text>',
                LEFT,
                HEIGHT - 4,
                WIDTH - RIGHT,
                HEIGHT - 4,
            )
        )
        parts.append(SafeString("</svg>"))
        return SafeString("".join(parts))

    def _title(self, index: int, bar: ChartSync) -> str:
        started = bar.sync.created_at
        when = started.isoformat(sep=" ", timespec="minutes")[:16] + " UTC" if started else "start time not known"
        took = "time not known"
        if bar.seconds is not None:
            took = ("running for " if bar.running else "took ") + duration_text(bar.duration)
        records = "records not known" if bar.records is None else f"{bar.records_text} records"
        return f"Sync {index + 1} of {len(self.bars)} · {when} · {bar.kind.label} · {records} · {took}"


# Okabe-Ito colours (told apart with every common colour vision deficiency); console.css sets the same per class.
_FILLS = {"ok": "#0072b2", "cancelled": "#999999", "running": "#56b4e9", "unknown": "#cc79a7"}
