"""Serializers of the NBA API. Texts (names, reasons, talking points) come in the request language
through the model helpers; writes of recommendations go through the services."""

from __future__ import annotations

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from insights.features import features
from insights.models import BAND_LABELS, Action, ModelVersion, Recommendation


def _language() -> str:
    return get_language() or "en"


class ActionSerializer(serializers.ModelSerializer):
    """The catalogue entry; only the business levers (lever, active, value) are writable."""

    name = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    talking_points = serializers.SerializerMethodField()

    class Meta:
        model = Action
        fields = [
            "id",
            "key",
            "name",
            "description",
            "talking_points",
            "department",
            "channel",
            "is_offer",
            "is_no_contact",
            "value_fixed",
            "value_feature",
            "value_factor",
            "lever",
            "is_active",
        ]
        read_only_fields = ["key", "department", "channel", "is_offer", "is_no_contact"]
        extra_kwargs = {
            "value_fixed": {"min_value": 0},
            "value_factor": {"min_value": 0},
            "lever": {"min_value": 0},
        }

    def get_name(self, action: Action) -> str:
        return action.name(_language())

    def get_description(self, action: Action) -> str:
        return action.description(_language())

    def get_talking_points(self, action: Action) -> list[str]:
        return action.talking_points(_language())

    def validate_value_feature(self, value: str) -> str:
        # The engine silently falls back to value_fixed for unknown columns; refuse them here instead.
        feature = features.get(value) if value else None
        if value and (feature is None or feature.kind != "num"):
            raise serializers.ValidationError(_("Unknown numeric feature: %(name)s.") % {"name": value})
        return value


class RecommendationSerializer(serializers.ModelSerializer):
    """A recommendation with its reasons in the request language (list and detail)."""

    customer_name = serializers.CharField(source="customer.display_name", read_only=True)
    action_key = serializers.CharField(source="action.key", read_only=True)
    action_name = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    priority_band = serializers.ChoiceField(
        source="band", choices=list(BAND_LABELS), read_only=True, help_text="high, medium or low"
    )
    expected_value = serializers.FloatField(read_only=True, help_text="propensity x value (EUR)")

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "customer",
            "customer_name",
            "action",
            "action_key",
            "action_name",
            "status",
            "rank",
            "priority",
            "priority_band",
            "expected_value",
            "propensity",
            "value",
            "context_weight",
            "lever",
            "is_exploration",
            "reasons",
            "created_at",
            "scored_at",
            "decided_at",
            "decided_by",
            "dismiss_reason",
            "outcome",
            "note",
            "follow_up_on",
        ]
        read_only_fields = fields

    def get_action_name(self, rec: Recommendation) -> str:
        return rec.action.name(_language())

    def get_reasons(self, rec: Recommendation) -> list[str]:
        return rec.reason_texts(_language())


class RecommendationDetailSerializer(RecommendationSerializer):
    """Adds what the rep says in the call: the action's description and talking points."""

    action_description = serializers.SerializerMethodField()
    talking_points = serializers.SerializerMethodField()
    replaced_recommendation = serializers.SerializerMethodField(
        help_text="After feedback on a recommendation that a rescoring had replaced: its id (the feedback "
        "was recorded on this one, its successor for the same customer and action)."
    )

    class Meta(RecommendationSerializer.Meta):
        fields = [
            *RecommendationSerializer.Meta.fields,
            "action_description",
            "talking_points",
            "replaced_recommendation",
        ]
        read_only_fields = fields

    def get_replaced_recommendation(self, rec: Recommendation) -> int | None:
        replaced = getattr(rec, "replaced", None)
        return replaced.pk if replaced is not None else None

    def get_action_description(self, rec: Recommendation) -> str:
        return rec.action.description(_language())

    def get_talking_points(self, rec: Recommendation) -> list[str]:
        return rec.action.talking_points(_language())


class RecommendationClosedSerializer(serializers.Serializer):
    """409: the recommendation was superseded by a rescoring or expired and has no open successor."""

    detail = serializers.CharField(help_text="what happened, in plain words")
    status = serializers.ChoiceField(choices=Recommendation.Status.choices)
    current = RecommendationDetailSerializer(many=True, help_text="the customer's open recommendations now")


class AcceptSerializer(serializers.Serializer):
    follow_up_on = serializers.DateField(required=False, help_text="when to follow up; default in 7 days")


class DismissSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Recommendation.DismissReason.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class CompleteSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Recommendation.Outcome.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ModelVersionSerializer(serializers.ModelSerializer):
    # A learned outcome's model (churn or payment risk) has no action: its key is then null, and
    # ``outcome`` names what it predicts.
    action_key = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id", "action", "action_key", "outcome", "version", "auc", "n", "metrics", "trained_at", "is_active",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_action_key(self, version: ModelVersion) -> str | None:
        return version.action.key if version.action_id else None


class RescoreSerializer(serializers.Serializer):
    customer = serializers.IntegerField(read_only=True)
    enqueued = serializers.BooleanField(
        read_only=True, help_text="false when a rescoring of this customer is already pending"
    )
