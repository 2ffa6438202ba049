"""Marketing API: campaigns (launch, record-touch), touches, consents (grant, withdraw), segments."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from customer360 import access
from customer360.api import filters as api_filters
from customer360.conditions import RuleError
from customer360.models import Customer
from marketing import services
from marketing.api import serializers as s
from marketing.models import Campaign, Consent, Segment, Touch


# --- Consents --------------------------------------------------------------------------------------
class ConsentFilter(api_filters.FilterSet):
    class Meta:
        model = Consent
        fields = ["customer", "channel", "purpose", "status"]


class ConsentViewSet(viewsets.ReadOnlyModelViewSet):
    """Consents of customers the caller may see; grant and withdraw as actions."""

    serializer_class = s.ConsentSerializer
    filterset_class = ConsentFilter
    action_permissions = {
        "grant": "marketing.add_consent",
        "withdraw": "marketing.change_consent",
        "confirm": "marketing.change_consent",
    }

    def get_queryset(self):
        return Consent.objects.of_visible_customers(self.request.user).order_by("id")

    @extend_schema(request=s.ConsentGrantSerializer, responses=s.ConsentSerializer)
    @action(detail=False, methods=["post"])
    def grant(self, request):
        data = self._validated(s.ConsentGrantSerializer, request)
        customer = access.visible_customer(request.user, data.pop("customer"))
        consent = services.consent_grant(customer=customer, actor=request.user, **data)
        return Response(s.ConsentSerializer(consent).data)

    @extend_schema(request=s.ConsentWithdrawSerializer, responses=s.ConsentSerializer)
    @action(detail=False, methods=["post"])
    def withdraw(self, request):
        data = self._validated(s.ConsentWithdrawSerializer, request)
        customer = access.visible_customer(request.user, data.pop("customer"))
        consent = services.consent_withdraw(customer=customer, actor=request.user, **data)
        return Response(s.ConsentSerializer(consent).data)

    @extend_schema(request=None, responses=s.ConsentSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        consent = self.get_object()
        consent = services.consent_confirm(consent=consent, actor=request.user)
        return Response(s.ConsentSerializer(consent).data)

    @staticmethod
    def _validated(serializer_class, request) -> dict:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        return data


# --- Campaigns -------------------------------------------------------------------------------------
class CampaignFilter(api_filters.FilterSet):
    class Meta:
        model = Campaign
        fields = ["status", "channel", "purpose", "audience"]


class CampaignViewSet(viewsets.ModelViewSet):
    """Campaigns with their funnel; launch and record-touch as actions."""

    serializer_class = s.CampaignSerializer
    filterset_class = CampaignFilter
    action_permissions = {
        "launch": ("marketing.change_campaign", "marketing.add_touch"),
        "complete": "marketing.change_campaign",
        "record_touch": "marketing.add_touch",
    }

    def get_queryset(self):
        return Campaign.objects.with_funnel().order_by("-id")

    def perform_create(self, serializer):
        serializer.instance = services.campaign_create(actor=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance):
        if instance.status != Campaign.Status.DRAFT:
            raise ValidationError({"status": "Only draft campaigns can be deleted."})
        instance.delete()

    @extend_schema(request=None, responses=s.LaunchResultSerializer)
    @action(detail=True, methods=["post"])
    def launch(self, request, pk=None):
        campaign = self.get_object()
        sent = services.campaign_launch(campaign=campaign, actor=request.user)
        return Response({"sent": sent, "status": campaign.status})

    @extend_schema(request=None, responses=s.CampaignSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        campaign = self.get_object()
        services.campaign_complete(campaign=campaign)
        return Response(s.CampaignSerializer(self.get_object()).data)

    @extend_schema(
        request=s.RecordTouchSerializer, responses={200: s.TouchSerializer, 201: s.TouchSerializer}
    )
    @action(detail=True, methods=["post"], url_path="record-touch")
    def record_touch(self, request, pk=None):
        campaign = self.get_object()
        serializer = s.RecordTouchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        customer = access.visible_customer(request.user, data.pop("customer"))
        touch, created = services.touch_record(
            campaign=campaign, customer=customer, actor=request.user, **data
        )
        return Response(s.TouchSerializer(touch).data, status=201 if created else 200)


class TouchFilter(api_filters.FilterSet):
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Touch
        fields = ["campaign", "customer", "status"]


class TouchViewSet(viewsets.ReadOnlyModelViewSet):
    """Touches of customers the caller may see."""

    serializer_class = s.TouchSerializer
    filterset_class = TouchFilter

    def get_queryset(self):
        return (
            Touch.objects.filter(customer__in=Customer.objects.visible_to(self.request.user))
            .select_related("campaign")
            .order_by("-occurred_at", "-id")
        )


# --- Segments --------------------------------------------------------------------------------------
class SegmentViewSet(viewsets.ModelViewSet):
    """Saved rule sets; count and members (customers the caller may see) as actions."""

    serializer_class = s.SegmentSerializer
    filterset_fields = ["match", "requires_channel", "requires_purpose"]

    def get_queryset(self):
        return Segment.objects.order_by("name", "id")

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    def perform_destroy(self, instance):
        if instance.campaigns.exists():
            raise ValidationError({"id": "The segment is the audience of a campaign."})
        instance.delete()

    def _members(self, segment: Segment):
        try:
            return segment.members(base=Customer.objects.visible_to(self.request.user))
        except RuleError as exc:
            raise ValidationError({"rules": exc.messages}) from None

    @extend_schema(responses=s.CountSerializer)
    @action(detail=True, methods=["get"])
    def count(self, request, pk=None):
        return Response({"count": self._members(self.get_object()).count()})

    @extend_schema(responses=s.MemberSerializer(many=True))
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        members = self._members(self.get_object()).order_by("id")
        page = self.paginate_queryset(members)
        return self.get_paginated_response(s.MemberSerializer(page, many=True).data)
