"""Billing API: the same scope and permissions as the pages; actions call the services."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import services, tasks
from billing.api import serializers as s
from billing.models import DunningLevel, DunningNotice, DunningPolicy, Invoice, Payment
from customer360 import search
from customer360.api import filters as api_filters
from customer360.models import Customer


class InvoiceFilter(api_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices)
    dunning_level = api_filters.IntegerFilter()
    dunning_level_min = api_filters.IntegerFilter(field_name="dunning_level", lookup_expr="gte")
    customer = api_filters.IdFilter(field_name="customer_id")
    overdue = api_filters.StrictBooleanFilter(method="filter_overdue")
    open = api_filters.StrictBooleanFilter(method="filter_open")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lt")
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    q = django_filters.CharFilter(method="filter_q", label="invoice number or customer search")

    class Meta:
        model = Invoice
        fields = ["status", "dunning_level", "customer", "disputed"]

    def filter_overdue(self, queryset, name, value):
        overdue = Q(status__in=Invoice.OPEN_STATUSES, due_date__lt=timezone.localdate())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_open(self, queryset, name, value):
        return queryset.open() if value else queryset.exclude(status__in=Invoice.OPEN_STATUSES)

    def filter_q(self, queryset, name, value):
        customers = search.filter_customers(Customer.objects.visible_to(self.request.user), value)
        return queryset.filter(Q(number__icontains=value) | Q(customer__in=customers))


class InvoiceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Invoices of customers the caller may see (others: 404), lines nested. Issued invoices are
    changed only through the actions; a draft can be edited (PUT/PATCH)."""

    serializer_class = s.InvoiceSerializer
    filterset_class = InvoiceFilter
    action_permissions = {
        "record_payment": "billing.add_payment",
        "issue": "billing.change_invoice",
        "dispute": "billing.change_invoice",
        "resolve_dispute": "billing.change_invoice",
        "promise": "billing.change_invoice",
        "cancel": "billing.change_invoice",
        "pause_dunning": "billing.manage_dunning",
        "resume_dunning": "billing.manage_dunning",
        "run_dunning": "billing.manage_dunning",
    }

    def get_queryset(self):
        return (
            Invoice.objects.visible_to(self.request.user)
            .select_related("customer")
            .prefetch_related("lines")
            .order_by("-issue_date", "-id")
        )

    def _act(self, request, serializer_class, call):
        invoice = self.get_object()
        data = {}
        if serializer_class is not None:
            serializer = serializer_class(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        return call(invoice, data, request.user)

    def _invoice_response(self, pk) -> Response:
        return Response(
            s.InvoiceSerializer(self.get_queryset().get(pk=pk), context={"request": self.request}).data
        )

    @extend_schema(request=s.RecordPaymentSerializer, responses={201: s.PaymentSerializer})
    @action(detail=True, methods=["post"], url_path="record-payment")
    def record_payment(self, request, pk=None):
        payment = self._act(
            request,
            s.RecordPaymentSerializer,
            lambda i, d, u: services.invoice_record_payment(invoice=i, actor=u, **d),
        )
        return Response(
            s.PaymentSerializer(payment, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def issue(self, request, pk=None):
        invoice = self._act(
            request,
            None,
            lambda i, d, u: services.invoice_issue(invoice=i, actor=u),
        )
        return self._invoice_response(invoice.pk)

    @extend_schema(request=s.DisputeSerializer, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def dispute(self, request, pk=None):
        invoice = self._act(
            request, s.DisputeSerializer, lambda i, d, u: services.invoice_dispute(invoice=i, reason=d["reason"], actor=u),
        )  # fmt: skip
        return self._invoice_response(invoice.pk)

    @extend_schema(request=s.ResolveDisputeSerializer, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"], url_path="resolve-dispute")
    def resolve_dispute(self, request, pk=None):
        invoice = self._act(
            request, s.ResolveDisputeSerializer, lambda i, d, u: services.invoice_resolve_dispute(invoice=i, note=d["note"], actor=u),
        )  # fmt: skip
        return self._invoice_response(invoice.pk)

    @extend_schema(request=s.PromiseSerializer, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def promise(self, request, pk=None):
        invoice = self._act(
            request, s.PromiseSerializer, lambda i, d, u: services.invoice_promise_payment(invoice=i, promised_date=d["promised_date"], note=d["note"], actor=u),
        )  # fmt: skip
        return self._invoice_response(invoice.pk)

    @extend_schema(request=s.CancelSerializer, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        invoice = self._act(
            request, s.CancelSerializer, lambda i, d, u: services.invoice_cancel(invoice=i, reason=d["reason"], actor=u),
        )  # fmt: skip
        return self._invoice_response(invoice.pk)

    @extend_schema(request=s.PauseSerializer, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"], url_path="pause-dunning")
    def pause_dunning(self, request, pk=None):
        invoice = self._act(
            request, s.PauseSerializer, lambda i, d, u: services.dunning_pause(invoice=i, until=d["until"], reason=d["reason"], actor=u),
        )  # fmt: skip
        return self._invoice_response(invoice.pk)

    @extend_schema(request=None, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"], url_path="resume-dunning")
    def resume_dunning(self, request, pk=None):
        invoice = self._act(
            request,
            None,
            lambda i, d, u: services.dunning_resume(invoice=i, actor=u),
        )
        return self._invoice_response(invoice.pk)

    @extend_schema(request=None, responses={202: s.DunningRunSerializer})
    @action(detail=False, methods=["post"], url_path="run-dunning")
    def run_dunning(self, request):
        """Queue the dunning run (the Celery task); the job's result lists notices per level."""
        job = tasks.start_dunning_run(user=request.user)
        return Response({"job": job.pk, "status": job.status}, status=status.HTTP_202_ACCEPTED)


class PaymentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Payments on visible invoices; creating one books it through the service."""

    serializer_class = s.PaymentSerializer
    filterset_fields = ["invoice", "method"]

    def get_queryset(self):
        return (
            Payment.objects.filter(invoice__in=Invoice.objects.visible_to(self.request.user))
            .select_related("invoice")
            .order_by("-received_at", "-id")
        )


class DunningNoticeViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.DunningNoticeSerializer
    filterset_fields = ["invoice", "level", "channel"]

    def get_queryset(self):
        return (
            DunningNotice.objects.filter(invoice__in=Invoice.objects.visible_to(self.request.user))
            .select_related("invoice")
            .order_by("-sent_at", "-id")
        )


class DunningPolicyViewSet(viewsets.ModelViewSet):
    """Read for whoever may view the policy; writes need the model permissions (Admin)."""

    serializer_class = s.DunningPolicySerializer
    queryset = DunningPolicy.objects.prefetch_related("levels").order_by("id")


class DunningLevelViewSet(viewsets.ModelViewSet):
    serializer_class = s.DunningLevelSerializer
    queryset = DunningLevel.objects.order_by("policy_id", "level")
    filterset_fields = ["policy"]
