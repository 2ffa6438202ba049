"""Serializers of the billing API. Writes go through the services (one write path, one event)."""

from __future__ import annotations

from rest_framework import serializers

from billing import services
from billing.models import DunningLevel, DunningNotice, DunningPolicy, Invoice, InvoiceLine, Payment
from customer360.api.fields import BoundedDateTimeField, VisibleCustomerField

MONEY = {"max_digits": 12, "decimal_places": 2}


class InvoiceLineSerializer(serializers.ModelSerializer):
    net_amount = serializers.DecimalField(read_only=True, **MONEY)
    tax_amount = serializers.DecimalField(read_only=True, **MONEY)
    gross_amount = serializers.DecimalField(read_only=True, **MONEY)

    class Meta:
        model = InvoiceLine
        fields = [
            "position", "product_code", "description", "quantity", "unit_price", "tax_rate",
            "net_amount", "tax_amount", "gross_amount",
        ]  # fmt: skip
        read_only_fields = ["position"]


class InvoiceSerializer(serializers.ModelSerializer):
    customer = VisibleCustomerField()
    customer_number = serializers.CharField(source="customer.customer_number", read_only=True)
    customer_name = serializers.CharField(source="customer.display_name", read_only=True)
    lines = InvoiceLineSerializer(many=True)
    open_amount = serializers.DecimalField(read_only=True, **MONEY)
    number = serializers.CharField(required=False, allow_blank=True, max_length=20)
    issue = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text="issue right away"
    )

    class Meta:
        model = Invoice
        fields = [
            "id", "number", "customer", "customer_number", "customer_name", "issue_date", "due_date",
            "currency", "status", "net_total", "tax_total", "gross_total", "fees_total", "paid_amount",
            "open_amount", "dunning_level", "last_dunned_on", "dunning_paused", "dunning_paused_until",
            "promise_to_pay_date", "disputed", "dispute_reason", "handed_over_at", "notes", "lines",
            "issue", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = [
            "currency", "status", "net_total", "tax_total", "gross_total", "fees_total", "paid_amount",
            "dunning_level", "last_dunned_on", "dunning_paused", "dunning_paused_until", "promise_to_pay_date",
            "disputed", "dispute_reason", "handed_over_at", "created_at", "updated_at",
        ]  # fmt: skip

    def validate_lines(self, lines):
        if not lines:
            raise serializers.ValidationError("An invoice needs at least one line.")
        return lines

    def create(self, validated_data):
        actor = self.context["request"].user
        invoice = services.invoice_create(
            customer=validated_data["customer"],
            issue_date=validated_data.get("issue_date"),
            due_date=validated_data["due_date"],
            lines=validated_data["lines"],
            number=validated_data.get("number", ""),
            notes=validated_data.get("notes", ""),
            actor=actor,
        )
        if validated_data.get("issue"):
            invoice = services.invoice_issue(invoice=invoice, actor=actor)
        return invoice

    def update(self, invoice, validated_data):
        if "customer" in validated_data and validated_data["customer"] != invoice.customer:
            raise serializers.ValidationError({"customer": "The customer of an invoice cannot change."})
        return services.invoice_update_draft(
            invoice=invoice,
            issue_date=validated_data.get("issue_date", invoice.issue_date),
            due_date=validated_data.get("due_date", invoice.due_date),
            lines=validated_data.get("lines") or [
                {f: getattr(line, f) for f in ("product_code", "description", "quantity", "unit_price", "tax_rate")}
                for line in invoice.lines.all()
            ],
            notes=validated_data.get("notes", invoice.notes),
        )  # fmt: skip


class PaymentSerializer(serializers.ModelSerializer):
    invoice = serializers.PrimaryKeyRelatedField(queryset=Invoice.objects.none())
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "amount",
            "received_at",
            "method",
            "reference",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Only invoices the caller may see can be paid through the API.
            self.fields["invoice"].queryset = Invoice.objects.visible_to(request.user)

    def create(self, validated_data):
        return services.invoice_record_payment(actor=self.context["request"].user, **validated_data)


class RecordPaymentSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY)
    received_at = BoundedDateTimeField(required=False, allow_null=True)
    method = serializers.ChoiceField(choices=Payment.Method.choices, default=Payment.Method.BANK_TRANSFER)
    reference = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")


class DisputeSerializer(serializers.Serializer):
    reason = serializers.CharField()


class ResolveDisputeSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PromiseSerializer(serializers.Serializer):
    promised_date = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class PauseSerializer(serializers.Serializer):
    until = serializers.DateField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class DunningNoticeSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = DunningNotice
        fields = [
            "id", "invoice", "invoice_number", "level", "fee", "channel", "language", "open_amount", "text",
            "sent_at", "delivered_at",
        ]  # fmt: skip


class DunningLevelSerializer(serializers.ModelSerializer):
    class Meta:
        model = DunningLevel
        fields = [
            "id",
            "policy",
            "level",
            "name",
            "days_after_due",
            "fee",
            "channel",
            "hands_over",
            "text_de",
            "text_en",
        ]


class DunningPolicySerializer(serializers.ModelSerializer):
    levels = DunningLevelSerializer(many=True, read_only=True)

    class Meta:
        model = DunningPolicy
        fields = ["id", "name", "is_active", "levels"]


class DunningRunSerializer(serializers.Serializer):
    job = serializers.IntegerField(read_only=True)
    status = serializers.CharField(read_only=True)
