"""Sales and service pages: thin function views over the services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm import services
from crm.exports import activity_table, deal_table, ticket_table
from crm.forms import (
    ActivityForm,
    ContractForm,
    CsatForm,
    DealEditForm,
    DealForm,
    ExchangeRateForm,
    ExchangeRatesUploadForm,
    LostForm,
    MoveStageForm,
    QuickActivityForm,
    ReplyForm,
    TicketEditForm,
    TicketForm,
    staff_of,
)
from crm.models import Activity, Contract, Deal, ExchangeRate, Stage, Ticket
from crm.models.orders import base_currency
from crm.panels import sales_context
from crm.services import rates as rate_services
from customer360 import access, exports, roles
from customer360.models import Customer
from customer360.text import fold_search, whole_number

PAGE_SIZE = 50


def refused(request: HttpRequest, exc: ValidationError) -> None:
    for field, reasons in exc.message_dict.items():
        for reason in reasons:
            messages.error(request, f"{field}: {reason}" if field != "__all__" else reason)


def form_refused(form, exc: ValidationError) -> None:
    for field, reasons in exc.message_dict.items():
        for reason in reasons:
            form.add_error(field if field in form.fields else None, reason)


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _search(queryset, query: str):
    if not query:
        return queryset
    text = Q(title__icontains=query) if queryset.model is Deal else Q(subject__icontains=query)
    return queryset.filter(text | Q(customer__search_key__contains=fold_search(query)))


# --- Deals -----------------------------------------------------------------------------------------
@access.permission_required("crm.view_deal")
def deal_list(request: HttpRequest) -> HttpResponse:
    deals = Deal.objects.visible_to(request.user).select_related("customer", "stage", "owner")
    params = {k: request.GET.get(k, "").strip() for k in ("stage", "owner", "status", "q", "view")}
    if whole_number(params["stage"]) is not None:
        deals = deals.filter(stage_id=whole_number(params["stage"]))
    if params["owner"] == "me":
        deals = deals.filter(owner=request.user)
    elif whole_number(params["owner"]) is not None:
        deals = deals.filter(owner_id=whole_number(params["owner"]))
    if params["status"] in Deal.Status.values:
        deals = deals.filter(status=params["status"])
    deals = _search(deals, params["q"])
    fmt = exports.requested_format(request)
    if fmt:
        header, records = deal_table(deals)
        return exports.logged_export_response(request, records, header, "deals", fmt, what="deal list")
    stages = list(Stage.objects.select_related("pipeline"))
    context = {
        "params": params,
        "stages": stages,
        "statuses": Deal.Status.choices,
        "owners": staff_of(roles.SALES),
    }
    if params["view"] == "board":
        open_deals = list(deals.filter(status=Deal.Status.OPEN).order_by("stage__order", "-amount")[:300])
        context["board"] = [
            {"stage": s, "deals": [d for d in open_deals if d.stage_id == s.pk]}
            for s in stages
            if not s.is_closing
        ]
        for column in context["board"]:
            column["total"] = sum(d.amount for d in column["deals"])
        context["open_stages"] = [s for s in stages if not s.is_closing]
        context["can_move"] = request.user.has_perm("crm.change_deal")
    else:
        context["page"] = _page(request, deals.order_by("-created_at", "-id"))
    return render(request, "crm/deal_list.html", context)


@access.permission_required("crm.view_deal")
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = get_object_or_404(
        Deal.objects.visible_to(request.user).select_related("customer", "stage", "owner"), pk=pk
    )
    activities = deal.activities.select_related("user")[:50]
    return render(
        request,
        "crm/deal_detail.html",
        {
            "deal": deal,
            "activities": activities,
            "move_form": MoveStageForm(initial={"stage": deal.stage_id}),
            "lost_form": LostForm(),
            "can_change": request.user.has_perm("crm.change_deal"),
        },
    )


@access.permission_required("crm.add_deal")
def deal_create(request: HttpRequest) -> HttpResponse:
    form = DealForm(
        request.POST or None, user=request.user, initial={"customer": request.GET.get("customer", "")}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            deal = services.deal_create(
                customer=data["customer"],
                user=request.user,
                title=data["title"],
                amount=data["amount"],
                stage=data["stage"],
                expected_close=data["expected_close"],
                owner=data["owner"],
            )
        except ValidationError as exc:
            form_refused(form, exc)
        else:
            messages.success(request, _("Deal created."))
            return redirect(deal)
    return render(request, "crm/form.html", {"form": form, "title": _("New deal")})


@access.permission_required("crm.change_deal")
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deal = get_object_or_404(Deal.objects.visible_to(request.user), pk=pk)
    form = DealEditForm(request.POST or None, instance=deal)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Deal saved."))
        return redirect(deal)
    return render(
        request, "crm/form.html", {"form": form, "title": _("Edit deal"), "back": deal.get_absolute_url()}
    )


def _deal_action(request, pk, action):
    deal = get_object_or_404(Deal.objects.visible_to(request.user).select_related("stage"), pk=pk)
    try:
        action(deal)
    except ValidationError as exc:
        refused(request, exc)
    else:
        messages.success(request, _("Done."))
    return redirect(deal)


@require_POST
@access.permission_required("crm.change_deal")
def deal_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a deal to another open stage through the crm service (which records it on the timeline).
    The board's drag and drop asks for JSON; its "move to" select and the deal page post a form."""
    deal = get_object_or_404(Deal.objects.visible_to(request.user).select_related("stage"), pk=pk)
    wants_json = "application/json" in request.headers.get("Accept", "")
    form = MoveStageForm(request.POST)
    if not form.is_valid():
        error = _("stage: choose an open stage.")
        if wants_json:
            return JsonResponse({"error": error}, status=400)
        messages.error(request, error)
        return redirect("crm:deal_detail", pk=pk)
    try:
        deal = services.deal_move_stage(deal=deal, stage=form.cleaned_data["stage"], user=request.user)
    except ValidationError as exc:
        if wants_json:
            return JsonResponse({"error": " ".join(exc.messages)}, status=409)
        refused(request, exc)
    else:
        if wants_json:
            return JsonResponse({"deal": deal.pk, "stage": deal.stage_id})
        messages.success(request, _("Done."))
    if request.POST.get("next") == "board":
        return redirect(reverse("crm:deal_list") + "?view=board")
    return redirect(deal)


@require_POST
@access.permission_required("crm.change_deal")
def deal_won(request: HttpRequest, pk: int) -> HttpResponse:
    return _deal_action(request, pk, lambda d: services.deal_mark_won(deal=d, user=request.user))


@require_POST
@access.permission_required("crm.change_deal")
def deal_lost(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")
    return _deal_action(
        request, pk, lambda d: services.deal_mark_lost(deal=d, user=request.user, reason=reason)
    )


# --- Activities ------------------------------------------------------------------------------------
@access.permission_required("crm.view_activity")
def activity_list(request: HttpRequest) -> HttpResponse:
    """My follow-ups due (default) or all visible activities."""
    activities = Activity.objects.visible_to(request.user).select_related("customer", "user", "deal")
    scope = request.GET.get("scope", "follow_ups")
    today = timezone.localdate()
    if scope == "follow_ups":
        activities = activities.filter(user=request.user, follow_up_done=False, follow_up_date__isnull=False)
        activities = activities.order_by("follow_up_date", "id")
    elif scope == "mine":
        activities = activities.filter(user=request.user)
    query = request.GET.get("q", "").strip()
    activities = _search(activities, query)
    fmt = exports.requested_format(request)
    if fmt:
        ordered = activities if activities.query.order_by else activities.order_by("-occurred_at", "-id")
        header, records = activity_table(ordered)
        return exports.logged_export_response(
            request, records, header, "activities", fmt, what="activity list"
        )
    return render(
        request,
        "crm/activity_list.html",
        {"page": _page(request, activities), "scope": scope, "q": query, "today": today},
    )


@access.permission_required("crm.view_activity")
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    activity = get_object_or_404(
        Activity.objects.visible_to(request.user).select_related("customer", "user", "deal"), pk=pk
    )
    return render(request, "crm/activity_detail.html", {"activity": activity})


@access.permission_required("crm.add_activity")
def activity_create(request: HttpRequest) -> HttpResponse:
    form = ActivityForm(
        request.POST or None, user=request.user, initial={"customer": request.GET.get("customer", "")}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            activity = services.activity_log(
                customer=data["customer"],
                user=request.user,
                kind=data["kind"],
                subject=data["subject"],
                notes=data["notes"],
                outcome=data["outcome"],
                occurred_at=data["occurred_at"],
                follow_up_date=data["follow_up_date"],
            )
        except ValidationError as exc:
            form_refused(form, exc)
        else:
            messages.success(request, _("Activity logged."))
            return redirect(activity)
    return render(request, "crm/form.html", {"form": form, "title": _("Log an activity")})


@require_POST
@access.permission_required("crm.add_activity")
def log_call(request: HttpRequest, customer_pk: int) -> HttpResponse:
    """The sales panel's htmx form: log, then answer with a fresh panel and HX-Trigger."""
    customer = get_object_or_404(Customer.objects.visible_to(request.user), pk=customer_pk)
    form = QuickActivityForm(request.POST, user=request.user)
    logged = False
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.activity_log(
                customer=customer,
                user=request.user,
                kind=data["kind"],
                subject=data["subject"],
                notes=data["notes"],
                outcome=data["outcome"],
                follow_up_date=data["follow_up_date"],
                token=request.POST.get("token", ""),
            )
            logged = True
        except ValidationError as exc:
            form_refused(form, exc)
    ctx = sales_context(request, customer, form=None if logged else form)
    ctx["logged"] = logged
    response = render(request, "crm/_sales_panel.html", {"ctx": ctx, "customer": customer})
    if logged:
        response["HX-Trigger"] = "timeline-changed"
    return response


# --- Contracts -------------------------------------------------------------------------------------
@access.permission_required("crm.view_contract")
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contract = get_object_or_404(
        Contract.objects.visible_to(request.user).select_related("customer", "product"), pk=pk
    )
    return render(
        request,
        "crm/contract_detail.html",
        {"contract": contract, "can_change": request.user.has_perm("crm.change_contract")},
    )


@access.permission_required("crm.add_contract")
def contract_create(request: HttpRequest) -> HttpResponse:
    form = ContractForm(
        request.POST or None,
        user=request.user,
        initial={"customer": request.GET.get("customer", ""), "start": timezone.localdate()},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            contract = services.contract_create(user=request.user, **data)
        except ValidationError as exc:
            form_refused(form, exc)
        else:
            messages.success(request, _("Contract started."))
            return redirect(contract)
    return render(request, "crm/form.html", {"form": form, "title": _("New contract")})


def _contract_action(request, pk, action):
    contract = get_object_or_404(Contract.objects.visible_to(request.user), pk=pk)
    try:
        action(contract)
    except ValidationError as exc:
        refused(request, exc)
    else:
        messages.success(request, _("Done."))
    return redirect(contract)


@require_POST
@access.permission_required("crm.change_contract")
def contract_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _contract_action(request, pk, lambda c: services.contract_cancel(contract=c, user=request.user))


@require_POST
@access.permission_required("crm.change_contract")
def contract_renew(request: HttpRequest, pk: int) -> HttpResponse:
    return _contract_action(request, pk, lambda c: services.contract_renew(contract=c, user=request.user))


# --- Tickets ---------------------------------------------------------------------------------------
@access.permission_required("crm.view_ticket")
def ticket_list(request: HttpRequest) -> HttpResponse:
    tickets = Ticket.objects.visible_to(request.user).select_related("customer", "assignee")
    params = {
        k: request.GET.get(k, "").strip() for k in ("status", "priority", "category", "assignee", "sla", "q")
    }
    params["status"] = params["status"] or "unsolved"  # open tickets unless asked otherwise
    if params["status"] == "unsolved":
        tickets = tickets.open()
    elif params["status"] in Ticket.Status.values:
        tickets = tickets.filter(status=params["status"])
    if params["priority"] in Ticket.Priority.values:
        tickets = tickets.filter(priority=params["priority"])
    if params["category"] in Ticket.Category.values:
        tickets = tickets.filter(category=params["category"])
    if params["assignee"] == "me":
        tickets = tickets.filter(assignee=request.user)
    elif whole_number(params["assignee"]) is not None:
        tickets = tickets.filter(assignee_id=whole_number(params["assignee"]))
    if params["sla"] == "breached":
        tickets = tickets.breached()
    elif params["sla"] == "ok":
        tickets = tickets.exclude(pk__in=Ticket.objects.breached().values("pk"))
    tickets = _search(tickets, params["q"])
    fmt = exports.requested_format(request)
    if fmt:
        header, records = ticket_table(tickets)
        return exports.logged_export_response(request, records, header, "tickets", fmt, what="ticket list")
    return render(
        request,
        "crm/ticket_list.html",
        {
            "page": _page(request, tickets.order_by("-opened_at", "-id")),
            "params": params,
            "statuses": Ticket.Status.choices,
            "priorities": Ticket.Priority.choices,
            "categories": Ticket.Category.choices,
            "assignees": staff_of(roles.SERVICE),
        },
    )


@access.permission_required("crm.view_ticket")
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(
        Ticket.objects.visible_to(request.user).select_related("customer", "assignee", "satisfaction"), pk=pk
    )
    satisfaction = getattr(ticket, "satisfaction", None) if hasattr(ticket, "satisfaction") else None
    return render(
        request,
        "crm/ticket_detail.html",
        {
            "ticket": ticket,
            "messages_list": ticket.messages.select_related("author"),
            "reply_form": ReplyForm(),
            "csat_form": CsatForm(),
            "satisfaction": satisfaction,
            "can_change": request.user.has_perm("crm.change_ticket"),
            "can_rate": request.user.has_perm("crm.add_satisfaction"),
        },
    )


@access.permission_required("crm.add_ticket")
def ticket_create(request: HttpRequest) -> HttpResponse:
    form = TicketForm(
        request.POST or None, user=request.user, initial={"customer": request.GET.get("customer", "")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.ticket_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_refused(form, exc)
        else:
            messages.success(request, _("Ticket opened."))
            return redirect(ticket)
    return render(request, "crm/form.html", {"form": form, "title": _("New ticket")})


@access.permission_required("crm.change_ticket")
def ticket_edit(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(Ticket.objects.visible_to(request.user), pk=pk)
    form = TicketEditForm(request.POST or None, instance=ticket)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        ticket = services.ticket_update(ticket=Ticket.objects.get(pk=pk), user=request.user, **fields)
        messages.success(request, _("Ticket saved."))
        return redirect(ticket)
    return render(
        request, "crm/form.html", {"form": form, "title": _("Edit ticket"), "back": ticket.get_absolute_url()}
    )


def _ticket_action(request, pk, action, done=None):
    ticket = get_object_or_404(Ticket.objects.visible_to(request.user), pk=pk)
    try:
        result = action(ticket)
    except ValidationError as exc:
        refused(request, exc)
    else:
        messages.success(request, done(result) if done else _("Done."))
    return redirect(ticket)


def _status_done(ticket: Ticket) -> str:
    if ticket.status == Ticket.Status.WAITING:
        return _("Waiting for the customer: the SLA clock is paused.")
    return _("The SLA clock runs again; the due times moved on by the pause.")


@require_POST
@access.permission_required("crm.change_ticket")
def ticket_reply(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("body: the message is empty."))
        return redirect("crm:ticket_detail", pk=pk)
    return _ticket_action(
        request,
        pk,
        lambda t: services.ticket_reply(
            ticket=t,
            user=request.user,
            body=form.cleaned_data["body"],
            is_internal=form.cleaned_data["is_internal"],
        ),
    )


@require_POST
@access.permission_required("crm.change_ticket")
def ticket_solve(request: HttpRequest, pk: int) -> HttpResponse:
    return _ticket_action(request, pk, lambda t: services.ticket_solve(ticket=t, user=request.user))


@require_POST
@access.permission_required("crm.change_ticket")
def ticket_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _ticket_action(request, pk, lambda t: services.ticket_close(ticket=t, user=request.user))


@require_POST
@access.permission_required("crm.change_ticket")
def ticket_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _ticket_action(request, pk, lambda t: services.ticket_reopen(ticket=t, user=request.user))


@require_POST
@access.permission_required("crm.change_ticket")
def ticket_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Waiting for the customer (the SLA clock pauses) or back to open (it runs again)."""
    return _ticket_action(
        request,
        pk,
        lambda t: services.ticket_set_status(
            ticket=t, user=request.user, status=request.POST.get("status", "")
        ),
        done=_status_done,
    )


@require_POST
@access.permission_required("crm.add_satisfaction")
def ticket_csat(request: HttpRequest, pk: int) -> HttpResponse:
    return _ticket_action(
        request,
        pk,
        lambda t: services.ticket_record_csat(
            ticket=t,
            score=request.POST.get("score", ""),
            comment=request.POST.get("comment", ""),
            user=request.user,
        ),
    )


# --- Exchange rates --------------------------------------------------------------------------------
@access.permission_required("crm.view_exchangerate")
def exchange_rates(request: HttpRequest) -> HttpResponse:
    """The rate table (newest first per currency); admins add a rate here or upload a CSV."""
    can_edit = request.user.has_perm("crm.add_exchangerate") and request.user.has_perm(
        "crm.change_exchangerate"
    )
    form = ExchangeRateForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        access.require(request.user, "crm.add_exchangerate", "crm.change_exchangerate")
        if form.is_valid():
            rate = rate_services.exchange_rate_save(**form.cleaned_data, actor=request.user)
            messages.success(request, _("Rate saved: %(rate)s") % {"rate": rate})
            return redirect("crm:exchange_rates")
    rates = ExchangeRate.objects.select_related("created_by").order_by("currency", "-valid_from")
    return render(
        request,
        "crm/exchange_rates.html",
        {
            "page": _page(request, rates),
            "form": form,
            "upload": ExchangeRatesUploadForm() if can_edit else None,
            "base_currency": base_currency(),
        },
    )


@require_POST
@access.permission_required("crm.add_exchangerate", "crm.change_exchangerate")
def exchange_rates_import(request: HttpRequest) -> HttpResponse:
    upload = ExchangeRatesUploadForm(request.POST, request.FILES)
    if not upload.is_valid():
        for reasons in upload.errors.values():
            for reason in reasons:
                messages.error(request, reason)
        return redirect("crm:exchange_rates")
    saved, problems = rate_services.exchange_rates_import(
        text=upload.cleaned_data["file"], actor=request.user
    )
    messages.success(request, _("%(count)s rates saved.") % {"count": saved})
    for problem in problems[:20]:
        messages.error(request, problem)
    return redirect("crm:exchange_rates")
