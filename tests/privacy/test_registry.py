"""Every app that keeps rows keyed by a customer contributes to subject access and erasure."""

from customer360.privacy.registry import apps_without_contributor, customer_keyed_models, subject_data


def test_every_app_with_customer_records_has_a_contributor():
    labels = {model._meta.app_label for model in customer_keyed_models()}
    # The apps of today: a new one with a customer key must register, or this fails.
    assert {"customer360", "crm", "marketing", "billing", "collab", "insights", "analytics"} <= labels
    assert apps_without_contributor() == []


def test_a_new_app_without_a_contributor_is_named(monkeypatch):
    monkeypatch.delitem(subject_data.items, "collab")
    assert apps_without_contributor() == ["collab"]
