"""crm API: same permissions and customer scope as the pages; actions as @action endpoints.

Refused actions answer 400 ``{field: [reason]}``; records of customers the caller may not see 404.
Creating endpoints honour an ``Idempotency-Key`` header: a retry returns the first result.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm import services
from crm.api import serializers as s
from crm.models import Activity, Contract, Deal, Pipeline, Product, Stage, Ticket
from customer360.api import filters as api_filters
from customer360.text import fold_search

IDEMPOTENCY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)
SEARCH = OpenApiParameter("q", str, description="text in title/subject or customer name")


class CrmViewSet(viewsets.GenericViewSet):
    model = None
    action_permissions: dict[str, str] = {}
    search_field = ""

    def searched(self, queryset):
        query = self.request.query_params.get("q", "").strip()
        if query and self.search_field:
            from django.db.models import Q

            return queryset.filter(
                Q(**{f"{self.search_field}__icontains": query})
                | Q(customer__search_key__contains=fold_search(query))
            )
        return queryset

    @property
    def token(self) -> str:
        return self.request.headers.get("Idempotency-Key", "")[:120]


class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CrmViewSet):
    model = Product
    serializer_class = s.ProductSerializer
    queryset = Product.objects.order_by("name")
    filterset_fields = ["is_active", "code"]


class PipelineViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CrmViewSet):
    model = Pipeline
    serializer_class = s.PipelineSerializer
    queryset = Pipeline.objects.prefetch_related(
        Prefetch("stages", Stage.objects.order_by("order"))
    ).order_by("name")


class StageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, CrmViewSet):
    model = Stage
    serializer_class = s.StageSerializer
    queryset = Stage.objects.order_by("pipeline", "order")
    filterset_fields = ["pipeline", "is_won", "is_lost"]


class ContractViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, CrmViewSet):
    model = Contract
    serializer_class = s.ContractSerializer
    filterset_fields = ["customer", "product", "status"]
    action_permissions = {"cancel": "crm.change_contract", "renew": "crm.change_contract"}

    def get_queryset(self):
        return Contract.objects.visible_to(self.request.user).order_by("-start", "-id")

    @extend_schema(parameters=[IDEMPOTENCY])
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contract = services.contract_create(user=request.user, token=self.token, **serializer.validated_data)
        return Response(self.get_serializer(contract).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.ContractSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        contract = services.contract_cancel(contract=self.get_object(), user=request.user)
        return Response(self.get_serializer(contract).data)

    @extend_schema(request=s.RenewSerializer, responses=s.ContractSerializer)
    @action(detail=True, methods=["post"])
    def renew(self, request, pk=None):
        data = s.RenewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contract = services.contract_renew(
            contract=self.get_object(), user=request.user, **data.validated_data
        )
        return Response(s.ContractSerializer(contract).data)


class DealFilter(api_filters.FilterSet):
    class Meta:
        model = Deal
        fields = ["status", "stage", "owner", "customer"]


class DealViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    CrmViewSet,
):
    model = Deal
    filterset_class = DealFilter
    search_field = "title"
    action_permissions = {"move": "crm.change_deal", "won": "crm.change_deal", "lost": "crm.change_deal"}

    def get_serializer_class(self):
        return s.DealUpdateSerializer if self.action in ("update", "partial_update") else s.DealSerializer

    def get_queryset(self):
        return self.searched(Deal.objects.visible_to(self.request.user).select_related("stage")).order_by(
            "-created_at", "-id"
        )

    @extend_schema(parameters=[SEARCH])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[IDEMPOTENCY])
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deal = services.deal_create(user=request.user, token=self.token, **serializer.validated_data)
        return Response(s.DealSerializer(deal).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MoveSerializer, responses=s.DealSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        deal = self.get_object()
        data = s.MoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deal = services.deal_move_stage(deal=deal, stage=data.validated_data["stage"], user=request.user)
        return Response(s.DealSerializer(deal).data)

    @extend_schema(request=None, responses=s.DealSerializer)
    @action(detail=True, methods=["post"])
    def won(self, request, pk=None):
        deal = services.deal_mark_won(deal=self.get_object(), user=request.user)
        return Response(s.DealSerializer(deal).data)

    @extend_schema(request=s.LostSerializer, responses=s.DealSerializer)
    @action(detail=True, methods=["post"])
    def lost(self, request, pk=None):
        deal = self.get_object()
        data = s.LostSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deal = services.deal_mark_lost(deal=deal, user=request.user, reason=data.validated_data["reason"])
        return Response(s.DealSerializer(deal).data)


class ActivityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, CrmViewSet):
    model = Activity
    serializer_class = s.ActivitySerializer
    filterset_fields = ["customer", "kind", "outcome", "user", "deal", "follow_up_done"]
    search_field = "subject"

    def get_queryset(self):
        return self.searched(Activity.objects.visible_to(self.request.user).select_related("user")).order_by(
            "-occurred_at", "-id"
        )

    @extend_schema(parameters=[IDEMPOTENCY])
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        activity = services.activity_log(user=request.user, token=self.token, **serializer.validated_data)
        return Response(self.get_serializer(activity).data, status=status.HTTP_201_CREATED)


class TicketFilter(api_filters.FilterSet):
    sla = filters.ChoiceFilter(choices=[("breached", "breached"), ("ok", "ok")], method="filter_sla")
    open = api_filters.StrictBooleanFilter(method="filter_open")

    class Meta:
        model = Ticket
        fields = ["status", "priority", "category", "assignee", "customer", "channel"]

    def filter_sla(self, queryset, name, value):
        breached = Ticket.objects.breached().values("pk")
        return queryset.filter(pk__in=breached) if value == "breached" else queryset.exclude(pk__in=breached)

    def filter_open(self, queryset, name, value):
        return queryset.open() if value else queryset.exclude(status__in=Ticket.OPEN_STATUSES)


class TicketViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    CrmViewSet,
):
    model = Ticket
    filterset_class = TicketFilter
    search_field = "subject"
    action_permissions = {
        "reply": "crm.change_ticket",
        "solve": "crm.change_ticket",
        "close": "crm.change_ticket",
        "reopen": "crm.change_ticket",
        "set_status": "crm.change_ticket",
        "csat": "crm.add_satisfaction",
        "messages": "crm.view_ticket",
    }

    def get_serializer_class(self):
        return s.TicketUpdateSerializer if self.action in ("update", "partial_update") else s.TicketSerializer

    def get_queryset(self):
        return self.searched(Ticket.objects.visible_to(self.request.user)).order_by("-opened_at", "-id")

    @extend_schema(parameters=[SEARCH])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[IDEMPOTENCY])
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = services.ticket_create(user=request.user, token=self.token, **serializer.validated_data)
        return Response(s.TicketSerializer(ticket).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = services.ticket_update(
            ticket=serializer.instance,
            user=self.request.user,
            **serializer.validated_data,
        )

    @extend_schema(
        request=s.TicketMessageSerializer,
        responses={201: s.TicketMessageSerializer},
        parameters=[IDEMPOTENCY],
    )
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        ticket = self.get_object()
        data = s.TicketMessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.ticket_reply(
            ticket=ticket,
            user=request.user,
            body=data.validated_data["body"],
            is_internal=data.validated_data.get("is_internal", False),
            token=self.token,
        )
        return Response(s.TicketMessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.TicketMessageSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def messages(self, request, pk=None):
        ticket = self.get_object()
        return Response(s.TicketMessageSerializer(ticket.messages.select_related("author"), many=True).data)

    def _change(self, fn):
        ticket = fn(ticket=self.get_object(), user=self.request.user)
        return Response(s.TicketSerializer(ticket).data)

    @extend_schema(request=None, responses=s.TicketSerializer)
    @action(detail=True, methods=["post"])
    def solve(self, request, pk=None):
        return self._change(services.ticket_solve)

    @extend_schema(request=None, responses=s.TicketSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return self._change(services.ticket_close)

    @extend_schema(request=None, responses=s.TicketSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._change(services.ticket_reopen)

    @extend_schema(request=s.TicketStatusSerializer, responses=s.TicketSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        """Wait for the customer (pauses the SLA clock) or open again (moves the due times on)."""
        ticket = self.get_object()
        data = s.TicketStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.ticket_set_status(
            ticket=ticket, user=request.user, status=data.validated_data["status"]
        )
        return Response(s.TicketSerializer(ticket).data)

    @extend_schema(request=s.SatisfactionSerializer, responses={201: s.SatisfactionSerializer})
    @action(detail=True, methods=["post"])
    def csat(self, request, pk=None):
        ticket = self.get_object()
        data = s.SatisfactionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating = services.ticket_record_csat(
            ticket=ticket,
            score=data.validated_data["score"],
            comment=data.validated_data.get("comment", ""),
            user=request.user,
        )
        return Response(s.SatisfactionSerializer(rating).data, status=status.HTTP_201_CREATED)
