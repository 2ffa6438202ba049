"""NBA API: same permissions and customer scope as the pages; feedback as @action endpoints.

Recommendations of customers the caller may not see answer 404. Feedback calls the services, so
each accept/dismiss/complete writes exactly one timeline event; repeating the same feedback (a
retried request) answers 200 with the recommendation as it is, any other refused transition 400
``{"status": [reason]}``. Feedback on a recommendation that a rescoring superseded (or that expired)
is recorded on its successor, the open one for the same customer and action (200 with the successor,
``replaced_recommendation`` naming the old id); without a successor the answer is 409 with the state
in plain words and the customer's current recommendations (a dismissal is then kept on the old one).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from customer360.api import filters as api_filters
from customer360.models import Customer
from insights import services
from insights.api import serializers as s
from insights.models import BAND_LABELS, Action, ModelVersion, Recommendation

CUSTOMER_TOP = 10  # a customer has a handful of open recommendations; this only bounds the answer

CUSTOMER_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="customer id")


class InsightsViewSet(viewsets.GenericViewSet):
    model: type | None = None
    action_permissions: dict[str, str] = {}


class ActionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, InsightsViewSet
):
    """The action catalogue; admins (insights.change_action) tune lever, active and value."""

    model = Action
    serializer_class = s.ActionSerializer
    queryset = Action.objects.order_by("order", "key")
    filterset_fields = ["department", "channel", "is_active", "is_offer"]


class RecommendationFilter(api_filters.FilterSet):
    band = filters.ChoiceFilter(
        choices=list(BAND_LABELS.items()), method="filter_band", label="priority band: high, medium or low"
    )
    customer = api_filters.IdFilter(field_name="customer_id")
    action = api_filters.IdFilter(field_name="action_id")
    action_key = filters.CharFilter(field_name="action__key")
    status = filters.ChoiceFilter(choices=Recommendation.Status.choices)
    owner = filters.ChoiceFilter(
        choices=[("me", "me")], method="filter_owner", label="'me': customers the caller owns"
    )

    class Meta:
        model = Recommendation
        fields = ["customer", "action", "action_key", "status", "owner", "band"]

    def filter_band(self, queryset, name, value):
        return queryset.in_band(value)

    def filter_owner(self, queryset, name, value):
        return queryset.filter(customer__owner=self.request.user) if value == "me" else queryset


class Closed(Exception):
    """Feedback on a recommendation the engine closed, without a successor: answered with 409."""

    def __init__(self, exc: services.RecommendationClosed):
        self.message = str(exc)
        self.recommendation = exc.recommendation


def _retried(rec: Recommendation, replay: dict, user) -> Recommendation | None:
    """A retry of feedback that went to a successor: the same customer and action, decided by the same
    user after the recommendation was closed, showing exactly this feedback."""
    later = (
        Recommendation.objects.select_related("customer", "action", "decided_by")
        .filter(
            customer_id=rec.customer_id, action_id=rec.action_id, decided_by=user, pk__gt=rec.pk, **replay
        )
        .order_by("-pk")
        .first()
    )
    if later is not None:
        later.replaced = rec
    return later


def _feedback(rec: Recommendation, fn, *, replay: dict, **kwargs) -> Recommendation:
    """Call a feedback service. When the recommendation already shows exactly this feedback, the
    request is a retry: answer with it unchanged (the service wrote its one event the first time)."""
    try:
        return fn(recommendation_id=rec.pk, **kwargs)
    except services.RecommendationClosed as exc:
        retried = _retried(rec, replay, kwargs["user"])
        if retried is not None:
            return retried
        raise Closed(exc) from exc
    except services.FeedbackError as exc:
        current = Recommendation.objects.select_related("customer", "action", "decided_by").get(pk=rec.pk)
        if all(getattr(current, field) == value for field, value in replay.items()):
            return current
        raise serializers.ValidationError({"status": [str(exc)]}) from exc


class RecommendationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InsightsViewSet):
    """Recommendations of the customers the caller may see, highest priority first."""

    model = Recommendation
    filterset_class = RecommendationFilter
    action_permissions = {
        "accept": "insights.change_recommendation",
        "dismiss": "insights.change_recommendation",
        "complete": "insights.change_recommendation",
    }

    def get_queryset(self):
        return (
            Recommendation.objects.visible_to(self.request.user)
            .select_related("customer", "action", "decided_by")
            .order_by("-priority", "id")
        )

    def get_serializer_class(self):
        return s.RecommendationSerializer if self.action == "list" else s.RecommendationDetailSerializer

    def _answer(self, rec: Recommendation) -> Response:
        return Response(s.RecommendationDetailSerializer(rec, context=self.get_serializer_context()).data)

    def handle_exception(self, exc):
        if isinstance(exc, Closed):
            current = (
                Recommendation.objects.open()
                .filter(customer_id=exc.recommendation.customer_id)
                .select_related("customer", "action", "decided_by")
                .order_by("rank", "-priority")[:CUSTOMER_TOP]
            )
            body = {
                "detail": exc.message,
                "status": exc.recommendation.status,
                "current": s.RecommendationDetailSerializer(
                    current, many=True, context=self.get_serializer_context()
                ).data,
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        return super().handle_exception(exc)

    @extend_schema(
        request=s.AcceptSerializer,
        responses={200: s.RecommendationDetailSerializer, 409: s.RecommendationClosedSerializer},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        rec = self.get_object()
        data = s.AcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rec = _feedback(
            rec,
            services.recommendation_accept,
            replay={"status": Recommendation.Status.ACCEPTED},
            user=request.user,
            follow_up_on=data.validated_data.get("follow_up_on"),
        )
        return self._answer(rec)

    @extend_schema(
        request=s.DismissSerializer,
        responses={200: s.RecommendationDetailSerializer, 409: s.RecommendationClosedSerializer},
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        rec = self.get_object()
        data = s.DismissSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reason = data.validated_data["reason"]
        rec = _feedback(
            rec,
            services.recommendation_dismiss,
            replay={"status": Recommendation.Status.DISMISSED, "dismiss_reason": reason},
            user=request.user,
            reason=reason,
            note=data.validated_data["note"],
        )
        return self._answer(rec)

    @extend_schema(
        request=s.CompleteSerializer,
        responses={200: s.RecommendationDetailSerializer, 409: s.RecommendationClosedSerializer},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        rec = self.get_object()
        data = s.CompleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = data.validated_data["outcome"]
        rec = _feedback(
            rec,
            services.recommendation_complete,
            replay={"status": Recommendation.Status.COMPLETED, "outcome": outcome},
            user=request.user,
            outcome=outcome,
            note=data.validated_data["note"],
        )
        return self._answer(rec)


class CustomerViewSet(InsightsViewSet):
    """Per customer (404 unless the caller may see the customer): top recommendations, rescoring."""

    model = Recommendation
    queryset = Customer.objects.none()  # typed path parameter for the schema; requests use get_queryset
    # Rescoring changes what the rep is shown, so it needs the same right as giving feedback.
    action_permissions = {
        "recommendations": "insights.view_recommendation",
        "rescore": "insights.change_recommendation",
    }
    pagination_class = None
    serializer_class = s.RescoreSerializer  # what OPTIONS describes (it was a 500 without one)

    def get_queryset(self):
        return Customer.objects.visible_to(self.request.user)

    def _customer(self, pk) -> Customer:
        return get_object_or_404(self.get_queryset().only("pk"), pk=pk)

    @extend_schema(parameters=[CUSTOMER_ID], responses=s.RecommendationDetailSerializer(many=True))
    @action(detail=True, methods=["get"])
    def recommendations(self, request, pk=None):
        """The customer's open recommendations by rank, with reasons and talking points."""
        customer = self._customer(pk)
        recs = (
            Recommendation.objects.open()
            .filter(customer=customer)
            .select_related("customer", "action", "decided_by")
            .order_by("rank", "-priority")[:CUSTOMER_TOP]
        )
        context = self.get_serializer_context()
        return Response(s.RecommendationDetailSerializer(recs, many=True, context=context).data)

    @extend_schema(parameters=[CUSTOMER_ID], request=None, responses={202: s.RescoreSerializer})
    @action(detail=True, methods=["post"])
    def rescore(self, request, pk=None):
        """Enqueue the incremental (debounced) rescoring of this customer."""
        customer = self._customer(pk)
        enqueued = services.customers_rescore_request(customer_ids=[customer.pk])
        return Response(
            {"customer": customer.pk, "enqueued": bool(enqueued)}, status=status.HTTP_202_ACCEPTED
        )


class ModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, InsightsViewSet):
    """Trained propensity models with their metrics (managers and admins: insights.view_modelversion)."""

    model = ModelVersion
    serializer_class = s.ModelVersionSerializer
    queryset = ModelVersion.objects.select_related("action").order_by(
        "action__order", "action__key", "-version"
    )
    filterset_fields = ["action", "is_active"]
