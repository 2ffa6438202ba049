from rest_framework import serializers

from customer360.models import Customer, TimelineEvent


class CustomerSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "customer_number",
            "kind",
            "display_name",
            "first_name",
            "last_name",
            "company",
            "email",
            "phone",
            "street",
            "postcode",
            "city",
            "country",
            "preferred_language",
            "owner",
            "lifecycle",
            "attributes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["customer_number", "created_at", "updated_at"]


class TimelineEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = TimelineEvent
        fields = [
            "id",
            "occurred_at",
            "recorded_at",
            "department",
            "kind",
            "channel",
            "direction",
            "title",
            "summary",
            "actor",
            "source_url",
            "payload",
        ]

    def get_actor(self, event: TimelineEvent) -> str:
        if event.actor_id:
            return event.actor.get_full_name() or event.actor.get_username()
        return event.actor_label


class CustomerDetailSerializer(CustomerSerializer):
    key_facts = serializers.JSONField(read_only=True, help_text="brief and panel facts of every department")

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "key_facts"]
