from rest_framework import serializers

from customer360.models import Channel, Customer, Department, TimelineEvent


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


class TimelineQuerySerializer(serializers.Serializer):
    """The timeline endpoint's query parameters; an invalid one answers 400 naming it."""

    cursor = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="opaque cursor from the previous page's `next`",
    )
    size = serializers.IntegerField(required=False, min_value=1, max_value=200, default=25)
    department = serializers.ChoiceField(choices=Department.choices, required=False, allow_blank=True)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    kind = serializers.CharField(
        required=False, allow_blank=True, max_length=60, help_text="exact kind, or a prefix ending in '.'"
    )
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="text inside title or summary"
    )


class TimelinePageSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True, help_text="cursor of the next page, null on the last one")
    results = TimelineEventSerializer(many=True)
