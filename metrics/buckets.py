"""Fixed log-spaced duration buckets, so medians and p90s can be read from daily rollups.

A rollup row keeps, for each duration it measures, a histogram: an array of `BUCKET_COUNT`
counts. Bucket 0 holds durations under one minute; bucket i (1 ≤ i < last) holds durations in
[60·r^(i-1), 60·r^i) seconds with r = 2^(1/4) ≈ 1.189; the last bucket holds everything longer
(about 150 days and up). Histograms of any rows add up element by element, so the quantile of
any period, store, channel, team or agent is read from the summed histogram.

Resolution: a quantile is reported as the geometric middle of the bucket it falls in, so it is
within ±9.5 % of the exact value (half a bucket on a log scale: 2^(1/8) ≈ 1.09), and under one
minute it is reported as 30 seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BASE_SECONDS = 60
RATIO = 2 ** 0.25
BUCKET_COUNT = 72


def bucket_of(seconds: float) -> int:
    """The bucket index of a duration in seconds (negative durations count as zero)."""
    if seconds < BASE_SECONDS:
        return 0
    # The same arithmetic as `bucket_sql`; the epsilon puts exact boundaries (120 s, 240 s...)
    # in the bucket they open, whatever the rounding of the logarithms.
    index = int(math.floor(math.log(seconds / BASE_SECONDS) / math.log(RATIO) + 1e-9)) + 1
    return min(index, BUCKET_COUNT - 1)


def lower_bound(index: int) -> float:
    return 0.0 if index == 0 else BASE_SECONDS * RATIO ** (index - 1)


def upper_bound(index: int) -> float:
    return math.inf if index >= BUCKET_COUNT - 1 else BASE_SECONDS * RATIO ** index


def representative(index: int) -> float:
    """The value reported for a quantile that falls in bucket `index` (seconds)."""
    if index == 0:
        return BASE_SECONDS / 2
    if index >= BUCKET_COUNT - 1:
        return lower_bound(index)
    return math.sqrt(lower_bound(index) * upper_bound(index))


def quantile(histogram: Sequence[int], q: float) -> float | None:
    """The q-quantile (0 < q ≤ 1) of the durations counted in `histogram`, in seconds, or None
    when it counts nothing. The nearest-rank definition: the smallest value with at least q of the
    counts at or below it."""
    total = sum(histogram)
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    running = 0
    for index, count in enumerate(histogram):
        running += count
        if running >= rank:
            return representative(index)
    return representative(len(histogram) - 1)


def bucket_sql(expression: str) -> str:
    """SQL computing the bucket index (0-based) of a duration in seconds; mirrors `bucket_of`."""
    return (
        f"(CASE WHEN ({expression}) IS NULL THEN NULL WHEN ({expression}) < {BASE_SECONDS} THEN 0 "
        f"ELSE LEAST({BUCKET_COUNT - 1}, "
        f"floor(ln(({expression})::float8 / {BASE_SECONDS}) / ln({RATIO!r}) + 1e-9)::int + 1) END)"
    )
