"""Keeping the daily rollups (`metrics.models.DailyRollup`) equal to the raw rows.

The design, chosen so that nothing can ever be counted twice:

* **Days are recomputed, never incremented.** `recompute_days(first, last)` deletes the rollup
  rows of those days and inserts them again from the raw rows dated on them, in one transaction
  under one advisory lock. The result depends only on the raw rows, so running it twice, late,
  or after a lost task gives the same rows; `manage.py rebuild_metrics` is the same function over
  a longer range.
* **Which days**: every minute, `refresh_recent` (Celery beat, task `metrics.refresh_recent`)
  recomputes today and yesterday, plus every day named by raw rows written since its watermark
  (ticket events, SLA response facts and survey answers, by id; the watermark is re-read from a
  checkpoint a few minutes old, so a row whose transaction committed late is not missed, and
  reading a row twice only names its day twice), plus the days marked by hooks. A survey answer
  (`on_survey_answer`, called by `surveys.actions.record_answer` after commit) marks its day
  and queues `metrics.refresh_days` a few seconds later, so an answer shows on the dashboard at
  once; repeated answers within those seconds share one recompute.
* **Days** are calendar days in the helpdesk's time zone (settings.TIME_ZONE).

What a day counts (from raw rows):

* *created*: ticket events "created"; *solved*: status changes to solved (or straight to closed
  from an unsolved status); *reopened*: "reopened" events and manual changes from solved or closed
  to an open status; *messages in*: customer messages (automatic replies excluded); *messages out*:
  replies (internal notes excluded). Store and channel are the ticket's (messages: the
  message's channel).
* The *team* and *agent* of those counts are the ticket's at that moment, read from its timeline
  (assignment and team events); a message out counts for the agent who wrote it. Tickets created
  count for the team and agent the ticket had at the end of its creation day (routing usually
  assigns just after creation).
* *First response* and *resolution* times and *SLA met / breached*: SLA response facts
  (`tickets.ResponseFact`) completed that day, with their own store, channel, team and agent
  (who answered or resolved). SLA counts only facts that had a due time.
* *Survey answers by score*: answers (`surveys.SurveyAnswer`) first given that day (a changed
  answer keeps its day and moves to its new score), with their own store, channel, team and agent.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from metrics.buckets import BUCKET_COUNT, bucket_sql
from metrics.models import DirtyDay, Watermark

log = logging.getLogger(__name__)

# One lock for every recompute: two workers never interleave a delete and an insert of one day.
ADVISORY_LOCK_KEY = 7_420_001
# Each run re-reads the rows written in this many seconds before it (see `Watermark`).
WATERMARK_LAG_SECONDS = 300
# Set while a `metrics.refresh_dirty_days` task is queued, so a burst of answers queues one.
REFRESH_PENDING_KEY = "metrics:refresh-pending"
REFRESH_DELAY_SECONDS = 3
# A full rebuild goes in chunks of this many days, each in its own transaction.
REBUILD_CHUNK_DAYS = 31


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(local_zone()).date()


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=local_zone())


def _array_of_counts(condition: str, values: Iterable[int], bucket_column: str) -> str:
    return "ARRAY[" + ", ".join(
        f"count(*) FILTER (WHERE {condition} AND {bucket_column} = {value})" for value in values
    ) + "]::int[]"


def _zeros(size: int) -> str:
    return f"array_fill(0, ARRAY[{size}])"


def _value_at(kind: str, column: str) -> str:
    """SQL: the ticket's team or assignee id at `attr_until` (exclusive), from its timeline: the
    last change before, else what the first change after started from, else the ticket's own."""
    before = (
        "(SELECT COALESCE((e.data->>'to')::bigint, -1) FROM tickets_ticketevent e "
        f"WHERE e.ticket_id = x.ticket_id AND e.kind = '{kind}' AND e.created_at < x.attr_until "
        "ORDER BY e.created_at DESC, e.id DESC LIMIT 1)"
    )
    after = (
        "(SELECT COALESCE((e.data->>'from')::bigint, -1) FROM tickets_ticketevent e "
        f"WHERE e.ticket_id = x.ticket_id AND e.kind = '{kind}' AND e.created_at >= x.attr_until "
        "ORDER BY e.created_at, e.id LIMIT 1)"
    )
    return f"NULLIF(COALESCE({before}, {after}, t.{column}, -1), -1)"


def _recompute_sql(include_facts: bool, include_answers: bool) -> str:
    fr = "f.kind = 'first_response'"
    res = "f.kind = 'resolution'"
    buckets = range(BUCKET_COUNT)
    facts = f"""
    SELECT (f.completed_at AT TIME ZONE %(tz)s)::date AS day, f.store_id, f.channel, f.team_id, f.agent_id,
        0 AS created, 0 AS solved, 0 AS reopened, 0 AS messages_in, 0 AS messages_out,
        count(*) FILTER (WHERE {fr}) AS first_response_count,
        {_array_of_counts(fr + " AND f.business_seconds IS NOT NULL", buckets, "f.bb")} AS frb,
        {_array_of_counts(fr + " AND f.calendar_seconds IS NOT NULL", buckets, "f.cb")} AS frc,
        count(*) FILTER (WHERE {res}) AS resolution_count,
        {_array_of_counts(res + " AND f.business_seconds IS NOT NULL", buckets, "f.bb")} AS rb,
        {_array_of_counts(res + " AND f.calendar_seconds IS NOT NULL", buckets, "f.cb")} AS rc,
        count(*) FILTER (WHERE f.due_at IS NOT NULL AND f.breached = false) AS sla_met,
        count(*) FILTER (WHERE f.due_at IS NOT NULL AND f.breached = true) AS sla_breached,
        NULL::int[] AS csat, NULL::int[] AS nps, NULL::int[] AS ces
    FROM (SELECT rf.*, {bucket_sql("rf.business_seconds")} AS bb, {bucket_sql("rf.calendar_seconds")} AS cb
          FROM tickets_responsefact rf
          WHERE rf.completed_at >= %(lo)s AND rf.completed_at < %(hi)s) f
    GROUP BY 1, 2, 3, 4, 5
    """
    answers = f"""
    SELECT (a.answered_at AT TIME ZONE %(tz)s)::date AS day, a.store_id, a.channel, a.team_id, a.agent_id,
        0, 0, 0, 0, 0, 0, NULL::int[], NULL::int[], 0, NULL::int[], NULL::int[], 0, 0,
        {_array_of_counts("a.kind = 'csat'", range(1, 6), "a.score")},
        {_array_of_counts("a.kind = 'nps'", range(0, 11), "a.score")},
        {_array_of_counts("a.kind = 'ces'", range(1, 8), "a.score")}
    FROM surveys_surveyanswer a
    WHERE a.answered_at >= %(lo)s AND a.answered_at < %(hi)s
    GROUP BY 1, 2, 3, 4, 5
    """
    parts = [f"""
    SELECT x.day, x.store_id, x.channel,
        {_value_at("team_changed", "team_id")} AS team_id,
        COALESCE(x.author_id, {_value_at("assigned", "assignee_id")}) AS agent_id,
        x.created, x.solved, x.reopened, x.messages_in, x.messages_out,
        0 AS first_response_count, NULL::int[] AS frb, NULL::int[] AS frc, 0 AS resolution_count,
        NULL::int[] AS rb, NULL::int[] AS rc, 0 AS sla_met, 0 AS sla_breached,
        NULL::int[] AS csat, NULL::int[] AS nps, NULL::int[] AS ces
    FROM moments x JOIN tickets_ticket t ON t.id = x.ticket_id
    """]
    if include_facts:
        parts.append(facts)
    if include_answers:
        parts.append(answers)
    union = "\nUNION ALL\n".join(parts)
    return f"""
    WITH events AS (
        SELECT e.*, (e.created_at AT TIME ZONE %(tz)s)::date AS day
        FROM tickets_ticketevent e
        WHERE e.created_at >= %(lo)s AND e.created_at < %(hi)s
          AND e.kind IN ('created', 'status_changed', 'reopened', 'message')
    ),
    moments AS (
        SELECT e.ticket_id, t.store_id, t.channel, e.day, NULL::bigint AS author_id,
            CASE WHEN e.kind = 'created'
                 THEN ((e.day + 1)::timestamp AT TIME ZONE %(tz)s)
                 ELSE e.created_at + interval '1 microsecond' END AS attr_until,
            (e.kind = 'created')::int AS created,
            (e.kind = 'status_changed' AND (e.data->>'to' = 'solved'
                OR (e.data->>'to' = 'closed' AND e.data->>'from' NOT IN ('solved', 'closed'))))::int AS solved,
            (e.kind = 'reopened' OR (e.kind = 'status_changed' AND e.data->>'from' IN ('solved', 'closed')
                AND e.data->>'to' IN ('new', 'open', 'pending', 'on_hold')))::int AS reopened,
            0 AS messages_in, 0 AS messages_out
        FROM events e JOIN tickets_ticket t ON t.id = e.ticket_id
        WHERE e.kind <> 'message'
        UNION ALL
        SELECT e.ticket_id, t.store_id, m.channel, e.day,
            CASE WHEN m.direction = 'outbound' THEN m.author_user_id END,
            e.created_at + interval '1 microsecond', 0, 0, 0,
            (m.direction = 'inbound')::int, (m.direction = 'outbound')::int
        FROM events e
        JOIN tickets_message m ON m.id = (e.data->>'message_id')::bigint
        JOIN tickets_ticket t ON t.id = e.ticket_id
        WHERE e.kind = 'message'
          AND (m.direction = 'outbound' OR (m.direction = 'inbound' AND NOT m.is_auto_reply))
    ),
    contributions AS ({union})
    INSERT INTO metrics_dailyrollup (
        day, store_id, channel, team_id, agent_id, created, solved, reopened, messages_in, messages_out,
        first_response_count, first_response_business_hist, first_response_calendar_hist,
        resolution_count, resolution_business_hist, resolution_calendar_hist, sla_met, sla_breached,
        csat_scores, nps_scores, ces_scores)
    SELECT c.day, c.store_id, c.channel, c.team_id, c.agent_id,
        sum(c.created), sum(c.solved), sum(c.reopened), sum(c.messages_in), sum(c.messages_out),
        sum(c.first_response_count),
        COALESCE(max(c.frb), {_zeros(BUCKET_COUNT)}), COALESCE(max(c.frc), {_zeros(BUCKET_COUNT)}),
        sum(c.resolution_count),
        COALESCE(max(c.rb), {_zeros(BUCKET_COUNT)}), COALESCE(max(c.rc), {_zeros(BUCKET_COUNT)}),
        sum(c.sla_met), sum(c.sla_breached),
        COALESCE(max(c.csat), {_zeros(5)}), COALESCE(max(c.nps), {_zeros(11)}), COALESCE(max(c.ces), {_zeros(7)})
    FROM (
        SELECT day, store_id, channel, team_id, agent_id, created, solved, reopened, messages_in, messages_out,
            first_response_count, frb, frc, resolution_count, rb, rc, sla_met, sla_breached, csat, nps, ces
        FROM contributions
    ) c
    WHERE c.day BETWEEN %(first)s AND %(last)s
    GROUP BY c.day, c.store_id, c.channel, c.team_id, c.agent_id
    """


def _summed_columns() -> tuple[list[str], list[str]]:
    from metrics.models import COUNTERS, HISTOGRAMS, SCORE_ARRAYS

    names = [*COUNTERS, *HISTOGRAMS, *(name for name, _low, _high in SCORE_ARRAYS.values())]
    sizes = {name: BUCKET_COUNT for name in HISTOGRAMS}
    sizes.update({name: high - low + 1 for name, low, high in SCORE_ARRAYS.values()})
    expressions = [
        f"sum(r.{name})" if name in COUNTERS
        else "ARRAY[" + ", ".join(f"sum(r.{name}[{i}])" for i in range(1, sizes[name] + 1)) + "]::int[]"
        for name in names
    ]
    return names, expressions


# The tables written from DailyRollup's rows: (table, key columns besides the day, per month?).
SUMMARY_TABLES = (
    ("metrics_storedailyrollup", ("store_id", "channel"), False),
    ("metrics_agentdailyrollup", ("store_id", "team_id", "agent_id"), False),
    ("metrics_monthlyrollup", ("store_id", "channel", "team_id", "agent_id"), True),
    ("metrics_storemonthlyrollup", ("store_id", "channel"), True),
    ("metrics_agentmonthlyrollup", ("store_id", "team_id", "agent_id"), True),
)


def _summary_sql(table: str, keys: tuple[str, ...], monthly: bool) -> str:
    names, expressions = _summed_columns()
    key_list = ", ".join(f"r.{key}" for key in keys)
    day = "date_trunc('month', r.day)::date" if monthly else "r.day"
    return f"""
    INSERT INTO {table} (day, {", ".join(keys)}, {", ".join(names)})
    SELECT {day}, {key_list}, {", ".join(expressions)}
    FROM metrics_dailyrollup r WHERE r.day BETWEEN %s AND %s
    GROUP BY {day}, {key_list}
    """


SUMMARY_SQL = {table: _summary_sql(table, keys, monthly) for table, keys, monthly in SUMMARY_TABLES}


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    if day.month == 12:
        return day.replace(day=31)
    return day.replace(month=day.month + 1, day=1) - dt.timedelta(days=1)


def _table_exists(name: str) -> bool:
    return name in connection.introspection.table_names()


def recompute_days(first: dt.date, last: dt.date) -> int:
    """Replace the rollup rows of days `first`..`last` (inclusive) with a recomputation from the
    raw rows. Returns the number of rows written. Safe to run concurrently and repeatedly."""
    if last < first:
        return 0
    params = {
        "tz": settings.TIME_ZONE,
        "lo": day_start(first),
        "hi": day_start(last + dt.timedelta(days=1)),
        "first": first,
        "last": last,
    }
    # Both tables belong to other apps; until their migrations have run, their parts count nothing.
    sql = _recompute_sql(_table_exists("tickets_responsefact"), _table_exists("surveys_surveyanswer"))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        cursor.execute("DELETE FROM metrics_dailyrollup WHERE day BETWEEN %s AND %s", [first, last])
        cursor.execute(sql, params)
        written = cursor.rowcount
        _write_summary_tables(cursor, first, last)
        return written


def _write_summary_tables(cursor, first: dt.date, last: dt.date) -> None:
    """Rewrite the summary rows of days `first`..`last`; monthly ones for their whole months."""
    for table, _keys, monthly in SUMMARY_TABLES:
        low, high = (month_start(first), month_end(last)) if monthly else (first, last)
        cursor.execute(f"DELETE FROM {table} WHERE day BETWEEN %s AND %s", [low, high])
        cursor.execute(SUMMARY_SQL[table], [low, high])


def refresh_store_rollups(first: dt.date = dt.date.min, last: dt.date = dt.date.max) -> None:
    """Rewrite the summary tables' rows of days `first`..`last` from DailyRollup as it stands."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        _write_summary_tables(cursor, first, last)


def recompute_day_set(days: Iterable[dt.date]) -> int:
    """Recompute a set of days, as few contiguous ranges."""
    written = 0
    for first, last in _ranges(sorted(set(days))):
        written += recompute_days(first, last)
    return written


def _ranges(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in days:
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def rebuild(first: dt.date | None = None, last: dt.date | None = None, *, progress=None) -> int:
    """Recompute every day from `first` to `last` (default: the whole history), in chunks.
    Afterwards the watermarks start from the current rows."""
    bounds = raw_data_bounds()
    if bounds is None and (first is None or last is None):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
            cursor.execute("DELETE FROM metrics_dailyrollup")
            for table, _keys, _monthly in SUMMARY_TABLES:
                cursor.execute(f"DELETE FROM {table}")
        return 0
    first = first or bounds[0]
    last = last or bounds[1]
    if first > last:
        raise ValueError("the first day is after the last")
    written = 0
    chunk_start = first
    while chunk_start <= last:
        chunk_end = min(last, chunk_start + dt.timedelta(days=REBUILD_CHUNK_DAYS - 1))
        written += recompute_days(chunk_start, chunk_end)
        if progress:
            progress(chunk_start, chunk_end, written)
        chunk_start = chunk_end + dt.timedelta(days=1)
    return written


def raw_data_bounds() -> tuple[dt.date, dt.date] | None:
    """The first and last local day with any raw row, or None when there is none."""
    queries = ["SELECT min(created_at), max(created_at) FROM tickets_ticketevent"]
    if _table_exists("tickets_responsefact"):
        queries.append("SELECT min(completed_at), max(completed_at) FROM tickets_responsefact")
    if _table_exists("surveys_surveyanswer"):
        queries.append("SELECT min(answered_at), max(answered_at) FROM surveys_surveyanswer")
    lows, highs = [], []
    with connection.cursor() as cursor:
        for query in queries:
            cursor.execute(query)
            low, high = cursor.fetchone()
            if low is not None:
                lows.append(low)
                highs.append(high)
    if not lows:
        return None
    return local_day(min(lows)), local_day(max(highs))


# --- which days to recompute ------------------------------------------------------------------

WATCHED_SOURCES = {
    # source: (table, timestamp columns naming the days a new row touches)
    "ticket_events": ("tickets_ticketevent", ("created_at",)),
    "response_facts": ("tickets_responsefact", ("completed_at",)),
    "survey_answers": ("surveys_surveyanswer", ("answered_at",)),
}


def days_from_new_rows(now: float | None = None) -> set[dt.date]:
    """The days named by rows written since each source's watermark, moving the watermarks on.
    The very first run reads every row once (`rebuild` sets the watermarks, so an installation
    with history starts from there instead)."""
    now = time.time() if now is None else now
    days: set[dt.date] = set()
    for source, (table, columns) in WATCHED_SOURCES.items():
        if not _table_exists(table):
            continue
        watermark, _ = Watermark.objects.get_or_create(source=source)
        points = [(float(stamp), int(max_id)) for stamp, max_id in watermark.points]
        old = [max_id for stamp, max_id in points if now - stamp >= WATERMARK_LAG_SECONDS]
        if old:
            watermark.floor = max(watermark.floor, *old)
            points = [(stamp, max_id) for stamp, max_id in points if now - stamp < WATERMARK_LAG_SECONDS]
        selects = ", ".join(
            f"array_agg(DISTINCT ({column} AT TIME ZONE %s)::date) FILTER (WHERE {column} IS NOT NULL)"
            for column in columns
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT max(id), {selects} FROM {table} WHERE id > %s",
                [*([settings.TIME_ZONE] * len(columns)), watermark.floor],
            )
            row = cursor.fetchone()
        for found in row[1:]:
            days.update(found or ())
        highest = max([watermark.floor, row[0] or 0, *(max_id for _, max_id in points)])
        points.append((now, highest))
        watermark.points = [list(point) for point in points]
        watermark.save(update_fields=["floor", "points"])
    return days


def set_watermarks_to_now() -> None:
    """After a full rebuild: the rows that exist are counted, the minute task starts after them."""
    now = time.time()
    for source, (table, _columns) in WATCHED_SOURCES.items():
        if not _table_exists(table):
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")
            (max_id,) = cursor.fetchone()
        Watermark.objects.update_or_create(source=source, defaults={"floor": max_id, "points": [[now, max_id]]})


def mark_days_dirty(days: Iterable[dt.date]) -> None:
    """Remember days to recompute at the next refresh, and queue that refresh a few seconds later
    (once for any number of marks in between). Call after the commit of the raw rows."""
    rows = [DirtyDay(day=day) for day in set(days)]
    if not rows:
        return
    DirtyDay.objects.bulk_create(rows, ignore_conflicts=True)
    try:
        if cache.add(REFRESH_PENDING_KEY, 1, timeout=60):
            from metrics.tasks import refresh_dirty_days

            refresh_dirty_days.apply_async(countdown=REFRESH_DELAY_SECONDS)
    except Exception:  # the broker or Redis is down: the minute task picks the days up
        log.warning("could not queue the metrics refresh; the minute task will do it", exc_info=True)


def process_dirty_days() -> set[dt.date]:
    """Recompute every marked day, at most `REBUILD_CHUNK_DAYS` per transaction (so a large
    back-dated import never holds one long transaction); each chunk's marks are removed in the
    transaction that recomputed it, so a crash loses nothing. Returns the days recomputed."""
    done: set[dt.date] = set()
    while True:
        with transaction.atomic():
            days = set(
                DirtyDay.objects.exclude(day__in=done).order_by("day").values_list("day", flat=True)[:REBUILD_CHUNK_DAYS]
            )
            if not days:
                return done
            recompute_day_set(days)
            DirtyDay.objects.filter(day__in=days).delete()
        done |= days


def refresh_dirty_days() -> set[dt.date]:
    """Recompute the days hooks have marked (task `metrics.refresh_dirty_days`)."""
    cache.delete(REFRESH_PENDING_KEY)
    return process_dirty_days()


def on_survey_answer(answer, previous_score: int | None = None) -> None:
    """Hook called by `surveys.actions.record_answer` after the answer is committed: its day is
    recomputed within seconds (a changed answer keeps its day and moves to its new score)."""
    mark_days_dirty([local_day(answer.answered_at)])


def refresh_recent(today: dt.date | None = None) -> set[dt.date]:
    """The minute task: recompute today, yesterday, the days named by new raw rows and the days
    marked by hooks. The days are marked together with the watermarks' move (one transaction),
    then recomputed in chunks. Returns the days recomputed."""
    today = today or local_day(timezone.now())
    with transaction.atomic():
        days = {today, today - dt.timedelta(days=1)} | days_from_new_rows()
        DirtyDay.objects.bulk_create([DirtyDay(day=day) for day in days], ignore_conflicts=True)
    return process_dirty_days()
