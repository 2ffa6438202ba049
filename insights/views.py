"""Pages of the NBA engine: the panel's buttons, my recommendations, the catalogue, the manager view."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from customer360 import access, events, roles
from customer360.models import Customer, Job, Score
from customer360.registry import conditions
from insights import services
from insights.features.registry import features
from insights.forms import ActionForm, OutcomeForm, RuleFormSet, default_eligibility
from insights.models import BAND_LABELS, Action, ActionRule, OutcomeDefinition, Recommendation
from insights.panels import panel_context
from insights.reasons import sentence
from insights.rules import CONDITION_PREFIX

MY_LIMIT = 100
MY_PAGE_SIZE = 25


def _panel(request: HttpRequest, customer: Customer, error: str = "", notice: str = "") -> HttpResponse:
    ctx = panel_context(request, customer)
    ctx["error"] = error
    ctx["notice"] = notice
    response = render(request, "insights/_panel.html", {"ctx": ctx, "customer": customer})
    response["HX-Trigger"] = "timeline-changed"
    return response


def _gone(request: HttpRequest) -> HttpResponse:
    """A recommendation id that no longer exists (replaced before recommendations kept their ids):
    the panel of the customer the button belonged to, with a sentence, instead of a bare 404."""
    customer_id = request.POST.get("customer", "")
    customer = (
        Customer.objects.visible_to(request.user).filter(pk=int(customer_id)).first()
        if customer_id.isdigit()
        else None
    )
    if customer is None:
        raise Http404
    return _panel(
        request,
        customer,
        notice=_("That recommendation is no longer there. The current recommendations are shown."),
    )


def _feedback(request: HttpRequest, pk: int, apply, done: str) -> HttpResponse:
    """Run a feedback service for a recommendation the user may see and answer with the refreshed
    panel: a refusal in plain words, and a note when the feedback went to the recommendation that
    replaced the one on screen."""
    access.require(request.user, "insights.change_recommendation")
    rec = Recommendation.objects.visible_to(request.user).select_related("customer").filter(pk=pk).first()
    if rec is None:
        return _gone(request)
    error = notice = ""
    try:
        recorded = apply(rec)
    except services.RecommendationClosed as exc:
        notice = str(exc)
    except services.FeedbackError as exc:
        error = str(exc)
    else:
        if recorded.pk != rec.pk:
            notice = done
    return _panel(request, rec.customer, error, notice)


@require_POST
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    return _feedback(
        request,
        pk,
        lambda rec: services.recommendation_accept(recommendation_id=rec.pk, user=request.user),
        _(
            "The recommendation had been updated since the page was loaded; your acceptance was recorded on the current one."
        ),
    )


@require_POST
def dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    reason = request.POST.get("reason", "")
    note = request.POST.get("note", "")
    return _feedback(
        request,
        pk,
        lambda rec: services.recommendation_dismiss(
            recommendation_id=rec.pk, user=request.user, reason=reason, note=note
        ),
        _(
            "The recommendation had been updated since the page was loaded; your dismissal was recorded on the current one."
        ),
    )


@require_POST
def complete(request: HttpRequest, pk: int) -> HttpResponse:
    outcome = request.POST.get("outcome", "")
    note = request.POST.get("note", "")
    return _feedback(
        request,
        pk,
        lambda rec: services.recommendation_complete(
            recommendation_id=rec.pk, user=request.user, outcome=outcome, note=note
        ),
        _(
            "The recommendation had been updated since the page was loaded; the outcome was recorded on the current one."
        ),
    )


def my_recommendations(request: HttpRequest) -> HttpResponse:
    """The rep's customers by priority (the top action per customer; every open one of an action when
    filtered by it), paged, filterable by action and priority band, "no contact now" only on request;
    and the accepted ones whose follow-up is due."""
    access.require(request.user, "insights.view_recommendation")
    language = get_language() or "en"
    mine = Recommendation.objects.visible_to(request.user).filter(customer__owner=request.user)
    actions = list(Action.objects.filter(is_active=True).order_by("order", "key"))
    params = {
        "action": request.GET.get("action", ""),
        "band": request.GET.get("band", ""),
        "quiet": request.GET.get("quiet", "") == "1",
    }
    open_recs = mine.filter(status=Recommendation.Status.OPEN)
    if params["action"] in {a.key for a in actions}:
        open_recs = open_recs.filter(action__key=params["action"])
    else:
        params["action"] = ""
        open_recs = open_recs.filter(rank=1)
    if params["band"] in BAND_LABELS:
        open_recs = open_recs.in_band(params["band"])
    else:
        params["band"] = ""
    if not params["quiet"] and not params["action"]:
        open_recs = open_recs.exclude(action__is_no_contact=True)
    page = Paginator(
        open_recs.select_related("customer", "action").order_by("-priority", "id"), MY_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    due = list(
        mine.filter(
            status=Recommendation.Status.ACCEPTED, follow_up_on__lte=timezone.localdate() + timedelta(days=2)
        )
        .select_related("customer", "action")
        .order_by("follow_up_on", "id")[:MY_LIMIT]
    )
    rows = [
        {
            "rec": r,
            "name": r.action.name(language),
            "sentence": sentence(r.reason_texts(language), exploring=r.is_exploration),
        }
        for r in page
    ]
    follow_ups = [{"rec": r, "name": r.action.name(language)} for r in due]
    query = urlencode({k: ("1" if v is True else v) for k, v in params.items() if v})
    return render(
        request,
        "insights/my_recommendations.html",
        {
            "rows": rows,
            "page": page,
            "query": query,
            "params": params,
            "actions": [(a.key, a.name(language)) for a in actions],
            "bands": list(BAND_LABELS.items()),
            "follow_ups": follow_ups,
        },
    )


def fact_label(field: str) -> str:
    """A rule's fact in the reader's words: the feature's or the registered condition's label."""
    if field.startswith(CONDITION_PREFIX):
        condition = conditions.items.get(field.removeprefix(CONDITION_PREFIX))
        return str(condition.label) if condition else field
    feature = features.get(field)
    return str(feature.label) if feature else field


def fact_value(field: str, value: str) -> str:
    """A rule's value in the reader's words where it is a stored choice (a lifecycle stage)."""
    if field == "lifecycle":
        labels = dict(Customer.Lifecycle.choices)
        return ", ".join(str(labels.get(v.strip(), v.strip())) for v in value.split(","))
    return value


def catalogue(request: HttpRequest) -> HttpResponse:
    """Read-only view of the action catalogue with its rules; admins edit it in the admin."""
    access.require(request.user, "insights.view_action")
    language = get_language() or "en"
    actions = list(Action.objects.prefetch_related("rules").order_by("order", "key"))
    rows = [
        {
            "action": a,
            "name": a.name(language),
            "description": a.description(language),
            "value_feature": fact_label(a.value_feature) if a.value_feature else "",
            "rules": [
                (rule, fact_label(rule.field), fact_value(rule.field, rule.value)) for rule in a.rules.all()
            ],
        }
        for a in actions
    ]
    return render(
        request,
        "insights/catalogue.html",
        {"rows": rows, "can_edit": request.user.has_perm("insights.change_action")},
    )


@require_POST
def rescore_all(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "insights.change_action")
    services.scoring_run_start(user=request.user)
    return redirect("analytics:nba_performance")


@require_POST
def retrain(request: HttpRequest) -> HttpResponse:
    access.require(request.user, "insights.change_action")
    from insights import tasks

    tasks.train_models.delay(force=True)
    return redirect("analytics:nba_performance")


def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    if not roles.is_manager_or_admin(request.user):
        raise Http404
    job = get_object_or_404(Job, pk=pk, kind__in=("insights.rescore", services.OUTCOME_JOB))
    return render(request, "insights/_job.html", {"job": job})


# --- actions and outcomes, defined in the app (admins) ------------------------------------------------
def _may_define(request: HttpRequest) -> None:
    access.require(request.user, "insights.change_action")


def action_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create an action (with the safe default eligibility) or edit one with its rules."""
    _may_define(request)
    action = get_object_or_404(Action, pk=pk) if pk else Action(department="sales")
    form = ActionForm(request.POST or None, instance=action)
    rules = RuleFormSet(request.POST or None, instance=action, prefix="rules") if pk else None
    if request.method == "POST" and form.is_valid() and (rules is None or rules.is_valid()):
        with transaction.atomic():
            saved = form.save()
            if rules is None:
                ActionRule.objects.bulk_create(
                    default_eligibility(
                        saved,
                        all_lifecycles=form.cleaned_data["all_lifecycles"],
                        without_consent=form.cleaned_data["without_consent"],
                    )
                )
            else:
                rules.save()
        return redirect(f"{reverse('insights:catalogue')}#action-{saved.key}")
    return render(
        request,
        "insights/action_form.html",
        {"form": form, "rules": rules, "action": action if pk else None},
    )


def outcome_list(request: HttpRequest) -> HttpResponse:
    _may_define(request)
    language = get_language() or "en"
    rows = [
        {
            "outcome": o,
            "name": o.name(language),
            "auc": o.evaluated_version.auc if o.evaluated_version else None,
        }
        for o in OutcomeDefinition.objects.select_related("evaluated_version").order_by("key")
    ]
    return render(request, "insights/outcome_list.html", {"rows": rows})


def outcome_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _may_define(request)
    outcome = get_object_or_404(OutcomeDefinition, pk=pk) if pk else OutcomeDefinition()
    form = OutcomeForm(request.POST or None, instance=outcome)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if pk and form.has_changed():  # another definition: its evaluation no longer describes it
            saved.evaluated_version = None
        saved.save()
        return redirect("insights:outcome", pk=saved.pk)
    return render(request, "insights/outcome_form.html", {"form": form, "outcome": outcome if pk else None})


def outcome_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The definition, its evaluation (AUC, lift, Brier, reliability, drivers) and activation."""
    _may_define(request)
    outcome = get_object_or_404(OutcomeDefinition.objects.select_related("job", "evaluated_version"), pk=pk)
    language = get_language() or "en"
    version = outcome.evaluated_version
    metrics = version.metrics if version else {}
    drivers = [(fact_label(name), name, value) for name, value in metrics.get("top_features", [])]
    kind = events.get(outcome.event_kind) if outcome.event_kind else None
    context = {
        "outcome": outcome,
        "name": outcome.name(language),
        "event_label": kind.label if kind else outcome.event_kind,
        "version": version,
        "metrics": metrics,
        "drivers": drivers,
        "job": outcome.job,
        "excluded": sorted((metrics.get("excluded") or {}).items()),
        "scored": Score.objects.filter(kind=outcome.score_kind).count() if outcome.is_active else None,
        "error": request.GET.get("error", "") == "evaluate",
    }
    if request.htmx and request.GET.get("part") == "evaluation":
        return render(request, "insights/_outcome_evaluation.html", context)
    return render(request, "insights/outcome_detail.html", context)


@require_POST
def outcome_evaluate(request: HttpRequest, pk: int) -> HttpResponse:
    _may_define(request)
    outcome = get_object_or_404(OutcomeDefinition, pk=pk)
    services.outcome_evaluation_start(definition=outcome, user=request.user)
    return redirect("insights:outcome", pk=pk)


@require_POST
def outcome_activate(request: HttpRequest, pk: int) -> HttpResponse:
    _may_define(request)
    outcome = get_object_or_404(OutcomeDefinition, pk=pk)
    if request.POST.get("active") == "0":
        services.outcome_deactivate(definition=outcome)
        return redirect("insights:outcome", pk=pk)
    if outcome.evaluated_version_id is None:
        return redirect(f"{reverse('insights:outcome', args=[pk])}?error=evaluate")
    services.outcome_activate(definition=outcome, user=request.user)
    return redirect("insights:outcome", pk=pk)
