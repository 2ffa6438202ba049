"""Workflows of dashboards and listening: refreshing roll-ups, listening to customer text (topics,
sentiment), churn risk, and ticket-category suggestions with their corrections."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path

import joblib
import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Exists, F, Max, OuterRef, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from analytics import customer_rollups, risk, rollups
from analytics.listening import categorise, sentiment
from analytics.listening.messages import new_texts
from analytics.listening.topics import find_topics, rising_test, top_phrase
from analytics.models import (
    CategoryModelVersion,
    CustomerConversion,
    CustomerRevenue,
    CustomerRisk,
    CustomerSentiment,
    DailyRollup,
    ListenedMessage,
    PeriodRevenue,
    RollupState,
    SuccessDay,
    SuggestedCategory,
    Topic,
    TopicTrend,
    YearRevenue,
)
from crm.models import Ticket
from crm.services import ticket_update
from customer360.bulk import bulk_insert, instance_maker, update_rows, vacuum_analyze
from customer360.models import Customer, Job
from customer360.words import language_of

logger = logging.getLogger(__name__)

BATCH = 5000
PERIOD_DAYS = 30
TOPIC_WINDOW_DAYS = 365
SENTIMENT_WINDOW_DAYS = 365
NEGATIVE = -0.2
MIN_TRAINING_TICKETS = 10


# --- Roll-ups -----------------------------------------------------------------------------------------
def rollups_refresh(
    *,
    full: bool = False,
    reads_scores: bool | None = None,
    reads_listening: bool | None = None,
    per_customer: bool | None = None,
    settled: datetime | None = None,
) -> dict[str, int]:
    """Refresh every roll-up family; incremental unless ``full`` or the family has no watermark.

    ``reads_scores`` False refreshes only the families computed from the records, True only those
    that read the learned scores and recommendations (the seed runs the first while it scores);
    None all, in that order. Of the families computed from the records, ``reads_listening`` False
    refreshes all but the mood (which reads the listening's sentiment), True only the mood (the
    seed runs the others beside the listening). Of those that read the scores, ``per_customer`` True
    refreshes the per-customer roll-ups (conversions, success days) and the family that reads them,
    False the others (the seed runs the two side by side). Returns the rows written per family.

    ``settled``: every event and score recorded before it was committed before this refresh began
    (the seed passes the start of its wave: the writers and the earlier waves are done). The next
    refresh then looks back only to it, not ``WATERMARK_OVERLAP`` behind this one's start: at a
    million customers, the first refresh after the seed rewrote nearly every customer's revenue
    days (340 s) for the last ten minutes of the seed's writers, which this refresh had read.
    """
    watermark = timezone.now()  # where the next refresh looks back from
    if settled is not None:
        watermark = max(watermark, settled + rollups.WATERMARK_OVERLAP)
    written: dict[str, int] = {}
    if not reads_scores:
        for family in rollups.FAMILIES:
            if reads_listening is None or (family.metric == rollups.MOOD) == reads_listening:
                _family_refresh(family, full, watermark, written)
        if not reads_listening:
            _customer_rollup_refresh("billing.customer_revenue", customer_rollups.customer_revenue_rebuild,
                                     full, watermark, written)  # fmt: skip
            _period_revenue_refresh(full, watermark, written)
    if reads_scores is not False:
        _score_rollups_refresh(full, watermark, written, per_customer)
    _vacuum_rewritten(written)
    return written


def _score_rollups_refresh(full: bool, watermark, written: dict[str, int], per_customer: bool | None) -> None:
    """The families that read the scores: ``per_customer`` True the per-customer roll-ups and the
    family that reads them, False the others, None all."""
    if per_customer is not False:
        # Per-customer roll-ups: rebuilt for the customers with new events since the watermark. The
        # success days carry the group of each customer's score: written after the scores, then kept
        # in step with them (a seed that wrote them beside the scoring rewrote 5.25M rows after it).
        _customer_rollup_refresh(
            "nba.conversion", customer_rollups.conversions_rebuild, full, watermark, written
        )
        _customer_rollup_refresh(
            "nba.success_days", customer_rollups.success_days_rebuild, full, watermark, written
        )
        _customer_rollup_refresh(
            "nba.success_groups", customer_rollups.success_groups_sync, full, watermark, written
        )
    for family in rollups.SCORE_FAMILIES:
        if per_customer is None or (family.metric in rollups.READ_PER_CUSTOMER) == per_customer:
            _family_refresh(family, full, watermark, written)


#: A refresh that wrote at least this many rows of a roll-up table vacuums it after its commit.
VACUUM_AFTER_ROWS = 10_000
#: The rows of ``YearRevenue`` a refresh wrote (with the preset periods' snapshot).
YEAR_REVENUE = "customers.year_revenue"
# The per-customer roll-ups' tables; every other family writes DailyRollup.
_TABLES = {
    "billing.customer_revenue": CustomerRevenue,
    YEAR_REVENUE: YearRevenue,
    "nba.conversion": CustomerConversion,
    "nba.success_days": SuccessDay,
    "nba.success_groups": SuccessDay,
}


def _vacuum_rewritten(written: dict[str, int]) -> None:
    """``VACUUM (ANALYZE)`` the roll-up tables this refresh rewrote many rows of. A refresh deletes
    and inserts the rows of its dirty days or customers; until vacuumed, the old versions stay in
    the pages every chart reads (where autovacuum is off or behind). At a million customers, the
    first refresh after the seed rewrote 236,000 revenue days: a year's revenue concentration took
    0.85 s before the table's vacuum, 0.6 s after."""
    rows: Counter = Counter()
    for metric, n in written.items():
        rows[_TABLES.get(metric, DailyRollup)] += n
    vacuum_analyze(*(model for model, n in rows.items() if n >= VACUUM_AFTER_ROWS))


def _advance(state: RollupState, watermark: datetime, **fields) -> None:
    """Store a refresh's watermark, never behind the one before: a seed's may lie ahead of the
    next refresh's start (see ``rollups_refresh``'s ``settled``)."""
    if state.watermark is not None:
        watermark = max(watermark, state.watermark)
    RollupState.objects.filter(pk=state.pk).update(watermark=watermark, refreshed_at=timezone.now(), **fields)


def _period_revenue_refresh(full: bool, watermark, written: dict[str, int]) -> None:
    """The preset periods' revenue snapshot and its bands: rebuilt whole when the day changed (the
    preset periods end today), for the customers with new revenue when only that changed; the bands
    are counted again from the snapshot either way."""
    today = timezone.localdate()
    state, _ = RollupState.objects.get_or_create(metric=rollups.REVENUE_BANDS.metric)
    current = state.watermark and timezone.localdate(state.refreshed_at) == today
    if not full and current and not customer_rollups.revenue_events(state.watermark).exists():
        written[state.metric] = 0
        _advance(state, watermark)
        return
    since = state.watermark if current and not full else None
    with transaction.atomic():
        rows = customer_rollups.period_revenue_rebuild(today, since)
        written[state.metric] = rollups.rebuild(rollups.REVENUE_BANDS, None)
        written[YEAR_REVENUE] = customer_rollups.year_revenue_rebuild(since)
        _advance(state, watermark)
    # A whole rebuild rewrote every row (2.2M at 1M customers): until vacuumed, each band's query
    # read the dead versions too (the customers dashboard took 0.23 instead of 0.08 s for 12 months).
    if since is None or rows >= VACUUM_AFTER_ROWS:
        vacuum_analyze(PeriodRevenue)


def _customer_rollup_refresh(metric: str, rebuild, full: bool, watermark, written: dict[str, int]) -> None:
    state, _ = RollupState.objects.get_or_create(metric=metric)
    with transaction.atomic():
        written[metric] = rebuild(None if full or not state.watermark else state.watermark)
        _advance(state, watermark)


def _family_refresh(family, full: bool, watermark, written: dict[str, int]) -> None:
    state, _ = RollupState.objects.get_or_create(metric=family.metric)
    days = None
    if family.dirty_events is not None and state.watermark and not full:
        days = rollups.dirty_days(family, state.watermark)
        if not days:
            written[family.metric] = 0
            _advance(state, watermark)
            return
    with transaction.atomic():
        written[family.metric] = rollups.rebuild(family, days)
        _advance(state, watermark, days_refreshed=len(days) if days else 0)


def customer_risk_refresh() -> int:
    """Recompute every current customer's churn-risk score (with their dashboard dimensions)."""
    scores = risk.compute_scores()
    # The dashboard dimensions of every customer (one pass; far fewer parameters than an IN list).
    dimensions = Customer.objects.values_list("pk", "owner_id", "country", "attributes__segment")
    now = timezone.now()
    make = instance_maker(CustomerRisk)  # a million rows: not through Model.__init__ and its signals
    with transaction.atomic():
        CustomerRisk.objects.all().delete()
        bulk_insert(
            (
                make(
                    customer_id=cid,
                    score=scores[cid][0],
                    reasons=scores[cid][1],
                    updated_at=now,
                    owner_id=owner_id or 0,
                    country=country or "",
                    segment=str(segment or "")[:40],
                )
                for cid, owner_id, country, segment in dimensions.iterator(chunk_size=BATCH)
                if cid in scores
            ),
        )
        # The chart's counts per band, in the same transaction: readers see both or neither.
        _family_refresh(rollups.RISK_POINTS, True, now, {})
    return len(scores)


# --- Listening ----------------------------------------------------------------------------------------
def messages_collect() -> int:
    """Store new customer texts with their language and sentiment; return how many were new."""
    cache: dict[str, tuple[float, str]] = {}
    batch: list[ListenedMessage] = []
    created = 0
    for item in new_texts():
        if item.text not in cache:
            language = language_of(item.text)  # once: the sentiment reads the text in its language
            cache[item.text] = (sentiment.score(item.text, language), language)
        score, language = cache[item.text]
        batch.append(
            ListenedMessage(
                source=item.source,
                source_id=item.source_id,
                customer_id=item.customer_id,
                occurred_at=item.occurred_at,
                text=item.text,
                url=item.url,
                language=language,
                sentiment=score,
            )
        )
        if len(batch) >= BATCH:
            bulk_insert(batch, ignore_conflicts=True)
            created += len(batch)
            batch = []
    if batch:
        bulk_insert(batch, ignore_conflicts=True)
        created += len(batch)
    return created


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def topics_refresh(
    *, today: date | None = None, n_topics: int = 10, seed: int = 0, run_id: int = 0
) -> list[Topic]:
    """Find the topics of the last year's messages, assign each message, and flag rising topics
    (share of the last 30 days against the 30 days before)."""
    today = today or timezone.localdate()
    period_end = _start_of(today + timedelta(days=1))
    current_start = period_end - timedelta(days=PERIOD_DAYS)
    previous_start = current_start - timedelta(days=PERIOD_DAYS)
    window = ListenedMessage.objects.filter(
        occurred_at__gte=period_end - timedelta(days=TOPIC_WINDOW_DAYS), occurred_at__lt=period_end
    )
    rows = list(window.values_list("pk", "text"))
    result = find_topics([t for _pk, t in rows], n_topics=n_topics, seed=seed)
    labels = _topic_labels(result, [t for _pk, t in rows])
    with transaction.atomic():
        named = list(Topic.objects.filter(label_is_custom=True))
        Topic.objects.all().delete()  # messages keep existing; their topic becomes empty
        topics = Topic.objects.bulk_create(
            [
                Topic(run_id=run_id, number=i, label=labels[i][:200], terms=terms, period_end=today)
                for i, terms in enumerate(result.terms)
            ]
        )
        _keep_manager_labels(named, topics)
        update_rows(
            ListenedMessage,
            ["topic_id", "topic_weight"],
            (
                (pk, topics[int(index)].pk, round(float(weight), 2))
                for (pk, _text), index, weight in zip(rows, result.assignment, result.weight, strict=True)
                if index >= 0
            ),
        )
        _topic_statistics(topics, window, current_start, previous_start, period_end)
    return topics


def _topic_labels(result, texts: list[str]) -> list[str]:
    """Each topic's top phrase among its messages (a sample of 2,000), else its top terms."""
    by_topic: dict[int, list[str]] = defaultdict(list)
    for text, index in zip(texts, result.assignment, strict=True):
        if index >= 0 and len(by_topic[int(index)]) < 2000:
            by_topic[int(index)].append(text)
    return [top_phrase(by_topic[i], terms) or result.labels[i] for i, terms in enumerate(result.terms)]


def _keep_manager_labels(named: list[Topic], topics: list[Topic]) -> None:
    """A name a manager gave passes to the new topic whose terms are most like the old one's (at
    least half of them shared), so a rerun does not undo the manager's work."""
    taken = set()
    for old in named:
        scored = [(old.similarity(t.terms), t) for t in topics if t.pk not in taken]
        score, best = max(scored, key=lambda st: st[0], default=(0.0, None))
        if best is not None and score >= 0.5:
            best.label, best.label_is_custom = old.label, True
            taken.add(best.pk)
    changed = [t for t in topics if t.pk in taken]
    if changed:
        Topic.objects.bulk_update(changed, ["label", "label_is_custom"])


def topic_rename(*, topic: Topic, label: str, user) -> Topic:
    """A manager names a topic; an empty name returns it to the phrase the run found."""
    label = " ".join(label.split())[:200]
    if label:
        topic.label, topic.label_is_custom = label, True
    else:
        topic.label_is_custom = False
        texts = list(topic.message_set.values_list("text", flat=True)[:2000])
        topic.label = (top_phrase(texts, topic.terms) or topic.keywords)[:200]
    topic.save(update_fields=["label", "label_is_custom"])
    return topic


def _topic_statistics(topics: list[Topic], window, current_start, previous_start, period_end) -> None:
    current = Q(occurred_at__gte=current_start, occurred_at__lt=period_end)
    previous = Q(occurred_at__gte=previous_start, occurred_at__lt=current_start)
    totals = window.aggregate(cur=Count("id", filter=current), prev=Count("id", filter=previous))
    stats = {
        r["topic"]: r
        for r in window.filter(topic__isnull=False)
        .values("topic")
        .annotate(
            n=Count("id"),
            customers=Count("customer", distinct=True),
            cur=Count("id", filter=current),
            prev=Count("id", filter=previous),
            mood=Avg("sentiment"),
        )
        .order_by()
    }
    for topic in topics:
        row = stats.get(topic.pk, {})
        test = rising_test(row.get("cur", 0), totals["cur"], row.get("prev", 0), totals["prev"])
        topic.messages, topic.customers = row.get("n", 0), row.get("customers", 0)
        topic.count_current, topic.count_previous = row.get("cur", 0), row.get("prev", 0)
        topic.share_current, topic.share_previous = test.share_current, test.share_previous
        topic.z_score, topic.is_rising = round(test.z, 2), test.is_rising
        topic.avg_sentiment = round(row.get("mood") or 0.0, 3)
    Topic.objects.bulk_update(
        topics,
        ["messages", "customers", "count_current", "count_previous", "share_current", "share_previous",
         "z_score", "is_rising", "avg_sentiment"],
    )  # fmt: skip
    weekly_totals = {
        _as_date(r["week"]): r["n"]
        for r in window.annotate(week=TruncWeek("occurred_at"))
        .values("week")
        .annotate(n=Count("id"))
        .order_by()
    }
    trends = []
    for r in (
        window.filter(topic__isnull=False)
        .annotate(week=TruncWeek("occurred_at"))
        .values("topic", "week")
        .annotate(n=Count("id"))
        .order_by()
    ):
        week = _as_date(r["week"])
        trends.append(
            TopicTrend(topic_id=r["topic"], week=week, count=r["n"], share=r["n"] / weekly_totals[week])
        )
    bulk_insert(trends)


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def customer_sentiment_refresh(*, today: date | None = None) -> int:
    """Mean message sentiment per customer over the last year (the NBA reads this table)."""
    today = today or timezone.localdate()
    since = _start_of(today) - timedelta(days=SENTIMENT_WINDOW_DAYS)
    now = timezone.now()
    rows = (
        ListenedMessage.objects.filter(occurred_at__gte=since)
        .values("customer")
        .annotate(
            score=Avg("sentiment"),
            n=Count("id"),
            negative=Count("id", filter=Q(sentiment__lt=NEGATIVE)),
            last=Max("occurred_at"),
        )
        .order_by()
    )
    with transaction.atomic():
        CustomerSentiment.objects.all().delete()
        objects = (
            CustomerSentiment(
                customer_id=r["customer"],
                score=round(r["score"] or 0.0, 4),
                messages=r["n"],
                negative=r["negative"],
                last_message_at=r["last"],
                updated_at=now,
            )
            for r in rows.iterator(chunk_size=BATCH)
        )
        created = list(objects)
        bulk_insert(created)
    return len(created)


def listening_refresh(*, today: date | None = None, n_topics: int = 10, seed: int = 0, user=None) -> Job:
    """The whole listening run as a visible Job: collect, topics, rising, sentiment per customer."""
    job = Job.objects.create(kind="analytics.listening", label="Listening run", status=Job.Status.RUNNING,
                             total=3, started_at=timezone.now(), created_by=user)  # fmt: skip
    try:
        new = messages_collect()
        job.advance()
        topics = topics_refresh(today=today, n_topics=n_topics, seed=seed, run_id=job.pk)
        job.advance()
        customers = customer_sentiment_refresh(today=today)
    except Exception as exc:
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    result = {"new_messages": new, "topics": len(topics), "rising": sum(t.is_rising for t in topics),
              "customers": customers}  # fmt: skip
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.DONE, done=3, result=result, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


# --- Ticket categories --------------------------------------------------------------------------------
def _model_dir() -> Path:
    folder = Path(settings.VAR_DIR) / "models" / "analytics"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _training_data(limit: int = 20000) -> tuple[list[str], list[str]]:
    """The newest categorised tickets (a category an agent corrected is the ticket's category now).

    Identical texts count once, with their most frequent category: templated tickets with mixed
    labels would otherwise make the SVM crawl towards an impossible separation.
    """
    rows = Ticket.objects.order_by("-opened_at", "-id").values_list("subject", "description", "category")[
        :limit
    ]
    labels_of: dict[str, Counter] = defaultdict(Counter)
    for subject, description, category in rows:
        labels_of[f"{subject}. {description}".strip()][category] += 1
    texts = list(labels_of)
    return texts, [labels_of[t].most_common(1)[0][0] for t in texts]


def ticket_categories_train(*, force: bool = False) -> CategoryModelVersion | None:
    """Train a new classifier version when the categorised tickets changed; None when there are too
    few tickets or categories. The file is written atomically (temp file + rename)."""
    texts, labels = _training_data()
    if len(texts) < MIN_TRAINING_TICKETS or len(set(labels)) < 2:
        return None
    digest = hashlib.sha256(
        "\x1e".join(f"{t}\x1f{lb}" for t, lb in zip(texts, labels, strict=True)).encode()
    ).hexdigest()
    latest = CategoryModelVersion.objects.order_by("-version").first()
    if latest and latest.data_hash == digest and not force and Path(latest.path).exists():
        return latest
    # A hold-out of every fifth ticket measures the accuracy; the stored model uses all of them.
    held = np.arange(len(texts)) % 5 == 0
    accuracy = None
    if held.sum() >= 5 and len(set(np.asarray(labels)[~held])) >= 2:
        probe = categorise.train(list(np.asarray(texts)[~held]), list(np.asarray(labels)[~held]))
        accuracy = float(np.mean(probe.predict(list(np.asarray(texts)[held])) == np.asarray(labels)[held]))
    pipeline = categorise.train(texts, labels)
    version = (latest.version + 1) if latest else 1
    path = _model_dir() / f"ticket_categories_v{version}.joblib"
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    joblib.dump(pipeline, temporary)
    os.replace(temporary, path)
    return CategoryModelVersion.objects.create(
        version=version, path=str(path), n=len(texts), accuracy=accuracy,
        labels=sorted(set(labels)), data_hash=digest,
    )  # fmt: skip


def _load(version: CategoryModelVersion):
    return joblib.load(version.path)


def tickets_suggest_categories(*, ticket_ids: list[int] | None = None, limit: int = 2000) -> int:
    """Store a suggested category for tickets that have none yet (or for ``ticket_ids``)."""
    version = CategoryModelVersion.objects.order_by("-version").first()
    if version is None or not Path(version.path).exists():
        version = ticket_categories_train()
        if version is None:
            return 0
    # NOT EXISTS rather than NOT IN: an anti-join stays linear once the suggestions outgrow work_mem.
    tickets = Ticket.objects.filter(~Exists(SuggestedCategory.objects.filter(ticket_id=OuterRef("pk"))))
    if ticket_ids is not None:
        tickets = tickets.filter(pk__in=ticket_ids)
    rows = list(tickets.order_by("-opened_at").values_list("pk", "subject", "description")[:limit])
    if not rows:
        return 0
    labels, confidences = categorise.predict_with_confidence(
        _load(version), [f"{s}. {d}".strip() for _pk, s, d in rows]
    )
    SuggestedCategory.objects.bulk_create(
        [
            SuggestedCategory(
                ticket_id=pk, suggested=label, confidence=round(conf, 4), model_version=version.version
            )
            for (pk, _s, _d), label, conf in zip(rows, labels, confidences, strict=True)
        ],
        ignore_conflicts=True,
    )
    return len(rows)


def suggestion_decide(*, ticket: Ticket, category: str, user) -> SuggestedCategory:
    """The agent accepts the suggestion or picks another category: the ticket gets it (through the
    crm service), and a differing choice is kept as a correction (training data)."""
    if category not in Ticket.Category.values:
        raise ValidationError({"category": ["Unknown category."]})
    suggestion = SuggestedCategory.objects.filter(ticket=ticket).first()
    if ticket.category != category:
        ticket_update(ticket=ticket, user=user, category=category)
    if suggestion is None:
        suggestion = SuggestedCategory.objects.create(ticket=ticket, suggested=category, confidence=0)
    if category != suggestion.suggested:
        suggestion.corrected_to = category
        suggestion.corrected_by = user if getattr(user, "is_authenticated", False) else None
        suggestion.corrected_at = timezone.now()
        suggestion.save(update_fields=["corrected_to", "corrected_by", "corrected_at"])
    return suggestion


def suggestions_sync_corrections() -> int:
    """Suggestions whose ticket got another category in the ticket form count as corrected too."""
    changed = 0
    rows = SuggestedCategory.objects.filter(corrected_to="").select_related("ticket")
    for suggestion in rows.exclude(ticket__category=F("suggested")).iterator(chunk_size=BATCH):
        suggestion.corrected_to = suggestion.ticket.category
        suggestion.corrected_at = timezone.now()
        suggestion.save(update_fields=["corrected_to", "corrected_at"])
        changed += 1
    return changed


def suggestion_accuracy() -> dict[str, float | int]:
    """How often suggestions were right, over suggestions whose tickets are categorised by now."""
    counts = SuggestedCategory.objects.aggregate(
        total=Count("pk"), corrected=Count("pk", filter=~Q(corrected_to=""))
    )
    total = counts["total"]
    return {
        "total": total,
        "corrected": counts["corrected"],
        "accepted_share": (total - counts["corrected"]) / total if total else 0.0,
    }
