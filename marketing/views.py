"""Marketing pages: campaigns, segments with a live count, consent per customer. Thin views."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from customer360 import access, conditions, exports
from customer360.conditions import RuleError
from customer360.customer_list import customer_table
from customer360.models import Customer
from customer360.text import whole_number
from marketing import forms, services
from marketing.models import Campaign, Consent, ConsentChange, Segment, Touch, segment_members
from marketing.privacy import consent_proof, proof_csv

PAGE_SIZE = 50


def _error_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _after(request: HttpRequest) -> int | None:
    value = request.GET.get("after", "")
    return whole_number(value)


# --- Campaigns -------------------------------------------------------------------------------------
def campaign_list(request: HttpRequest) -> HttpResponse:
    """Campaigns newest first with their funnel; filter by status and channel; keyset pages."""
    access.require(request.user, "marketing.view_campaign")
    campaigns = Campaign.objects.with_funnel().select_related("audience").order_by("-id")
    status, channel = request.GET.get("status", ""), request.GET.get("channel", "")
    if status:
        campaigns = campaigns.filter(status=status)
    if channel:
        campaigns = campaigns.filter(channel=channel)
    fmt = exports.requested_format(request)
    if fmt:  # counts per campaign, no person in it: not an access-logged export
        header, rows = campaign_table(campaigns)
        return exports.export_response(rows, header, "campaigns", fmt)
    after = _after(request)
    if after:
        campaigns = campaigns.filter(id__lt=after)
    page = list(campaigns[: PAGE_SIZE + 1])
    return render(
        request,
        "marketing/campaign_list.html",
        {
            "campaigns": page[:PAGE_SIZE],
            "next_after": page[PAGE_SIZE - 1].id if len(page) > PAGE_SIZE else None,
            "status": status,
            "channel": channel,
            "statuses": Campaign.Status.choices,
            "channels": Campaign._meta.get_field("channel").choices,
            "funnel_statuses": Touch.Status.choices,
        },
    )


def campaign_table(campaigns) -> tuple[list[str], object]:
    """Every campaign of the filtered list with its funnel, for the export (counts stay numbers)."""
    header = [
        _("Name"),
        _("Channel"),
        _("Purpose"),
        _("Status"),
        _("Audience"),
        _("Start"),
        _("End"),
        *[str(label) for _value, label in Touch.Status.choices],
    ]
    rows = (
        [
            c.name,
            c.get_channel_display(),
            c.get_purpose_display(),
            c.get_status_display(),
            c.audience.name if c.audience else "",
            c.starts_at,
            c.ends_at,
            *[getattr(c, f"n_{status}") for status in Touch.Status.values],
        ]
        for c in campaigns.iterator(chunk_size=2000)
    )
    return header, rows


def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Funnel, audience size now, the latest touches of customers the user may see."""
    access.require(request.user, "marketing.view_campaign")
    campaign = get_object_or_404(Campaign.objects.with_funnel().select_related("audience"), pk=pk)
    funnel = [
        {"status": value, "label": label, "count": getattr(campaign, f"n_{value}")}
        for value, label in Touch.Status.choices
    ]
    sent = campaign.n_sent or 0
    for step in funnel:
        step["percent"] = round(100 * step["count"] / sent) if sent else 0
    touches = (
        Touch.objects.filter(campaign=campaign, customer__in=Customer.objects.visible_to(request.user))
        .select_related("customer")
        .order_by("-occurred_at", "-id")[:PAGE_SIZE]
    )
    return render(
        request,
        "marketing/campaign_detail.html",
        {
            "campaign": campaign,
            "funnel": funnel,
            "audience_size": services.campaign_audience(campaign).count() if campaign.is_editable else None,
            "touches": touches,
            "can_change": request.user.has_perm("marketing.change_campaign"),
            "can_send": request.user.has_perm("marketing.add_touch"),
            "add_form": forms.AddRecipientForm(),
        },
    )


def campaign_create(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "marketing.add_campaign")
    form = forms.CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        campaign = services.campaign_create(actor=request.user, **form.cleaned_data)
        messages.success(request, _("Campaign created as a draft."))
        return redirect(campaign)
    return render(request, "marketing/campaign_form.html", {"form": form, "campaign": None})


def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    access.require(request.user, "marketing.change_campaign")
    campaign = get_object_or_404(Campaign, pk=pk)
    if not campaign.is_editable:
        raise PermissionDenied(_("Only draft or scheduled campaigns can be edited."))
    form = forms.CampaignForm(request.POST or None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Campaign saved."))
        return redirect(campaign)
    return render(request, "marketing/campaign_form.html", {"form": form, "campaign": campaign})


@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Schedule, launch, complete or cancel; a refused transition is shown as a message."""
    access.require(request.user, "marketing.change_campaign")
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        if action == "launch":
            access.require(request.user, "marketing.add_touch")
            sent = services.campaign_launch(campaign=campaign, actor=request.user)
            messages.success(request, _("Campaign launched: sent to %(n)s customers.") % {"n": sent})
        elif action == "schedule":
            services.campaign_schedule(campaign=campaign)
            messages.success(request, _("Campaign scheduled."))
        elif action == "complete":
            services.campaign_complete(campaign=campaign)
            messages.success(request, _("Campaign completed."))
        elif action == "cancel":
            services.campaign_cancel(campaign=campaign)
            messages.success(request, _("Campaign cancelled."))
        else:
            raise Http404
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    return redirect(campaign)


@require_POST
def campaign_add_customer(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the campaign to one more customer, refused without consent."""
    access.require(request.user, "marketing.add_touch")
    campaign = get_object_or_404(Campaign, pk=pk)
    form = forms.AddRecipientForm(request.POST)
    if form.is_valid():
        customer = (
            Customer.objects.visible_to(request.user)
            .filter(customer_number=form.cleaned_data["customer_number"].strip())
            .first()
        )
        if customer is None:
            messages.error(request, _("No customer with this number."))
        else:
            try:
                _touch, created = services.touch_record(
                    campaign=campaign, customer=customer, status=Touch.Status.SENT, actor=request.user
                )
                messages.success(request, _("Sent.") if created else _("Already sent to this customer."))
            except ValidationError as exc:
                messages.error(request, _("Not sent: %(reason)s") % {"reason": _error_text(exc)})
    return redirect(campaign)


# --- Segments --------------------------------------------------------------------------------------
def segment_list(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "marketing.view_segment")
    segments = Segment.objects.order_by("name", "id")
    return render(
        request,
        "marketing/segment_list.html",
        {"segments": segments, "can_add": request.user.has_perm("marketing.add_segment")},
    )


def _editor_context(request, form, segment, rules, errors=None) -> dict:
    rows = [*rules, *[{"field": "", "op": "eq", "value": ""} for _ in range(2)]]
    return {
        "form": form,
        "segment": segment,
        "rows": rows,
        "conditions": forms.condition_options(),
        "next_index": len(rows),
        "errors": errors or [],
        "can_change": request.user.has_perm(
            "marketing.change_segment" if segment else "marketing.add_segment"
        ),
    }


def segment_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """The editor: fields, rule rows, the live count (htmx) and save."""
    segment = get_object_or_404(Segment, pk=pk) if pk else None
    access.require(request.user, "marketing.view_segment" if segment else "marketing.add_segment")
    form = forms.SegmentForm(request.POST or None, instance=segment)
    rules = segment.rules if segment else []
    errors: list[str] = []
    if request.method == "POST":
        access.require(request.user, "marketing.change_segment" if segment else "marketing.add_segment")
        rules = forms.rules_from_data(request.POST)
        try:
            conditions.to_q(rules)  # validates every rule (and builds it) without running a query
        except RuleError as exc:
            errors = exc.messages
        if form.is_valid() and not errors:
            saved = form.save(commit=False)
            saved.rules = rules
            if not saved.created_by_id:
                saved.created_by = request.user
            saved.save()
            messages.success(request, _("Segment saved."))
            return redirect(saved)
    return render(
        request, "marketing/segment_form.html", _editor_context(request, form, segment, rules, errors)
    )


def segment_count(request: HttpRequest) -> HttpResponse:
    """htmx: the number of customers the editor's current rules select (or what is wrong)."""
    access.require(request.user, "marketing.view_segment")
    data = request.POST if request.method == "POST" else request.GET
    rules = forms.rules_from_data(data)
    channel, purpose = data.get("requires_channel", ""), data.get("requires_purpose", "")
    required = (channel, purpose) if channel and purpose else None
    try:
        count = segment_members(
            rules=rules,
            match="any" if data.get("match") == "any" else "all",
            required_consent=required,
            base=Customer.objects.visible_to(request.user),
        ).count()
        errors = []
    except RuleError as exc:
        count, errors = None, exc.messages
    return render(request, "marketing/_segment_count.html", {"count": count, "errors": errors})


def rule_row(request: HttpRequest) -> HttpResponse:
    """htmx: one more empty rule row."""
    access.require(request.user, "marketing.view_segment")
    index = request.GET.get("index", "0")
    index = min(whole_number(index) or 0, forms.MAX_RULE_ROWS - 1)
    return render(
        request,
        "marketing/_rule_row.html",
        {
            "row": {"field": "", "op": "eq", "value": ""},
            "index": index,
            "conditions": forms.condition_options(),
        },
    )


def segment_members_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The first 50 members the user may see, then keyset pages ("load more")."""
    access.require(request.user, "marketing.view_segment")
    segment = get_object_or_404(Segment, pk=pk)
    try:
        members = segment.members(base=Customer.objects.visible_to(request.user)).order_by("id")
        fmt = exports.requested_format(request)
        if fmt:
            header, records = customer_table(members)
            return exports.logged_export_response(
                request, records, header, f"segment-{segment.pk}", fmt, what=f"segment {segment.pk} members"
            )
        after = _after(request)
        if after:
            members = members.filter(id__gt=after)
        page = list(members[: PAGE_SIZE + 1])
        error = ""
    except RuleError as exc:
        page, error = [], _error_text(exc)
    context = {
        "segment": segment,
        "members": page[:PAGE_SIZE],
        "next_after": page[PAGE_SIZE - 1].id if len(page) > PAGE_SIZE else None,
        "error": error,
    }
    template = (
        "marketing/_member_rows.html"
        if request.htmx and _after(request)
        else "marketing/segment_members.html"
    )
    return render(request, template, context)


# --- Consent ---------------------------------------------------------------------------------------
def customer_consent(request: HttpRequest, pk: int) -> HttpResponse:
    """Consents of one customer with their history; grant, confirm or withdraw with proof."""
    access.require(request.user, "marketing.view_consent")
    customer = access.visible_customer(request.user, pk)
    grant_form, withdraw_form = forms.ConsentGrantForm(), forms.ConsentWithdrawForm()
    if request.method == "POST":
        access.require(request.user, "marketing.change_consent")
        action = request.POST.get("action")
        try:
            if action == "grant":
                grant_form = forms.ConsentGrantForm(request.POST)
                if grant_form.is_valid():
                    services.consent_grant(customer=customer, actor=request.user, **grant_form.cleaned_data)
                    messages.success(request, _("Consent recorded."))
                    return redirect("marketing:customer_consent", pk=customer.pk)
            elif action == "withdraw":
                withdraw_form = forms.ConsentWithdrawForm(request.POST)
                if withdraw_form.is_valid():
                    services.consent_withdraw(
                        customer=customer, actor=request.user, **withdraw_form.cleaned_data
                    )
                    messages.success(request, _("Withdrawal recorded."))
                    return redirect("marketing:customer_consent", pk=customer.pk)
            elif action == "confirm":
                consent = get_object_or_404(Consent, pk=request.POST.get("consent"), customer=customer)
                services.consent_confirm(consent=consent, actor=request.user)
                messages.success(request, _("Double opt-in confirmed."))
                return redirect("marketing:customer_consent", pk=customer.pk)
            else:
                raise Http404
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
    consents = Consent.objects.filter(customer=customer).order_by("channel", "purpose")
    history = (
        ConsentChange.objects.filter(consent__customer=customer)
        .select_related("consent", "changed_by")
        .order_by("-changed_at", "-id")[:100]
    )
    return render(
        request,
        "marketing/customer_consent.html",
        {
            "customer": customer,
            "consents": consents,
            "history": history,
            "grant_form": grant_form,
            "withdraw_form": withdraw_form,
            "can_change": request.user.has_perm("marketing.change_consent"),
        },
    )


def customer_consent_proof(request: HttpRequest, pk: int) -> HttpResponse:
    """The consent proof on its own (GDPR Art. 7(1)): what the person agreed to, when, how, and
    the text shown, as JSON (default) or CSV (``?format=csv``)."""
    access.require(request.user, "marketing.view_consent")
    customer = access.visible_customer(request.user, pk)
    proof = consent_proof(customer)
    name = f"consent-proof-{customer.customer_number}"
    if request.GET.get("format") == "csv":
        response = HttpResponse(proof_csv(proof), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    body = {"customer": customer.customer_number, "consent_proof": proof}
    response = HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response
