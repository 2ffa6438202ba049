"""Trained models through the storage API (#18): each version carries its artifact's sha256; a
worker refuses an altered file and asks for a retrain; a missing file is retrained even when the
data did not change."""

import hashlib

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from insights import training
from insights.models import Action, ModelVersion
from tests.factories import CustomerFactory
from tests.insights.factories import event, history


def _trainable_action() -> Action:
    rng = np.random.default_rng(1)
    action = Action.objects.create(
        key="stored_offer", name_en="Stored", name_de="Gespeichert", department="sales",
        label_kind="call.logged", label_topic="t", label_positive="accepted", min_outcomes=50,
        validation="time", prior=0.2,
    )  # fmt: skip
    events = []
    for i, customer in enumerate(CustomerFactory.create_batch(100)):
        clicks = int(rng.integers(0, 4))
        events += [event(customer, "email.clicked", "marketing", 10 + k, campaign="x") for k in range(clicks)]
        accepted = rng.random() < 0.15 + 0.25 * clicks
        outcome = "accepted" if accepted else "declined"
        events.append(event(customer, "call.logged", "sales", 1 + i / 100, topic="t", outcome=outcome))
    history(*events)
    return action


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(training, "_artifacts", {})
    monkeypatch.setattr(training, "_retrain_asked", set())
    asked = []
    monkeypatch.setattr(training, "_ask_for_retrain", lambda version: asked.append(version.key))
    return asked


@pytest.mark.django_db
def test_a_version_carries_its_sha256_and_an_altered_file_is_refused(fresh_cache):
    action = _trainable_action()
    version = training.train_action(action)
    with default_storage.open(version.path, "rb") as handle:
        stored = handle.read()
    assert version.sha256 == hashlib.sha256(stored).hexdigest()
    training._artifacts.clear()  # another host: nothing cached
    assert training.load_artifact(version)["pipeline"] is not None
    # Someone replaces the file: the digest no longer matches, the model is not used.
    default_storage.delete(version.path)
    default_storage.save(version.path, ContentFile(stored[:-10] + b"0123456789"))
    training._artifacts.clear()
    assert training.load_artifact(version) is None
    assert fresh_cache == ["stored_offer"]  # a retrain was asked for, once
    assert training.load_artifact(version) is None and fresh_cache == ["stored_offer"]


@pytest.mark.django_db
def test_a_missing_model_file_is_retrained_though_the_data_is_unchanged(fresh_cache):
    action = _trainable_action()
    first = training.train_action(action)
    assert training.train_action(action) is None  # data unchanged, file there: no new version
    default_storage.delete(first.path)
    training._artifacts.clear()
    second = training.train_action(action)
    assert second is not None and second.version == 2 and second.data_hash == first.data_hash
    assert default_storage.exists(second.path)
    assert ModelVersion.objects.get(action=action, is_active=True) == second
