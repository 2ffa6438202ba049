"""Customer search: tolerant of case, accents, umlauts and (on PostgreSQL) small typos."""

from __future__ import annotations

import re

from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection
from django.db.models import Q, QuerySet

from customer360.models import Customer
from customer360.text import fold, fold_loose, normalise_phone


def _phone_candidates(query: str) -> list[str]:
    """The E.164 forms the query could mean ("01 2345678" in Austria is +4312345678)."""
    if len(re.sub(r"\D", "", query)) < 4:
        return []
    return sorted({number for region in ("AT", "DE", "GB") if (number := normalise_phone(query, region))})


def _term_condition(term: str, short: bool) -> Q:
    """A term of three or more letters may occur anywhere ("ller" finds "Müller"); a shorter one
    must begin a word ("mu" finds "Müller" and "Anna Muster", not "Samuel"). That is what a user
    typing the first letters means, and only word starts can use the trigram index: a two-letter
    substring would read every customer."""
    if not short:
        return Q(search_key__contains=term)
    return Q(search_key__startswith=term) | Q(search_key__contains=f" {term}")


def filter_customers(customers: QuerySet[Customer], query: str) -> QuerySet[Customer]:
    """Customers matching ``query`` by name, company, city, e-mail, phone or customer number.

    Every word must occur in the folded search key ("mül" finds "Müller", "mueller" and "muller");
    words shorter than three letters must begin a word of it.
    Small typos are the business of :func:`near_misses`, which the typeahead adds when few match.
    """
    query = query.strip()
    if not query:
        return customers
    name_condition = Q()
    for term in (t for t in fold(query).split(" ") if t):
        loose = fold_loose(term)  # its length is what was typed: "mü" folds to "mue", loosely "mu"
        short = len(loose) < 3
        name_condition &= _term_condition(term, short) | _term_condition(loose, short)
    # Every branch can use an index (numbers are stored upper-case, e-mails lower-case), so
    # PostgreSQL combines index scans instead of scanning the table.
    condition = Q(customer_number=query.upper()) | Q(email__startswith=query.lower()) | name_condition
    for phone in _phone_candidates(query):
        condition |= Q(phone=phone)
    return customers.filter(condition)


def _typo_words(query: str) -> list[str]:
    return [t for t in fold(query).split(" ") if len(t) >= 4]


def near_misses(customers: QuerySet[Customer], query: str) -> QuerySet[Customer] | None:
    """Customers whose name is close to ``query`` ("Hubre" -> "Huber"), best first; PostgreSQL only
    (pg_trgm word similarity on the trigram index). None where that is not available."""
    words = _typo_words(query)
    if connection.vendor != "postgresql" or not words:
        return None
    condition = Q()
    for word in words:
        condition &= Q(search_key__trigram_word_similar=word)
    return (
        customers.filter(condition)
        .annotate(closeness=TrigramWordSimilarity(" ".join(words), "search_key"))
        .order_by("-closeness", "id")
    )


#: How many matches of a short query the typeahead ranks by name. Two letters match thousands of
#: customers ("sc": every Schmidt and Schneider), and sorting all of them would read them all: the
#: typeahead orders the first matches the database finds; the customer list shows all, sorted.
TYPEAHEAD_CANDIDATES = 200


def typeahead(customers: QuerySet[Customer], query: str, limit: int = 8) -> list[Customer]:
    """Exact matches first (indexed); only when they are fewer than ``limit``, near misses."""
    matches = filter_customers(customers, query)
    if any(len(fold_loose(term)) < 3 for term in fold(query).split(" ") if term):
        # Without the cap a longer query's rarer matches are found faster through the trigram index.
        matches = customers.filter(pk__in=matches.order_by().values("pk")[:TYPEAHEAD_CANDIDATES])
    hits = list(matches.select_related("owner").order_by("last_name", "id")[:limit])
    if len(hits) < limit:
        close = near_misses(customers, query)
        if close is not None:
            hits += list(
                close.exclude(pk__in=[c.pk for c in hits]).select_related("owner")[: limit - len(hits)]
            )
    return hits
