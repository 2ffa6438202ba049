"""Each user's calendar feed: follow-ups and SLA due times as ICS (icalendar) behind a secret URL.

Calendar apps poll a URL and cannot sign in, so the URL carries a secret (only its hash is kept, like
API tokens). The account page creates one (replacing the previous) and revokes it; a revoked or
unknown secret answers 404. The apps contribute the entries through ``registry.calendar_sources``,
so the core lists follow-ups without importing crm."""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from icalendar import Calendar, Event

from customer360.models import CalendarFeedToken, Customer
from customer360.registry import calendar_sources

logger = logging.getLogger(__name__)

FEED_PREFIX = "c360cal_"
PAST_DAYS = 30  # overdue follow-ups of the last month stay visible in the calendar


def _hash(secret: str) -> str:
    # 256 random bits: a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(secret.encode()).hexdigest()


def calendar_feed_create(*, user) -> tuple[CalendarFeedToken, str]:
    """A new feed secret for ``user``; the previous one stops working (one feed URL per user)."""
    calendar_feed_revoke(user=user)
    secret = FEED_PREFIX + secrets.token_urlsafe(32)
    token = CalendarFeedToken.objects.create(
        user=user, prefix=secret[: len(FEED_PREFIX) + 6], token_hash=_hash(secret)
    )
    logger.info("calendar feed %s created for user %s", token.pk, user.pk)
    return token, secret


def calendar_feed_revoke(*, user) -> int:
    """Every active feed URL of ``user`` answers 404 from now on."""
    count = CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if count:
        logger.info("calendar feed of user %s revoked", user.pk)
    return count


def feed_token_for(secret: str) -> CalendarFeedToken | None:
    if not secret.startswith(FEED_PREFIX):
        return None
    return (
        CalendarFeedToken.objects.select_related("user")
        .filter(token_hash=_hash(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def calendar_for(user, *, now: datetime.datetime | None = None, absolute=str) -> Calendar:
    """The user's follow-ups and due times, about customers the user may still see; ``absolute``
    turns the entries' paths into full URLs."""
    now = now or timezone.now()
    since = now - datetime.timedelta(days=PAST_DAYS)
    customers = Customer.objects.visible_to(user)
    calendar = Calendar()
    calendar.add("prodid", "-//Customer 360//calendar feed//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", _("Customer 360: my follow-ups"))
    for source in calendar_sources.all():
        for entry in source.entries(user, customers, since):
            calendar.add_component(_event(entry, now, absolute))
    return calendar


def _event(entry, now: datetime.datetime, absolute) -> Event:
    event = Event()
    event.add("uid", entry.uid)
    event.add("dtstamp", now)
    event.add("summary", entry.summary)
    event.add("dtstart", entry.start)
    if isinstance(entry.start, datetime.datetime):
        event.add("dtend", entry.start + datetime.timedelta(minutes=entry.minutes))
    else:
        event.add("dtend", entry.start + datetime.timedelta(days=1))
    if entry.url:
        event.add("url", absolute(entry.url))
    if entry.description:
        event.add("description", entry.description)
    return event


@login_not_required
@never_cache
@require_GET
def feed(request: HttpRequest, secret: str) -> HttpResponse:
    """The ICS file; the secret is the credential, anything but an active one is 404."""
    token = feed_token_for(secret)
    if token is None:
        raise Http404
    CalendarFeedToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    body = calendar_for(token.user, absolute=request.build_absolute_uri).to_ical()
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="customer360.ics"'
    return response


@login_required
@never_cache
def feed_page(request: HttpRequest) -> HttpResponse:
    """GET: whether a feed is active; POST: a new feed URL, shown this once."""
    url = None
    if request.method == "POST":
        _token, secret = calendar_feed_create(user=request.user)
        url = request.build_absolute_uri(reverse("calendar_feed", args=[secret]))
    active = request.user.calendar_feeds.filter(revoked_at__isnull=True).first()
    return render(request, "customer360/calendar_feed.html", {"active": active, "feed_url": url})


@login_required
@require_POST
def feed_revoke(request: HttpRequest) -> HttpResponse:
    if calendar_feed_revoke(user=request.user):
        messages.success(request, _("The calendar feed is revoked; its address no longer works."))
    return redirect("customer360:calendar_feed_page")
