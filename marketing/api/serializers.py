"""Serializers of the marketing API."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customer360 import conditions
from customer360.api.fields import BoundedDateTimeField
from marketing.models import Campaign, Consent, ConsentChannel, Purpose, Segment, Touch


class ConsentSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = Consent
        fields = [
            "id",
            "customer",
            "channel",
            "purpose",
            "status",
            "is_active",
            "granted_at",
            "method",
            "source",
            "wording_version",
            "confirmed_at",
            "withdrawn_at",
            "withdrawal_reason",
            "updated_at",
        ]
        read_only_fields = fields


class ConsentTargetSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1)
    channel = serializers.ChoiceField(choices=ConsentChannel.choices)
    purpose = serializers.ChoiceField(choices=Purpose.choices)


class ConsentGrantSerializer(ConsentTargetSerializer):
    method = serializers.ChoiceField(choices=Consent.Method.choices)
    source = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    wording_version = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    confirmed = serializers.BooleanField(required=False, default=False)
    occurred_at = BoundedDateTimeField(required=False, allow_null=True, default=None)


class ConsentWithdrawSerializer(ConsentTargetSerializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    method = serializers.ChoiceField(
        choices=Consent.Method.choices, required=False, allow_blank=True, default=""
    )
    source = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    occurred_at = BoundedDateTimeField(required=False, allow_null=True, default=None)


class FunnelSerializer(serializers.Serializer):
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    converted = serializers.IntegerField()
    bounced = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()


class CampaignSerializer(serializers.ModelSerializer):
    funnel = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "channel",
            "purpose",
            "audience",
            "starts_at",
            "ends_at",
            "status",
            "description",
            "created_at",
            "launched_at",
            "completed_at",
            "funnel",
        ]
        read_only_fields = ["status", "created_at", "launched_at", "completed_at"]

    @extend_schema_field(FunnelSerializer)
    def get_funnel(self, campaign: Campaign) -> dict:
        return {status: getattr(campaign, f"n_{status}", 0) or 0 for status in Touch.Status.values}

    def validate(self, attrs):
        starts = attrs.get("starts_at", getattr(self.instance, "starts_at", None))
        ends = attrs.get("ends_at", getattr(self.instance, "ends_at", None))
        if starts and ends and ends < starts:
            raise serializers.ValidationError({"ends_at": "The end lies before the start."})
        if self.instance is not None and not self.instance.is_editable:
            raise serializers.ValidationError(
                {"status": f"A {self.instance.status} campaign cannot be edited."}
            )
        return attrs


class RecordTouchSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1)
    status = serializers.ChoiceField(choices=Touch.Status.choices)
    occurred_at = BoundedDateTimeField(required=False, allow_null=True, default=None)
    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class TouchSerializer(serializers.ModelSerializer):
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)

    class Meta:
        model = Touch
        fields = ["id", "campaign", "campaign_name", "customer", "status", "occurred_at", "external_id"]
        read_only_fields = fields


class RuleSerializer(serializers.Serializer):
    field = serializers.CharField()
    op = serializers.CharField(default="eq")
    value = serializers.JSONField()


class SegmentSerializer(serializers.ModelSerializer):
    rules = RuleSerializer(many=True, required=False)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "match",
            "rules",
            "requires_channel",
            "requires_purpose",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_rules(self, rules):
        rules = [dict(rule) for rule in rules]
        try:
            conditions.clean(rules)  # stored as given (JSON-safe); typed again on every evaluation
            return rules
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate(self, attrs):
        channel = attrs.get("requires_channel", getattr(self.instance, "requires_channel", ""))
        purpose = attrs.get("requires_purpose", getattr(self.instance, "requires_purpose", ""))
        if bool(channel) != bool(purpose):
            raise serializers.ValidationError(
                {"requires_purpose": "Give both channel and purpose of the required consent, or neither."}
            )
        return attrs


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class LaunchResultSerializer(serializers.Serializer):
    sent = serializers.IntegerField()
    status = serializers.CharField()


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer_number = serializers.CharField()
    display_name = serializers.CharField()
    city = serializers.CharField()
