"""The texts listening read, sentiment, risk, conversions, success days and revenue per day in a subject export;
on erasure the rows kept for analysis are deleted. Revenue per day and per preset period stays: it is
derived from the invoices the law keeps, under the same pseudonym."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from analytics.models import (
    CustomerConversion,
    CustomerRevenue,
    CustomerRisk,
    CustomerSentiment,
    ListenedMessage,
    PeriodRevenue,
    SuccessDay,
)
from customer360.privacy.registry import SubjectData, rows, subject_data


def export(customer) -> dict[str, list[dict]]:
    return {
        "listened_messages": rows(ListenedMessage.objects.filter(customer=customer)),
        "sentiment": rows(CustomerSentiment.objects.filter(customer=customer)),
        "risk": rows(CustomerRisk.objects.filter(customer=customer)),
        "conversion": rows(CustomerConversion.objects.filter(customer=customer)),
        "success_days": rows(SuccessDay.objects.filter(customer=customer)),
        "revenue": rows(CustomerRevenue.objects.filter(customer=customer)),
        "revenue_in_periods": rows(PeriodRevenue.objects.filter(customer=customer)),
    }


def erase(customer, request) -> dict[str, int]:
    return {
        "listened_messages": ListenedMessage.objects.filter(customer=customer).delete()[0],
        "sentiment": CustomerSentiment.objects.filter(customer=customer).delete()[0],
        "risk": CustomerRisk.objects.filter(customer=customer).delete()[0],
        "conversion": CustomerConversion.objects.filter(customer=customer).delete()[0],
        "success_days": SuccessDay.objects.filter(customer=customer).delete()[0],
    }


subject_data.register(
    SubjectData(
        key="analytics",
        label=_("Analytics"),
        app_labels=("analytics",),
        export=export,
        erase=erase,
        order=65,
    )
)
