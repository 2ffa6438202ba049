"""Customers and their timeline over the API: the same scope and data as the pages."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from customer360 import search
from customer360.api.serializers import (
    CustomerDetailSerializer,
    CustomerSerializer,
    TimelineEventSerializer,
    TimelinePageSerializer,
    TimelineQuerySerializer,
)
from customer360.audit.access import Action, record_access
from customer360.facts import key_facts
from customer360.models import Customer
from customer360.timeline_page import filtered_events, page_after


class CustomerViewSet(viewsets.ReadOnlyModelViewSet):
    """Customers the caller may see; others answer 404."""

    serializer_class = CustomerSerializer

    def get_queryset(self):
        customers = Customer.objects.visible_to(self.request.user).select_related("owner").order_by("id")
        query = self.request.query_params.get("q", "") if self.action == "list" else ""
        return search.filter_customers(customers, query) if query else customers

    def list(self, request, *args, **kwargs):
        """Customers the caller may see (paged); each page read is one access-log row."""
        response = super().list(request, *args, **kwargs)
        results = response.data.get("results", []) if isinstance(response.data, dict) else response.data
        record_access(
            request, Action.API_READ, customers=[row["id"] for row in results], what="api customers"
        )
        return response

    @extend_schema(responses=CustomerDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        """One customer with the key facts of every department and the brief."""
        customer = self.get_object()
        data = CustomerSerializer(customer).data
        data["key_facts"] = key_facts(request, customer)
        record_access(request, Action.API_READ, customers=[customer.pk], what="api customer")
        return Response(data)

    @extend_schema(parameters=[TimelineQuerySerializer], responses=TimelinePageSerializer)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request, pk=None):
        """The customer's timeline, newest first, cursor-paginated (never OFFSET)."""
        customer = get_object_or_404(self.get_queryset(), pk=pk)
        query = TimelineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        events, _filters = filtered_events(request.user, customer, params)
        rows, next_cursor = page_after(events, params.get("cursor", ""), size=params["size"])
        record_access(request, Action.API_READ, customers=[customer.pk], rows=len(rows), what="api timeline")
        return Response({"next": next_cursor, "results": TimelineEventSerializer(rows, many=True).data})
