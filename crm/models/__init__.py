"""Sales (orders and their lines, exchange rates, products, contracts, pipelines, deals, activities) and service (tickets, SLA, CSAT).

The rules about one record live on its model (``Ticket.transition_to``, ``Deal.move_to_stage``,
``Deal.win``/``lose``, ``Contract.renew``/``cancel``, ``Activity.ensure_valid``): the services and the
imports both call them. Every model with a customer has ``objects.visible_to(user)``.
"""

from crm.models.base import CustomerRecordQuerySet, refuse
from crm.models.orders import ExchangeRate, Order, OrderLine
from crm.models.sales import Activity, Contract, Deal, Pipeline, Product, Stage
from crm.models.service import (
    BusinessHours,
    ClosingDay,
    Priority,
    Satisfaction,
    SlaPolicy,
    Ticket,
    TicketMessage,
)

__all__ = [
    "Activity",
    "BusinessHours",
    "ClosingDay",
    "Contract",
    "CustomerRecordQuerySet",
    "Deal",
    "ExchangeRate",
    "Order",
    "OrderLine",
    "Pipeline",
    "Priority",
    "Product",
    "Satisfaction",
    "SlaPolicy",
    "Stage",
    "Ticket",
    "TicketMessage",
    "refuse",
]
