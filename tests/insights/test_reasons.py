"""Reasons in words: counts, single events and a customer's years read as a person would write them."""

from __future__ import annotations

from insights.reasons import describe


def test_counts_read_as_numbers_and_one_in_words_in_both_languages():
    three = describe("email_opens_30", 3)
    assert (three["en"], three["de"]) == ("opened 3 mailings this month", "3 Mailings diesen Monat geöffnet")
    one_day = describe("days_since_last_contact", 1)
    assert (one_day["en"], one_day["de"]) == ("last contact a day ago", "letzter Kontakt vor einem Tag")
    assert describe("days_since_last_contact", 12)["en"] == "last contact 12 days ago"
    one = describe("conversions_90", 1)
    assert (one["en"], one["de"]) == (
        "a campaign conversion in 90 days",
        "ein Kampagnen-Abschluss in 90 Tagen",
    )
    open_one_day = describe("complaint_open_days", 1)
    assert open_one_day["en"] == "complaint open for a day"


def test_a_customers_time_reads_in_years_and_never_as_zero_years():
    said = {days: describe("tenure_days", days) for days in (40, 400, 1500)}
    assert [said[d]["en"] for d in (40, 400, 1500)] == [
        "customer for less than a year",
        "customer for a year",
        "customer for 4 years",
    ]
    assert [said[d]["de"] for d in (40, 400, 1500)] == [
        "seit weniger als einem Jahr Kunde",
        "seit einem Jahr Kunde",
        "seit 4 Jahren Kunde",
    ]
