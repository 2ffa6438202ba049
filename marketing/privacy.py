"""Consent with its proof and campaign touches in a subject export; the consent proof on its own
(what the person agreed to, when, how, and the text shown). On erasure consents and their proof
go (there is no one left to contact); touches stay as campaign figures without external ids."""

from __future__ import annotations

import csv
import io

from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.utils.translation import gettext_lazy as _

from customer360.privacy.registry import SubjectData, rows, subject_data
from customer360.sources.reading import neutralise
from marketing.models import Consent, ConsentChange, ConsentWording, Touch


def _wordings(versions: set[str]) -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {}
    for version, language, text in ConsentWording.objects.filter(version__in=versions).values_list(
        "version", "language", "text"
    ):
        texts.setdefault(version, {})[language] = text
    return texts


def consent_proof(customer) -> list[dict]:
    """One row per recorded consent change, newest first: channel, purpose, old and new status,
    when, by whom, how (method, source such as the form's URL), the wording version and its text."""
    changes = list(
        ConsentChange.objects.filter(consent__customer=customer)
        .select_related("consent", "changed_by")
        .order_by("-changed_at", "-id")
    )
    texts = _wordings({c.wording_version for c in changes if c.wording_version})
    language = customer.preferred_language
    proof = []
    for change in changes:
        consent = change.consent
        wording = texts.get(change.wording_version, {})
        proof.append(
            {
                "channel": consent.channel,
                "purpose": consent.purpose,
                "old_status": change.old_status,
                "new_status": change.new_status,
                "changed_at": change.changed_at,
                "changed_by": change.changed_by.get_username() if change.changed_by else "",
                "method": change.method,
                "source": change.source,
                "wording_version": change.wording_version,
                "wording_text": wording.get(language) or next(iter(wording.values()), ""),
                "reason": change.reason,
                "current_status": consent.status,
                "granted_at": consent.granted_at,
                "confirmed_at": consent.confirmed_at,
                "withdrawn_at": consent.withdrawn_at,
            }
        )
    return proof


def proof_csv(proof: list[dict]) -> str:
    """The proof rows as CSV (formulas neutralised: the text comes from forms and imports)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = list(proof[0]) if proof else ["channel", "purpose", "new_status", "changed_at"]
    writer.writerow(columns)
    for row in proof:
        writer.writerow([neutralise("" if row.get(c) is None else str(row.get(c))) for c in columns])
    return buffer.getvalue()


def export(customer) -> dict[str, list[dict]]:
    return {
        "consents": rows(Consent.objects.filter(customer=customer)),
        "consent_proof": consent_proof(customer),
        "campaign_touches": rows(Touch.objects.filter(customer=customer)),
    }


def erase(customer, request) -> dict[str, int]:
    touches = Touch.objects.filter(customer=customer).exclude(external_id="")
    return {
        "consent_changes": ConsentChange.objects.filter(consent__customer=customer).delete()[0],
        "consents": Consent.objects.filter(customer=customer).delete()[0],
        # Repeated opens differ only by their id (unique): each keeps one, without the provider's.
        "campaign_touches": touches.update(external_id=Concat(Value("erased-"), Cast("pk", CharField()))),
    }


subject_data.register(
    SubjectData(
        key="marketing", label=_("Marketing"), app_labels=("marketing",), export=export, erase=erase, order=30
    )
)
