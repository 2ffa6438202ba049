"""Internal 'listening' for managers: who takes part, who asks whom, how fast answers come, and
which topics grow inside the company and in customer communication.

Counts come from database aggregates; medians from one column per department (the ORM has no
portable median). Texts are read like customer texts in listening: the same tokens and stop words
(customer360.words), customer messages from listening's analysed messages (ListenedMessage, the
customers' own words rather than the timeline's titles). Rising terms use growth and TF-IDF rather
than listening's significance test: a feed has a few dozen posts a fortnight, too few for a z-test.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Avg, Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext

from analytics.models import ListenedMessage
from collab import departments
from collab.models import Comment, DepartmentRequest, Post
from collab.services import department_members
from customer360 import words
from customer360.formatting import plotly_locale

_REFERENCE = re.compile(r"#C-\d+|@\S+")


def tokens(text: str) -> set[str]:
    """The distinct content words of a text (folded, without stop words, references and short words),
    read the same way as customer texts are in listening (customer360.words)."""
    text = _REFERENCE.sub(" ", text or "")
    stop = words.stop_words(words.language_of(text))
    return {w for w in words.tokens(text) if w not in stop and len(w) >= 4}


@dataclass(frozen=True)
class Trend:
    term: str
    recent: int
    previous: int
    score: float

    @property
    def growth(self) -> float:
        return (self.recent + 1) / (self.previous + 1)


def trending_terms(
    recent: Iterable[str], previous: Iterable[str], *, limit: int = 10, min_count: int = 2
) -> list[Trend]:
    """Terms whose document frequency rose from the previous period to the recent one.

    Score = recent share x IDF over both periods x growth, so that common words which merely
    stay common do not trend.
    """
    recent_docs = [tokens(t) for t in recent]
    previous_docs = [tokens(t) for t in previous]
    n_recent, n_total = max(len(recent_docs), 1), len(recent_docs) + len(previous_docs)
    recent_df = Counter(w for doc in recent_docs for w in doc)
    previous_df = Counter(w for doc in previous_docs for w in doc)
    trends = []
    for term, count in recent_df.items():
        before = previous_df.get(term, 0)
        growth = (count + 1) / (before + 1)
        if count < min_count or growth < 1.5:
            continue
        idf = math.log((1 + n_total) / (1 + count + before)) + 1
        trends.append(Trend(term, count, before, round(count / n_recent * idf * growth, 4)))
    trends.sort(key=lambda t: (-t.score, t.term))
    return trends[:limit]


def _median_hours(values: list[int]) -> float | None:
    return round(statistics.median(values) / 3600, 2) if values else None


@dataclass
class FeedAnalytics:
    """Everything the analytics page shows, as plain numbers (tests check them)."""

    since: datetime
    participation_by_department: dict
    participation_by_role: dict
    managers_taking_part: dict
    asks: dict
    answers: dict
    times_by_department: dict
    trending: list[Trend]
    customer_trending: list[Trend]
    shared_topics: list[str]


def participation(since: datetime) -> tuple[dict, dict, dict]:
    """Posts, comments and distinct people per department and per role since ``since``."""
    by_dept: dict[str, dict] = {}
    by_role: dict[str, dict] = {}
    for model, key in ((Post, "posts"), (Comment, "comments")):
        rows = (
            model.objects.filter(created_at__gte=since)
            .values("author_department", "author_role")
            .annotate(n=Count("id"), people=Count("author", distinct=True))
        )
        for row in rows:
            for table, group in (
                (by_dept, row["author_department"] or "-"),
                (by_role, row["author_role"] or "-"),
            ):
                entry = table.setdefault(group, {"posts": 0, "comments": 0, "people": set()})
                entry[key] += row["n"]
    # Distinct people need the ids (one person may both post and comment).
    for model in (Post, Comment):
        for dept, role, author in (
            model.objects.filter(created_at__gte=since)
            .values_list("author_department", "author_role", "author_id")
            .distinct()
        ):
            by_dept[dept or "-"]["people"].add(author)
            by_role[role or "-"]["people"].add(author)
    for table in (by_dept, by_role):
        for entry in table.values():
            entry["people"] = len(entry["people"])
    managers_total = department_members([departments.MANAGEMENT]).count()
    managers_active = by_role.get(departments.ROLE_OF_DEPARTMENT[departments.MANAGEMENT], {}).get("people", 0)
    managers = {
        "active": managers_active,
        "total": managers_total,
        "share": round(managers_active / managers_total, 2) if managers_total else 0.0,
    }
    return by_dept, by_role, managers


def network(since: datetime) -> tuple[dict, dict]:
    """Who asks whom (requests from -> to) and who answers whom (commenter's -> asker's department)."""
    asks: dict[str, dict[str, int]] = {}
    for row in (
        DepartmentRequest.objects.filter(created_at__gte=since)
        .values("from_department", "to_department")
        .annotate(n=Count("id"))
    ):
        asks.setdefault(row["from_department"] or "-", {})[row["to_department"]] = row["n"]
    answers: dict[str, dict[str, int]] = {}
    for row in (
        Comment.objects.filter(created_at__gte=since)
        .exclude(author=F("post__author"))
        .values("author_department", "post__author_department")
        .annotate(n=Count("id"))
    ):
        answers.setdefault(row["author_department"] or "-", {})[row["post__author_department"] or "-"] = row[
            "n"
        ]
    return asks, answers


def response_times(since: datetime) -> dict:
    """Per receiving department: requests, answered, resolved, median and mean hours."""
    result: dict[str, dict] = {}
    for row in (
        DepartmentRequest.objects.filter(created_at__gte=since)
        .values("to_department")
        .annotate(
            requests=Count("id"),
            answered=Count("id", filter=Q(first_answered_at__isnull=False)),
            resolved=Count("id", filter=Q(status=DepartmentRequest.Status.RESOLVED)),
            mean_first=Avg("first_answer_seconds"),
            mean_resolution=Avg("resolution_seconds"),
        )
    ):
        result[row["to_department"]] = {
            "requests": row["requests"],
            "answered": row["answered"],
            "resolved": row["resolved"],
            "mean_first_answer_hours": round(row["mean_first"] / 3600, 2) if row["mean_first"] else None,
            "mean_resolution_hours": round(row["mean_resolution"] / 3600, 2)
            if row["mean_resolution"]
            else None,
        }
    firsts: dict[str, list[int]] = {}
    resolutions: dict[str, list[int]] = {}
    for dept, first, resolution in DepartmentRequest.objects.filter(created_at__gte=since).values_list(
        "to_department", "first_answer_seconds", "resolution_seconds"
    ):
        if first is not None:
            firsts.setdefault(dept, []).append(first)
        if resolution is not None:
            resolutions.setdefault(dept, []).append(resolution)
    for dept, entry in result.items():
        entry["median_first_answer_hours"] = _median_hours(firsts.get(dept, []))
        entry["median_resolution_hours"] = _median_hours(resolutions.get(dept, []))
    return result


def _internal_texts(start: datetime, end: datetime) -> list[str]:
    posts = Post.objects.filter(created_at__gte=start, created_at__lt=end, is_hidden=False).values_list(
        "body", "topic"
    )
    comments = Comment.objects.filter(created_at__gte=start, created_at__lt=end).values_list(
        "body", flat=True
    )
    return [f"{body} {topic}" for body, topic in posts] + list(comments)


def _customer_texts(start: datetime, end: datetime, cap: int = 20000) -> list[str]:
    return list(
        ListenedMessage.objects.filter(occurred_at__gte=start, occurred_at__lt=end).values_list(
            "text", flat=True
        )[:cap]
    )


def compute(*, now: datetime | None = None, days: int = 90, trend_days: int = 14) -> FeedAnalytics:
    """All figures for the analytics page (about a dozen queries, independent of data volume)."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    by_dept, by_role, managers = participation(since)
    asks, answers = network(since)
    recent_start, previous_start = now - timedelta(days=trend_days), now - timedelta(days=2 * trend_days)
    trending = trending_terms(
        _internal_texts(recent_start, now), _internal_texts(previous_start, recent_start), limit=30
    )
    customer_trending = trending_terms(
        _customer_texts(recent_start, now), _customer_texts(previous_start, recent_start), limit=30
    )
    inside = {t.term for t in trending}
    shared = [t.term for t in customer_trending if t.term in inside]
    return FeedAnalytics(
        since=since,
        participation_by_department=by_dept,
        participation_by_role=by_role,
        managers_taking_part=managers,
        asks=asks,
        answers=answers,
        times_by_department=response_times(since),
        trending=trending[:10],
        customer_trending=customer_trending[:10],
        shared_topics=shared,
    )


def _figure_spec(figure) -> dict:
    """The figure as plain JSON for the page's ``json_script`` block; c360/charts.js draws it with
    the local plotly.js (no inline script, so the page keeps a strict Content-Security-Policy)."""
    return {"figure": json.loads(figure.to_json()), "config": {"displaylogo": False, "responsive": True}}


def network_figure(asks: dict) -> dict | None:
    """A Sankey diagram 'who asks whom' (plotly.js is loaded by the page)."""
    import plotly.graph_objects as go

    keys = [k for k in departments.KEYS if k in asks or any(k in row for row in asks.values())]
    if not keys:
        return ""
    labels = [str(departments.LABELS[k]) for k in keys]
    # Askers on the left, receivers on the right: the same department appears on both sides.
    n = len(keys)
    source, target, value = [], [], []
    for i, src in enumerate(keys):
        for j, dst in enumerate(keys):
            count = asks.get(src, {}).get(dst, 0)
            if count:
                source.append(i)
                target.append(n + j)
                value.append(count)
    figure = go.Figure(
        go.Sankey(
            node={"label": labels + labels, "pad": 18, "thickness": 14},
            link={"source": source, "target": target, "value": value},
        )
    )
    figure.update_layout(
        margin={"l": 10, "r": 10, "t": 10, "b": 10}, height=360, separators=plotly_locale()["separators"]
    )
    return _figure_spec(figure)


def participation_figure(by_dept: dict) -> dict | None:
    import plotly.graph_objects as go

    keys = [k for k in departments.KEYS if k in by_dept]
    if not keys:
        return ""
    labels = [str(departments.LABELS[k]) for k in keys]
    figure = go.Figure(
        [
            go.Bar(name=gettext("Posts"), x=labels, y=[by_dept[k]["posts"] for k in keys]),
            go.Bar(name=gettext("Answers"), x=labels, y=[by_dept[k]["comments"] for k in keys]),
        ]
    )
    figure.update_layout(
        barmode="stack",
        margin={"l": 30, "r": 10, "t": 10, "b": 30},
        height=300,
        separators=plotly_locale()["separators"],
    )
    return _figure_spec(figure)
