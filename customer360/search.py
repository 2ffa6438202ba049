"""Customer search: tolerant of case, accents, umlauts and (on PostgreSQL) small typos."""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import Q, QuerySet

from customer360.models import Customer
from customer360.text import fold, fold_loose, normalise_phone


def _phone_candidates(query: str) -> list[str]:
    digits = re.sub(r"[^\d+]", "", query)
    if len(re.sub(r"\D", "", digits)) < 4:
        return []
    candidates = {digits}
    for region in ("AT", "DE", "GB"):
        number = normalise_phone(query, region)
        if number:
            candidates.add(number)
    return sorted(candidates)


def filter_customers(customers: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """Customers matching ``query`` by name, company, city, e-mail, phone or customer number.

    Every word must occur in the folded search key ("mül" finds "Müller", "mueller" and "muller").
    """
    query = query.strip()
    if not query:
        return customers
    name_condition = Q()
    for term in (t for t in fold(query).split(" ") if t):
        name_condition &= Q(search_key__contains=term) | Q(search_key__contains=fold_loose(term))
    condition = Q(customer_number__iexact=query) | Q(email__istartswith=query.lower()) | name_condition
    if connection.vendor == "postgresql":
        # Small typos ("Grubr", "Hubre"): word similarity on the trigram index, words of 4+ letters.
        words = [t for t in fold(query).split(" ") if len(t) >= 4]
        if words:
            typo_condition = Q()
            for word in words:
                typo_condition &= Q(search_key__trigram_word_similar=word)
            condition |= typo_condition
    for phone in _phone_candidates(query):
        condition |= Q(phone=phone) if phone.startswith("+") else Q(phone__endswith=phone)
    return customers.filter(condition)


def typeahead(customers: QuerySet[Customer], query: str, limit: int = 8) -> list[Customer]:
    return list(
        filter_customers(customers, query).select_related("owner").order_by("last_name", "id")[:limit]
    )
