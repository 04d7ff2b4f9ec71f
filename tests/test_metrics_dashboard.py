"""Dashboard figures against hand-computed cases, read from rollup rows through the page, the CSV
export and the API."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from metrics.buckets import bucket_of, representative
from metrics.csv_export import safe_cell
from metrics.models import DailyRollup
from metrics.rollup import refresh_store_rollups
from tests.factories import StoreFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

START, END = dt.date(2026, 10, 1), dt.date(2026, 10, 10)
RANGE = {"from": START.isoformat(), "to": END.isoformat()}


def hist(*seconds: int) -> list[int]:
    counts = [0] * 72
    for value in seconds:
        counts[bucket_of(value)] += 1
    return counts


def rollup(day, store, channel="email", team=None, agent=None, **values) -> DailyRollup:
    return DailyRollup.objects.create(day=day, store=store, channel=channel, team=team, agent=agent, **values)


@pytest.fixture
def world(db):
    store, other = StoreFactory(slug="d-store"), StoreFactory(slug="d-other")
    alice = UserFactory(username="d-alice", role="agent")
    admin = UserFactory(username="d-admin", role="admin")
    # CSAT answers 1, 3, 4, 5: 50 % (top box 25 %). NPS 10, 10, 8, 6: 50 − 25 = 25. CES 1, 1, 4, 7: 3.25.
    rollup(START, store, agent=alice, created=3, solved=2, reopened=1, messages_in=4, messages_out=5,
           csat_scores=[1, 0, 1, 1, 0], nps_scores=[0] * 6 + [1, 0, 1, 0, 1], ces_scores=[2, 0, 0, 1, 0, 0, 1],
           sla_met=2, sla_breached=1, first_response_count=3,
           first_response_business_hist=hist(600, 3600, 7200), first_response_calendar_hist=hist(600, 3600, 86400))
    rollup(START + dt.timedelta(days=4), store, channel="chat", created=1, solved=1, csat_scores=[0, 0, 0, 0, 1],
           nps_scores=[0] * 10 + [1], sla_met=1)
    # The previous period (10 days before): one ticket, one breached target.
    rollup(START - dt.timedelta(days=3), store, created=1, sla_breached=1)
    # Outside both periods, and another store.
    rollup(START - dt.timedelta(days=40), store, created=100)
    rollup(START, other, created=7, csat_scores=[7, 0, 0, 0, 0])
    refresh_store_rollups()
    return {"store": store, "other": other, "alice": alice, "admin": admin}


def api(client, user, path="summary", **params):
    client.force_login(user)
    return client.get(f"/api/v1/metrics/{path}/", params)


def test_summary_figures_match_hand_computed_values(client, world):
    data = api(client, world["admin"], store=world["store"].pk, **RANGE).json()
    current = data["current"]
    assert (current["created"], current["solved"], current["reopened"]) == (4, 3, 1)
    assert (current["messages_in"], current["messages_out"]) == (4, 5)
    assert current["csat_answers"] == 4 and current["csat_percent"] == 50.0
    assert current["nps_answers"] == 4 and current["nps"] == 25.0
    assert current["ces_answers"] == 4 and current["ces"] == 3.25
    assert current["sla_percent"] == 75.0
    # Median of 600, 3600, 7200 s is 3600 s: reported as its bucket's middle, within ±10 %.
    assert current["first_response_median_business_hours"] == round(representative(bucket_of(3600)) / 3600, 2)
    assert abs(current["first_response_median_business_hours"] - 1.0) <= 0.1
    assert abs(current["first_response_p90_calendar_hours"] - 24.0) <= 2.4
    assert current["resolution_median_business_hours"] is None
    assert data["previous"]["created"] == 1 and data["previous"]["sla_percent"] == 0.0
    assert data["change"]["created"] == 3 and data["change"]["sla_percent"] == 75.0
    assert data["previous_period"] == {"from": "2026-09-21", "to": "2026-09-30"}
    assert data["score_distribution"]["csat"] == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 1}


def test_top_box_csat(client, world):
    data = api(client, world["admin"], store=world["store"].pk, top_box="1", **RANGE).json()
    assert data["current"]["csat_percent"] == 25.0


def test_empty_period_has_no_rates_and_zero_counts(client, world):
    data = api(client, world["admin"], **{"from": "2025-01-01", "to": "2025-01-31"}).json()
    current = data["current"]
    assert current["created"] == 0 and current["csat_answers"] == 0
    for figure in ("csat_percent", "nps", "ces", "sla_percent", "first_response_median_business_hours"):
        assert current[figure] is None
    assert data["change"]["csat_percent"] is None
    rows = api(client, world["admin"], "rows", by="day", **{"from": "2025-01-01", "to": "2025-01-03"}).json()
    assert [row["day"] for row in rows["results"]] == ["2025-01-01", "2025-01-02", "2025-01-03"]
    assert all(row["created"] == 0 and row["nps"] is None for row in rows["results"])


def test_filters_by_channel_and_rows_by_day_and_channel(client, world):
    chat = api(client, world["admin"], channel="chat", **RANGE).json()["current"]
    assert chat["created"] == 1 and chat["csat_percent"] == 100.0 and chat["nps"] == 100.0
    by_day = api(client, world["admin"], "rows", by="day", store=world["store"].pk, **RANGE).json()["results"]
    assert len(by_day) == 10 and by_day[0]["created"] == 3 and by_day[4]["created"] == 1 and by_day[1]["created"] == 0
    by_channel = api(client, world["admin"], "rows", by="channel", **RANGE).json()["results"]
    assert {row["channel"]: row["created"] for row in by_channel} == {"chat": 1, "email": 10}


def test_bad_filters_are_refused_with_a_clear_message(client, world):
    response = api(client, world["admin"], **{"from": "yesterday"})
    assert response.status_code == 400 and "YYYY-MM-DD" in str(response.json())
    assert api(client, world["admin"], **{"from": "2026-02-01", "to": "2026-01-01"}).status_code == 400
    assert api(client, world["admin"], channel="pigeon").status_code == 400
    assert api(client, world["admin"], "rows", by="week").status_code == 400
    client.force_login(world["admin"])
    page = client.get(reverse("metrics:dashboard"), {"from": "2026-13-01"})
    assert page.status_code == 400 and b"YYYY-MM-DD" in page.content


def test_dashboard_page_shows_figures_formulas_comparison_and_charts(client, world):
    client.force_login(world["admin"])
    response = client.get(reverse("metrics:dashboard"), {**RANGE, "store": world["store"].pk})
    assert response.status_code == 200
    page = response.content.decode()
    assert "50.0%" in page and "25.0" in page and "3.2" in page and "75.0%" in page
    assert "answers of 4 or 5 ÷ all answers × 100" in page
    assert "% promoters (9–10) − % detractors (0–6)" in page
    assert "Previous period: 1" in page
    assert page.count("<svg") >= 12
    assert "d-alice" in page.lower() or "D-alice" in page
    top_box = client.get(reverse("metrics:dashboard"), {**RANGE, "store": world["store"].pk, "top_box": "1"})
    assert "answers of 5 ÷ all answers × 100" in top_box.content.decode()


def test_csv_export_rows(client, world):
    client.force_login(world["admin"])
    response = client.get(reverse("metrics:export"), {**RANGE, "by": "day", "store": world["store"].pk})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 10 and rows[0]["day"] == "2026-10-01" and rows[0]["created"] == "3"
    assert rows[0]["csat_percent"] == "33.33"  # 1 of 3 answers that day is 4 or 5 and rows[1]["csat_percent"] == ""


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_could_run_as_formulas_are_quoted(prefix):
    assert safe_cell(f"{prefix}cmd|' /C calc'!A0") == f"'{prefix}cmd|' /C calc'!A0"
    assert safe_cell("plain") == "plain"
    assert safe_cell(-25.0) == -25.0  # numbers stay numbers


def test_csv_export_quotes_an_agent_name_written_as_a_formula(client, world):
    evil = UserFactory(username="d-evil", role="agent")
    evil.first_name, evil.last_name = "=HYPERLINK(\"http://x\")", ""
    evil.save()
    rollup(START, world["store"], agent=evil, solved=1)
    refresh_store_rollups()
    client.force_login(world["admin"])
    body = client.get(reverse("metrics:export"), {**RANGE, "by": "agent"}).content.decode()
    names = [row["agent"] for row in csv.DictReader(io.StringIO(body))]
    assert "'=HYPERLINK(\"http://x\")" in names
    assert not any(name.startswith(("=", "+", "-", "@")) for name in names)


def test_every_combination_of_filters_reads_the_right_rows(client, world):
    """Filters are answered from the smallest table holding them; each gives the hand-counted sum."""
    team = TeamFactory(name="d-team", store=world["store"])
    bob = UserFactory(username="d-bob", role="agent")
    rollup(START + dt.timedelta(days=1), world["store"], channel="chat", team=team, agent=world["alice"], solved=10)
    rollup(START + dt.timedelta(days=1), world["store"], channel="email", team=team, agent=bob, solved=100)
    refresh_store_rollups()
    cases = [
        ({}, 2 + 1 + 10 + 100),
        ({"channel": "chat"}, 1 + 10),
        ({"agent": world["alice"].pk}, 2 + 10),
        ({"agent": world["alice"].pk, "channel": "chat"}, 10),
        ({"team": team.pk}, 110),
        ({"team": team.pk, "channel": "email"}, 100),
        ({"team": team.pk, "agent": bob.pk, "store": world["store"].pk}, 100),
        ({"store": world["other"].pk}, 0),
    ]
    for params, solved in cases:
        data = api(client, world["admin"], **params, **RANGE).json()
        assert data["current"]["solved"] == solved, params
        agents = api(client, world["admin"], "rows", by="agent", **params, **RANGE).json()["results"]
        assert sum(row["solved"] for row in agents) == solved, params
        days = api(client, world["admin"], "rows", by="day", **params, **RANGE).json()["results"]
        assert sum(row["solved"] for row in days) == solved, params


@pytest.mark.parametrize(("first", "last"), [
    ("2026-09-01", "2026-10-31"),  # two whole months, read from the monthly tables
    ("2026-09-15", "2026-11-10"),  # a whole October between edge days
    ("2026-08-01", "2026-12-31"),  # the previous period has whole months too
])
def test_long_periods_read_whole_months_and_give_the_same_figures(client, world, first, last):
    team = TeamFactory(name="m-team", store=world["store"])
    rollup(dt.date(2026, 9, 20), world["store"], channel="chat", team=team, agent=world["alice"], solved=10)
    rollup(dt.date(2026, 11, 5), world["store"], channel="chat", team=team, agent=world["alice"], solved=1000)
    rollup(dt.date(2026, 3, 3), world["store"], channel="chat", team=team, agent=world["alice"], solved=5000)
    refresh_store_rollups()
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    everything = DailyRollup.objects.filter(day__gte=start, day__lte=end)
    length = (end - start).days + 1
    before = DailyRollup.objects.filter(day__gte=start - dt.timedelta(days=length), day__lt=start)
    for params, rows in (
        ({}, everything), ({"channel": "chat"}, everything.filter(channel="chat")),
        ({"agent": world["alice"].pk}, everything.filter(agent=world["alice"])),
        ({"team": team.pk, "channel": "chat"}, everything.filter(team=team, channel="chat")),
    ):
        data = api(client, world["admin"], **params, **{"from": first, "to": last}).json()
        assert data["current"]["solved"] == sum(r.solved for r in rows), params
        assert data["current"]["created"] == sum(r.created for r in rows), params
        agents = api(client, world["admin"], "rows", by="agent", **params, **{"from": first, "to": last}).json()
        assert sum(row["solved"] for row in agents["results"]) == sum(r.solved for r in rows), params
    assert data["previous"]["solved"] == sum(r.solved for r in before.filter(team=team, channel="chat"))
