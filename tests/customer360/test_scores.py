"""The score table in the core: read API, conditions for segments/rules/list filters, the 360 header,
subject access and erasure. Scores are written here directly (as insights would) to keep the core's
tests free of any model."""

import pytest
from django.utils import timezone

from customer360 import conditions, scores
from customer360.models import Customer, Score
from customer360.privacy.core import erase, export
from tests.conftest import client_for
from tests.factories import CustomerFactory


def _score(customer, kind, value, reasons=()):
    return Score.objects.create(
        customer=customer,
        kind=kind,
        value=value,
        band=scores.band_of(kind, value),
        model_version=f"{kind} v1",
        reasons=[{"en": r, "de": f"DE {r}"} for r in reasons],
        computed_at=timezone.now(),
    )


@pytest.fixture
def scored(db):
    risky, calm, unknown = CustomerFactory.create_batch(3)
    _score(risky, scores.CHURN_RISK, 0.72, ["contract cancelled", "open complaint"])
    _score(calm, scores.CHURN_RISK, 0.04)
    _score(risky, scores.PAYMENT_RISK, 0.31)
    _score(calm, scores.propensity_kind("upsell"), 0.4)
    return risky, calm, unknown


def test_bands_and_reads(scored):
    risky, calm, unknown = scored
    assert scores.score_for(risky, scores.CHURN_RISK).band == "high"
    assert scores.score_for(calm.pk, scores.CHURN_RISK).band == "low"
    assert scores.score_for(unknown, scores.CHURN_RISK) is None
    assert scores.score_for(risky, scores.PAYMENT_RISK).band == "medium"
    assert [s.kind for s in scores.risks_for(risky)] == [scores.CHURN_RISK, scores.PAYMENT_RISK]
    assert set(scores.risk_of([risky.pk, calm.pk, unknown.pk], scores.CHURN_RISK)) == {risky.pk, calm.pk}


def test_top_customers_by_kind_leaves_the_unknown_out(scored):
    risky, calm, unknown = scored
    top = list(scores.top_customers(Customer.objects.all(), scores.CHURN_RISK, n=5))
    assert [c.pk for c in top] == [risky.pk, calm.pk]
    assert top[0].score_churn_risk == pytest.approx(0.72)
    annotated = scores.with_score(Customer.objects.filter(pk=unknown.pk), scores.CHURN_RISK).get()
    assert annotated.score_churn_risk is None


def test_conditions_in_percent_and_by_band(scored):
    risky, calm, unknown = scored
    high = conditions.matching([{"field": "customer.score.churn_risk", "op": "gte", "value": "50"}])
    assert list(high) == [risky]
    low = conditions.matching([{"field": "customer.score.churn_risk", "op": "lt", "value": "10,5"}])
    assert list(low) == [calm]  # the unknown risk is not a low one
    band = conditions.matching([{"field": "customer.score_band.churn_risk", "op": "eq", "value": "high"}])
    assert list(band) == [risky]
    with pytest.raises(conditions.RuleError):
        conditions.matching([{"field": "customer.score.churn_risk", "op": "gte", "value": "very"}])


def test_the_customer_list_filters_by_learned_risk(scored, rep):
    risky, calm, unknown = scored
    Customer.objects.update(owner=rep)
    page = client_for(rep).get("/customers/", {"churn_risk_min": "50"}).content.decode()
    assert risky.display_name in page and calm.display_name not in page and unknown.display_name not in page


def test_the_360_header_shows_the_risks_with_their_reasons(scored, rep):
    risky, calm, unknown = scored
    Customer.objects.update(owner=rep)
    client = client_for(rep)
    page = client.get(f"/customers/{risky.pk}/").content.decode()
    assert 'data-score="churn_risk"' in page and "Churn risk: 72 % (High)" in page
    assert "contract cancelled" in page and "Payment risk: 31 % (Medium)" in page
    german = client.get(f"/customers/{risky.pk}/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Abwanderungsrisiko: 72 % (Hoch)" in german and "DE contract cancelled" in german
    assert 'data-score="' not in client.get(f"/customers/{unknown.pk}/").content.decode()


def test_subject_access_exports_and_erasure_removes_the_scores(scored):
    risky, calm, unknown = scored

    class Request:
        pk = 1
        needles = ()

    exported = export(risky)["scores"]
    assert {row["kind"] for row in exported} == {scores.CHURN_RISK, scores.PAYMENT_RISK}
    erase(risky, Request())
    assert not Score.objects.filter(customer=risky).exists()
    assert Score.objects.filter(customer=calm).count() == 2


def test_the_customer_export_carries_the_learned_risks_in_percent(scored, rep):
    import csv
    import io

    risky, calm, unknown = scored
    Customer.objects.update(owner=rep)
    body = client_for(rep).get("/customers/?export=csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    header = rows[0]
    churn, payment = header.index("Churn risk (%)"), header.index("Payment risk (%)")
    by_number = {row[0]: row for row in rows[1:]}
    assert by_number[risky.customer_number][churn] == "72.0"
    assert by_number[risky.customer_number][payment] == "31.0"
    assert by_number[unknown.customer_number][churn] == ""
