"""Customer search: tolerant of case, accents, umlauts and (on PostgreSQL) small typos."""

from __future__ import annotations

import re
from contextlib import contextmanager, nullcontext
from typing import NamedTuple

from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection, connections, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate

from customer360.models import Customer
from customer360.text import fold_loose, fold_search, normalise_phone


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
    for term in (t for t in fold_search(query).split(" ") if t):
        loose = fold_loose(term)  # its length is what was typed: "mü" folds to "mue", loosely "mu"
        short = len(loose) < 3
        term_condition = _term_condition(term, short)
        # Once only where both are the same ("ander"): PostgreSQL scanned the trigram index for each
        # (two bitmaps of 45,000 entries for "bac" at a million customers, 10 ms each).
        if loose != term:
            term_condition |= _term_condition(loose, short)
        name_condition &= term_condition
    # Every branch can use an index (numbers are stored upper-case, e-mails lower-case), so
    # PostgreSQL combines index scans instead of scanning the table.
    condition = Q(customer_number=query.upper()) | Q(email__startswith=query.lower()) | name_condition
    for phone in _phone_candidates(query):
        condition |= Q(phone=phone)
    return customers.filter(condition)


# Names sort the way people read them ("Böhler" before "Brown"): an ICU collation on PostgreSQL, the
# app's German folding (registered as a collation on each SQLite connection) elsewhere.
NAME_COLLATIONS = {"postgresql": "de-AT-x-icu", "sqlite": "c360_fold"}
NAME_ORDER = ("sort_last", "sort_first", "id")


def by_name(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """``customers`` by last name, first name and id in the reading order of ``NAME_COLLATIONS``
    (the order of the index ``c360_customer_name_sort``), annotated with the ``NAME_ORDER`` fields."""
    collation = NAME_COLLATIONS.get(connection.vendor)
    if collation:
        customers = customers.annotate(
            sort_last=Collate("last_name", collation), sort_first=Collate("first_name", collation)
        )
    else:
        customers = customers.annotate(sort_last=F("last_name"), sort_first=F("first_name"))
    return customers.order_by(*NAME_ORDER)


def _typo_words(query: str) -> list[str]:
    """The words of four or more characters a typo may be in: names, not numbers ("01 2345" is a
    phone number; the names' trigrams near "2345" are no one the user meant)."""
    return [t for t in fold_search(query).split(" ") if len(t) >= 4 and not t.isdigit()]


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


#: How many matches the typeahead ranks by name. "sch" matches a fifth of all customers (every
#: Schmidt and Schneider); ranking all of them would read them all: the typeahead ranks the first
#: matches the indexes give and the user types on. The customer list shows every match, sorted.
TYPEAHEAD_CANDIDATES = 200


#: Planner settings of one transaction: what PostgreSQL may not use to read a query's rows.
SCANS = {
    # Bitmap index scans only: no sequential scan and no walk of an index in its order.
    "bitmap": ("enable_seqscan", "enable_indexscan"),
    # A walk of the order's index: no bitmap of every match and no sequential scan.
    "walk": ("enable_seqscan", "enable_bitmapscan"),
}


@contextmanager
def scans(using: str, kind: str | None):
    """PostgreSQL plans the queries inside with the scans of ``kind`` (see ``SCANS``); with None, or
    elsewhere, as it sees fit."""
    if kind is None or connections[using].vendor != "postgresql":
        yield
        return
    off = ", ".join(f"set_config('{setting}', 'off', true)" for setting in SCANS[kind])
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(f"SELECT {off}")  # noqa: S608 - the settings are SCANS' own
        yield


def bitmap_scans_only(using: str):
    """:func:`scans` of bitmap index scans only."""
    return scans(using, "bitmap")


def _short(query: str) -> bool:
    """A word of one or two letters (it must begin a word, see :func:`_term_condition`)."""
    return any(len(fold_loose(term)) < 3 for term in fold_search(query).split(" ") if term)


#: A list search that matches at most this many customers is narrowed to their ids first. The
#: first FEW_MATCHES + 1 matches also tell how many there are (:func:`narrow`); reading them costs
#: what they are (2,001 took 15-28 ms at a million customers, 501 about 5).
FEW_MATCHES = 500
#: A list search likely to match at most this many customers is read through the search indexes
#: (bitmap scans, whose cost is what it matches: 26,000 matches of "Schö" at a million customers in
#: 0.1 s); one that matches more is left to PostgreSQL, whose walk of the list's order meets such
#: dense matches soon ("sch" matches 222,000).
SOME_MATCHES = 40_000


def _blocks(matches: QuerySet[Customer]) -> int:
    """The table's size in pages (its file size; exact, unlike the planner's statistics)."""
    table = matches.model._meta.db_table
    with connections[matches.db].cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s) / current_setting('block_size')::integer", [table])
        return cursor.fetchone()[0]


class Narrowed(NamedTuple):
    """What :func:`narrow` found: the queryset to read and the :func:`scans` to read it with; for a
    search read by bitmap scans, also the ids of the first matches in the table's physical order (a
    sample of them, since names are stored in no order) and the estimated number of matches."""

    customers: QuerySet[Customer]
    scans: str | None
    sample: tuple[int, ...] = ()
    estimate: float = 0.0


def narrow(matches: QuerySet[Customer], query: str, cap: int | None = None) -> Narrowed:
    """How to read a page of ``matches`` (a search for ``query``, with the list's other filters).

    PostgreSQL cannot estimate how many customers a part of a name matches, so it plans from a
    guess that changes with each ANALYZE's sample of the search keys. Its two plans cost what it
    does not know. A walk of the order's index stops after a page of matches, but the matches of a
    name lie together ("Mair" behind every A-L name in the name order: 0.15-0.35 s at a million
    customers). A bitmap of every match costs what they are, wherever they lie (27,000 matches of
    "Eber": 0.1 s; 60,000 would take twice that). So:

    - at most ``cap`` (``FEW_MATCHES``) matches: their ids, fetched by id and sorted;
    - likely at most ``SOME_MATCHES``: the search itself, by bitmap scans. The first ``cap`` + 1
      matches come in the table's physical order, so the share of the table they took to find
      tells how many there are (customers are stored as they came, names in no order);
    - likely more: a walk of the order's index, which meets so many matches soon;
    - a word of one or two letters (the start of a word), or not PostgreSQL: as it plans."""
    if connections[matches.db].vendor != "postgresql" or _short(query):
        return Narrowed(matches, None)
    cap = FEW_MATCHES if cap is None else cap  # read when called: a setting of the module
    table = connections[matches.db].ops.quote_name(matches.model._meta.db_table)
    block = RawSQL(f"({table}.ctid::text::point)[0]::bigint", [])  # noqa: S611 - the model's table
    with bitmap_scans_only(matches.db):
        found = list(matches.order_by().annotate(block=block).values_list("pk", "block")[: cap + 1])
    if len(found) <= cap:
        return Narrowed(matches.model.objects.filter(pk__in=[pk for pk, _block in found]), "bitmap")
    covered = (max(b for _pk, b in found) + 1) / max(_blocks(matches), 1)
    estimate = len(found) / covered
    if estimate > SOME_MATCHES:
        return Narrowed(matches, "walk")
    return Narrowed(matches, "bitmap", tuple(pk for pk, _block in found), estimate)


def typeahead(customers: QuerySet[Customer], query: str, limit: int = 8) -> list[Customer]:
    """Exact matches first, in the customer list's name order; only when they are fewer than
    ``limit``, near misses (see ``TYPEAHEAD_CANDIDATES``)."""
    # One statement: up to TYPEAHEAD_CANDIDATES matches (visible ones, found among ``customers``),
    # in no order, ranked by name. As two, the ranking planned again and checked each candidate's
    # visibility again (4-8 ms at a million customers).
    candidates = filter_customers(customers, query).order_by().values("pk")[:TYPEAHEAD_CANDIDATES]
    matches = by_name(Customer.objects.filter(pk__in=candidates).select_related("owner"))
    # Left to itself, PostgreSQL reads the candidates' LIMIT through whatever finds the first rows
    # soonest if the matches were spread evenly: a sequential scan, or a walk of the name index.
    # Matches of a name's first letters are not spread evenly ("Lindo" lies behind every A-K name:
    # 1.3 s at a million customers). Bitmap scans of the trigram, e-mail and number indexes cost what
    # the query matches, wherever the matches lie, so only they are allowed. Not for a short query
    # (a word of one or two letters): every name start of two letters is common, its index bitmaps
    # are large, and a sequential scan finds the first matches at once.
    with nullcontext() if _short(query) else bitmap_scans_only(customers.db):
        hits = list(matches[:limit])
    if len(hits) < limit:
        close = near_misses(customers, query)
        if close is not None:
            hits += list(
                close.exclude(pk__in=[c.pk for c in hits]).select_related("owner")[: limit - len(hits)]
            )
    return hits
