"""What the core holds about a person: profile, identities, timeline, assignments, merges, scores and
the import files that name them. Registered first for export and erased last (the profile is
what the other contributors' needles were taken from)."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customer360.models import Customer, CustomerAssignment, CustomerIdentity, Score, TimelineEvent
from customer360.privacy import files
from customer360.privacy.registry import SubjectData, subject_data
from customer360.privacy.text import ERASED
from customer360.sources.models import CustomerMerge, DuplicateCandidate

PROFILE_FIELDS = (
    "customer_number",
    "kind",
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "country",
    "birth_date",
    "preferred_language",
    "lifecycle",
    "attributes",
    "created_at",
    "updated_at",
)
#: Profile fields an erasure empties; kind, country, language and lifecycle stay (no one is
#: identified by them, and the figures per country and lifecycle still add up).
ERASED_FIELDS = ("first_name", "last_name", "company", "email", "phone", "street", "postcode", "city")


def export(customer: Customer) -> dict[str, list[dict]]:
    profile = Customer.objects.filter(pk=customer.pk).values(*PROFILE_FIELDS, "owner__username")
    return {
        "profile": list(profile),
        "identities": list(
            CustomerIdentity.objects.filter(customer=customer).values("kind", "source", "value", "created_at")
        ),
        "timeline": list(
            TimelineEvent.objects.filter(customer=customer)
            .order_by("occurred_at", "id")
            .values(
                "occurred_at",
                "department",
                "kind",
                "channel",
                "direction",
                "title",
                "summary",
                "actor_label",
                "source_url",
                "payload",
            )
        ),
        "assignments": list(
            CustomerAssignment.objects.filter(customer=customer).values(
                "department", "user__username", "origin", "reason", "created_at", "revoked_at"
            )
        ),
        "scores": list(
            Score.objects.filter(customer=customer)
            .order_by("kind")
            .values("kind", "value", "band", "model_version", "reasons", "computed_at")
        ),
    }


def _numbers_only(payload: dict) -> dict:
    """The payload's figures (amounts, counts, levels) without any text: dashboards still add up."""
    return {
        k: v for k, v in (payload or {}).items() if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _erase_timeline(customer: Customer) -> int:
    events = list(TimelineEvent.objects.filter(customer=customer).only("id", "payload"))
    for event in events:
        event.title, event.summary, event.source_url = ERASED, "", ""
        event.payload = _numbers_only(event.payload)
    TimelineEvent.objects.bulk_update(events, ["title", "summary", "source_url", "payload"], batch_size=1000)
    return len(events)


def _scrub_json(value, needles):
    if isinstance(value, str):
        return ERASED if needles.found_in(value) else value
    if isinstance(value, dict):
        return {k: _scrub_json(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_json(v, needles) for v in value]
    return value


def _erase_merges(customer: Customer, needles) -> int:
    """Merge records keep snapshots of both customers (for undo): the person's values go."""
    merges = list(CustomerMerge.objects.filter(Q(kept=customer) | Q(merged_customer_id=customer.pk)))
    for merge in merges:
        merge.merged_label = needles.scrub(merge.merged_label)
        for name in ("kept_before", "merged_snapshot", "removed", "chosen"):
            setattr(merge, name, _scrub_json(getattr(merge, name), needles))
        merge.save(update_fields=["merged_label", "kept_before", "merged_snapshot", "removed", "chosen"])
    DuplicateCandidate.objects.filter(Q(customer_a=customer) | Q(customer_b=customer)).delete()
    return len(merges)


def erase(customer: Customer, request) -> dict[str, int]:
    needles = request.needles
    counts = {
        "timeline": _erase_timeline(customer),
        "merges": _erase_merges(customer, needles),
        "files": files.scrub_import_files(needles),
        "identities": CustomerIdentity.objects.filter(customer=customer).delete()[0],
        "scores": Score.objects.filter(customer=customer).delete()[0],
    }
    for name in ERASED_FIELDS:
        setattr(customer, name, "")
    customer.birth_date = None
    customer.owner = None
    customer.attributes = {"erased_by_request": request.pk}
    customer.customer_number = f"ERASED-{request.pk:06d}"
    customer.save()  # rebuilds the search key from the emptied fields: search finds nothing
    counts["profile"] = 1
    return counts


subject_data.register(
    SubjectData(
        key="core",
        label=_("Profile, identifiers and timeline"),
        app_labels=("customer360",),
        export=export,
        erase=erase,
        order=0,
    )
)
