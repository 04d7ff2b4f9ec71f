"""The daily rollups equal a recomputation from the raw rows, whichever way they were kept."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from metrics import rollup
from metrics.models import DailyRollup, DirtyDay
from tests.metrics_helpers import (
    at,
    build_history,
    expected_rollups,
    store_rollups_match_fine_rollups,
    stored_rollups,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _bucharest(settings):
    # Days are local: a time zone away from UTC shows that day boundaries are the local ones.
    settings.TIME_ZONE = "Europe/Bucharest"


def test_minute_task_keeps_rollups_equal_to_a_recomputation_from_raw_rows():
    history = build_history(TODAY)

    days = rollup.refresh_recent(today=TODAY)

    assert set(history["days"]) <= days
    expected = expected_rollups()
    assert stored_rollups() == expected
    assert store_rollups_match_fine_rollups()
    # The history has what it should: reopenings, a changed answer, and the midnight ticket.
    def total(name):
        return sum(row[name] for row in expected.values())

    assert total("reopened") == 2
    assert (total("created"), total("solved"), total("messages_in"), total("messages_out")) == (5, 4, 6, 5)
    assert total("first_response_count") >= 4 and total("resolution_count") >= 3
    assert sum(sum(row["first_response_calendar_hist"]) for row in expected.values()) == total("first_response_count")
    spain, romania = history["stores"]
    day1 = history["days"][1]
    assert expected[(day1, romania.pk, "chat", None, None)]["created"] == 1
    assert sum(row["csat_scores"][2] for key, row in expected.items() if key[1] == romania.pk) == 1  # the 2 became 3


def test_rebuild_command_gives_the_same_rows_and_running_again_changes_nothing():
    build_history(TODAY)
    rollup.refresh_recent(today=TODAY)
    incremental = stored_rollups()

    call_command("rebuild_metrics")
    assert stored_rollups() == incremental
    rollup.refresh_recent(today=TODAY)
    rollup.recompute_days(TODAY - dt.timedelta(days=3), TODAY)
    assert stored_rollups() == incremental == expected_rollups()
    assert store_rollups_match_fine_rollups()


def test_rebuild_of_a_range_replaces_only_those_days():
    history = build_history(TODAY)
    call_command("rebuild_metrics")
    first, second = history["days"][0], history["days"][1]
    before = DailyRollup.objects.exclude(day=second).count()
    DailyRollup.objects.filter(day=second).update(created=999)

    call_command("rebuild_metrics", "--from", second.isoformat(), "--to", second.isoformat())

    assert not DailyRollup.objects.filter(created=999).exists()
    assert DailyRollup.objects.exclude(day=second).count() == before
    assert DailyRollup.objects.filter(day=first).exists()
    assert stored_rollups() == expected_rollups()


def test_new_rows_after_the_watermark_are_counted_once_even_when_read_twice():
    history = build_history(TODAY)
    rollup.refresh_recent(today=TODAY)
    spain = history["stores"][0]
    # A back-dated import five days ago, written after the last run.
    from tests.factories import CustomerFactory
    from tickets import actions

    old_day = TODAY - dt.timedelta(days=5)
    ticket = actions.create_ticket(store=spain, channel="sms", customer=CustomerFactory(), created_at=at(old_day, 12))
    rollup.refresh_recent(today=TODAY)
    rollup.refresh_recent(today=TODAY)  # the same rows read again (they are inside the lag window)

    row = DailyRollup.objects.get(day=old_day, store=spain, channel="sms")
    assert row.created == 1
    assert ticket.pk and stored_rollups() == expected_rollups()


def test_a_survey_answer_hook_marks_its_day_and_the_refresh_recomputes_it(django_capture_on_commit_callbacks):
    history = build_history(TODAY)
    call_command("rebuild_metrics")
    spain = history["stores"][0]
    from surveys.models import SurveyAnswer

    answer = SurveyAnswer.objects.filter(store=spain, kind="csat").get()
    old_day = rollup.local_day(answer.answered_at)
    SurveyAnswer.objects.filter(pk=answer.pk).update(score=1)  # changed in place: no new id
    rollup.on_survey_answer(SurveyAnswer.objects.get(pk=answer.pk), previous_score=5)

    assert list(DirtyDay.objects.values_list("day", flat=True)) == [old_day]
    assert rollup.refresh_dirty_days() == {old_day}
    assert not DirtyDay.objects.exists()
    assert stored_rollups() == expected_rollups()


def test_empty_history_rebuilds_to_nothing():
    call_command("rebuild_metrics")
    assert not DailyRollup.objects.exists()


def test_a_large_back_dated_import_is_recomputed_in_chunks_and_nothing_stays_marked():
    from tests.factories import CustomerFactory, StoreFactory
    from tickets import actions

    store, customer = StoreFactory(slug="chunks"), CustomerFactory()
    days = [TODAY - dt.timedelta(days=n) for n in range(2, 2 + 2 * rollup.REBUILD_CHUNK_DAYS + 5)]
    for day in days:
        actions.create_ticket(store=store, channel="email", customer=customer, created_at=at(day, 12))

    recomputed = rollup.refresh_recent(today=TODAY)

    assert set(days) <= recomputed
    assert not DirtyDay.objects.exists()
    assert DailyRollup.objects.filter(store=store).count() == len(days)
    assert stored_rollups() == expected_rollups()
    assert store_rollups_match_fine_rollups()
