"""The survey formulas against hand-computed cases: empty periods, one-sided periods and the scores
at each boundary (CSAT 3 vs 4, NPS 6/7/8/9)."""

from __future__ import annotations

import pytest

from surveys.formulas import FORMULA_TEXT, ces, csat_percent, nps

# --- CSAT ---------------------------------------------------------------------------------------


def test_csat_counts_four_and_five_as_satisfied():
    # 2 + 3 satisfied of 10 answers
    assert csat_percent({1: 1, 2: 2, 3: 2, 4: 2, 5: 3}) == 50.0


def test_csat_boundary_three_is_not_satisfied_four_is():
    assert csat_percent({3: 1}) == 0.0
    assert csat_percent({4: 1}) == 100.0
    assert csat_percent({3: 1, 4: 1}) == 50.0


def test_csat_top_box_counts_only_five():
    counts = {1: 1, 3: 1, 4: 1, 5: 1}
    assert csat_percent(counts) == 50.0
    assert csat_percent(counts, top_box=True) == 25.0
    assert csat_percent({4: 7}, top_box=True) == 0.0


def test_csat_of_a_third_is_not_rounded():
    assert csat_percent({1: 2, 5: 1}) == pytest.approx(100 / 3)


def test_csat_of_an_empty_period_is_none():
    assert csat_percent({}) is None
    assert csat_percent({4: 0, 5: 0}) is None
    assert csat_percent({}, top_box=True) is None


# --- NPS ----------------------------------------------------------------------------------------


def test_nps_boundaries_six_detractor_seven_eight_passive_nine_promoter():
    assert nps({6: 1}) == -100.0
    assert nps({7: 1}) == 0.0
    assert nps({8: 1}) == 0.0
    assert nps({9: 1}) == 100.0
    # One of each: promoters 1/4 = 25 %, detractors 1/4 = 25 %.
    assert nps({6: 1, 7: 1, 8: 1, 9: 1}) == 0.0


def test_nps_hand_computed_mix():
    # 20 answers: promoters 9+10 = 5+5 = 10 (50 %), passives 4 (20 %), detractors 6 (30 %) -> 20.
    assert nps({10: 5, 9: 5, 8: 2, 7: 2, 6: 3, 3: 2, 0: 1}) == 20.0


def test_nps_all_detractors_is_minus_100_all_promoters_is_100():
    assert nps({0: 3, 1: 1, 5: 2, 6: 4}) == -100.0
    assert nps({9: 2, 10: 8}) == 100.0


def test_nps_all_passives_is_zero_not_none():
    assert nps({7: 4, 8: 1}) == 0.0


def test_nps_of_an_empty_period_is_none():
    assert nps({}) is None


# --- CES ----------------------------------------------------------------------------------------


def test_ces_is_the_mean_score():
    assert ces({1: 2, 4: 1, 7: 1}) == 3.25
    assert ces({7: 5}) == 7.0
    assert ces({1: 1}) == 1.0


def test_ces_of_an_empty_period_is_none():
    assert ces({}) is None


# --- Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "counts"),
    [
        (csat_percent, {0: 1}),
        (csat_percent, {6: 1}),
        (nps, {11: 1}),
        (nps, {-1: 1}),
        (ces, {0: 1}),
        (ces, {8: 1}),
    ],
)
def test_scores_off_the_scale_are_refused(formula, counts):
    with pytest.raises(ValueError, match="outside"):
        formula(counts)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="negative"):
        nps({9: -1})


def test_every_figure_has_its_formula_written_out():
    assert set(FORMULA_TEXT) == {"csat", "csat_top_box", "nps", "ces"}
    assert "4 or 5" in str(FORMULA_TEXT["csat"])
    assert "9–10" in str(FORMULA_TEXT["nps"]) and "0–6" in str(FORMULA_TEXT["nps"])
