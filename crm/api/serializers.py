"""Serializers of the crm API; writes go through the services (one timeline event per action)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from crm.models import Activity, Contract, Deal, Pipeline, Product, Satisfaction, Stage, Ticket, TicketMessage
from customer360.api.fields import VisibleCustomerField

User = get_user_model()


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name", "code", "price", "is_active"]


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "pipeline", "name", "order", "probability", "is_won", "is_lost"]


class PipelineSerializer(serializers.ModelSerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Pipeline
        fields = ["id", "name", "is_default", "stages"]


class ContractSerializer(serializers.ModelSerializer):
    customer = VisibleCustomerField()

    class Meta:
        model = Contract
        fields = [
            "id",
            "customer",
            "product",
            "start",
            "end",
            "renewal_date",
            "value_per_year",
            "status",
            "renewals",
            "cancelled_at",
        ]
        read_only_fields = ["status", "renewals", "cancelled_at"]
        extra_kwargs = {"value_per_year": {"required": False}}


class RenewSerializer(serializers.Serializer):
    renewal_date = serializers.DateField(
        required=False, help_text="new renewal date; retries with the same date are no-ops"
    )


class DealSerializer(serializers.ModelSerializer):
    customer = VisibleCustomerField()
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all(), required=False)
    stage_name = serializers.CharField(source="stage.name", read_only=True)
    owner = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False, allow_null=True)

    class Meta:
        model = Deal
        fields = [
            "id",
            "customer",
            "title",
            "amount",
            "expected_close",
            "stage",
            "stage_name",
            "owner",
            "status",
            "lost_reason",
            "created_at",
            "closed_at",
        ]
        read_only_fields = ["status", "lost_reason", "created_at", "closed_at"]


class DealUpdateSerializer(DealSerializer):
    class Meta(DealSerializer.Meta):
        read_only_fields = ["customer", "stage", "status", "lost_reason", "created_at", "closed_at"]


class MoveSerializer(serializers.Serializer):
    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all())


class LostSerializer(serializers.Serializer):
    # Optional here: an empty reason is refused by the service, naming lost_reason.
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ActivitySerializer(serializers.ModelSerializer):
    customer = VisibleCustomerField()
    deal = serializers.PrimaryKeyRelatedField(queryset=Deal.objects.all(), required=False, allow_null=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Activity
        fields = [
            "id",
            "customer",
            "kind",
            "subject",
            "notes",
            "outcome",
            "occurred_at",
            "follow_up_date",
            "follow_up_done",
            "user",
            "deal",
        ]
        read_only_fields = ["follow_up_done", "user"]
        extra_kwargs = {"occurred_at": {"required": False}}


class TicketSerializer(serializers.ModelSerializer):
    customer = VisibleCustomerField()
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True
    )
    sla_state = serializers.CharField(read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "customer",
            "subject",
            "description",
            "channel",
            "category",
            "priority",
            "status",
            "assignee",
            "opened_at",
            "first_response_at",
            "solved_at",
            "closed_at",
            "first_response_due",
            "resolution_due",
            "sla_breached_first_response",
            "sla_breached_resolution",
            "first_response_breached_at",
            "resolution_breached_at",
            "sla_paused_since",
            "sla_paused_minutes",
            "sla_state",
        ]
        read_only_fields = [
            f
            for f in fields
            if f not in {"customer", "subject", "description", "channel", "category", "priority", "assignee"}
        ]


class TicketUpdateSerializer(TicketSerializer):
    customer = serializers.PrimaryKeyRelatedField(read_only=True)


class TicketStatusSerializer(serializers.Serializer):
    """Waiting for the customer (the SLA clock pauses) or open (it runs again)."""

    status = serializers.ChoiceField(choices=[Ticket.Status.WAITING, Ticket.Status.OPEN])


class TicketMessageSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TicketMessage
        fields = ["id", "ticket", "author", "body", "is_internal", "created_at"]
        read_only_fields = ["ticket", "author", "created_at"]


class SatisfactionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Satisfaction
        fields = ["id", "ticket", "score", "comment", "created_at"]
        read_only_fields = ["ticket", "created_at"]
