"""The dunning run under controlled time: escalation, fees, pauses, idempotency, payments."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from billing import services
from billing.models import DunningNotice, Invoice
from customer360.models import TimelineEvent
from tests.billing.factories import at, make_invoice

ISSUED = datetime.date(2026, 1, 5)
DUE = datetime.date(2026, 1, 19)
pytestmark = pytest.mark.django_db


def day(offset: int) -> datetime.date:
    """``offset`` days after the due date."""
    return DUE + datetime.timedelta(days=offset)


@pytest.fixture
def invoice(customer, accounting_user):
    with time_machine.travel(at(ISSUED), tick=False):
        return make_invoice(
            customer, issue_date=ISSUED, due_date=DUE, actor=accounting_user, number="2026-0142"
        )


def run(offset: int):
    with time_machine.travel(at(day(offset)), tick=False):
        return services.dunning_run()


def notice_events(invoice):
    return TimelineEvent.objects.filter(customer=invoice.customer, kind="dunning.notice").order_by("id")


def test_8_days_overdue_gives_level_1_and_one_event_then_level_2_with_fee(invoice):
    result = run(8)
    invoice.refresh_from_db()
    assert result.marked_overdue == 1
    assert result.notices == {1: 1}
    assert invoice.status == Invoice.Status.OVERDUE
    assert invoice.dunning_level == 1
    assert invoice.fees_total == Decimal("0.00")
    notice = DunningNotice.objects.get(invoice=invoice)
    assert (notice.level, notice.fee, notice.channel, notice.language) == (1, Decimal("0.00"), "email", "de")
    assert "2026-0142" in notice.text and "EUR 1.240,00" in notice.text and "19.01.2026" in notice.text
    events = list(notice_events(invoice))
    assert [e.title for e in events] == ["Invoice 2026-0142 overdue: level 1, EUR 1,240.00"]
    assert events[0].payload["level"] == 1 and events[0].payload["invoice_id"] == invoice.pk
    assert events[0].department == "accounting" and events[0].source_url == f"/billing/invoices/{invoice.pk}/"

    result = run(8 + 14)
    invoice.refresh_from_db()
    assert result.notices == {2: 1}
    assert invoice.dunning_level == 2
    assert invoice.fees_total == Decimal("10.00")
    assert invoice.open_amount == Decimal("1250.00")
    assert invoice.open_principal == Decimal("1240.00")
    assert [e.title for e in notice_events(invoice)][-1] == "Invoice 2026-0142 overdue: level 2, EUR 1,240.00"
    level2 = DunningNotice.objects.get(invoice=invoice, level=2)
    assert level2.fee == Decimal("10.00") and "EUR 10,00" in level2.text
    assert DunningNotice.objects.filter(invoice=invoice).count() == 2


def test_before_the_first_threshold_only_marks_overdue(invoice):
    result = run(3)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.dunning_level, result.total) == ("overdue", 0, 0)
    assert not notice_events(invoice).exists()


def test_one_level_per_day_even_when_far_overdue(invoice):
    assert run(60).notices == {1: 1}
    assert run(61).notices == {2: 1}
    assert run(62).notices == {3: 1}
    assert run(63).notices == {4: 1}
    assert run(64).total == 0
    invoice.refresh_from_db()
    assert invoice.dunning_level == 4
    assert invoice.handed_over_at is not None
    assert invoice.fees_total == Decimal("30.00")
    assert TimelineEvent.objects.filter(customer=invoice.customer, kind="dunning.handed_over").count() == 1


def test_running_twice_on_the_same_day_changes_nothing(invoice):
    run(40)
    snapshot = (
        list(Invoice.objects.values_list("dunning_level", "fees_total", "status", "revision")),
        DunningNotice.objects.count(),
        TimelineEvent.objects.count(),
    )
    second = run(40)
    assert second.total == 0 and second.marked_overdue == 0
    assert snapshot == (
        list(Invoice.objects.values_list("dunning_level", "fees_total", "status", "revision")),
        DunningNotice.objects.count(),
        TimelineEvent.objects.count(),
    )


def test_escalate_is_claimed_once(invoice):
    """Two workers escalating the same invoice to the same level: one notice, one event."""
    run(3)
    from billing.models import DunningPolicy

    level = DunningPolicy.active().levels.get(level=1)
    first = services.dunning_escalate(invoice_id=invoice.pk, level=level, today=day(8))
    second = services.dunning_escalate(invoice_id=invoice.pk, level=level, today=day(8))
    assert first is not None and second is None
    assert notice_events(invoice).count() == 1


def test_full_payment_closes_the_case(invoice, accounting_user):
    run(8)
    with time_machine.travel(at(day(10)), tick=False):
        payment = services.invoice_record_payment(
            invoice=invoice, amount=Decimal("1240.00"), reference="BANK-1", actor=accounting_user
        )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.open_amount == 0
    events = TimelineEvent.objects.filter(customer=invoice.customer, kind="payment.received")
    assert [e.title for e in events] == ["Payment EUR 1,240.00 received: invoice 2026-0142 paid in full"]
    assert events[0].payload["paid_in_full"] is True and events[0].payload["payment_id"] == payment.pk
    assert not TimelineEvent.objects.filter(customer=invoice.customer, kind="invoice.paid").exists()
    assert run(30).total == 0 and run(60).total == 0
    assert DunningNotice.objects.filter(invoice=invoice).count() == 1
    # a retried bank import with the same reference books nothing twice
    again = services.invoice_record_payment(invoice=invoice, amount=Decimal("1240.00"), reference="BANK-1")
    assert again.pk == payment.pk and events.count() == 1


def test_partial_payment_keeps_dunning_going(invoice):
    run(8)
    with time_machine.travel(at(day(9)), tick=False):
        services.invoice_record_payment(invoice=invoice, amount=Decimal("240.00"))
    invoice.refresh_from_db()
    assert invoice.status == "overdue" and invoice.open_amount == Decimal("1000.00")
    title = TimelineEvent.objects.get(kind="payment.received").title
    assert title == "Payment EUR 240.00 received: invoice 2026-0142, EUR 1,000.00 still open"
    run(21)
    invoice.refresh_from_db()
    assert invoice.dunning_level == 2
    assert notice_events(invoice).last().title == "Invoice 2026-0142 overdue: level 2, EUR 1,000.00"


def test_paying_fees_in_full_settles_the_invoice(invoice):
    run(8)
    run(21)
    invoice.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.invoice_record_payment(invoice=invoice, amount=Decimal("1250.01"))
    assert "amount" in exc.value.message_dict
    services.invoice_record_payment(invoice=invoice, amount=Decimal("1250.00"))
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_a_dispute_pauses_escalation_until_resolved(invoice, accounting_user):
    run(8)
    with time_machine.travel(at(day(9)), tick=False):
        services.invoice_dispute(invoice=invoice, reason="Delivery incomplete", actor=accounting_user)
    assert run(25).total == 0 and run(40).total == 0
    invoice.refresh_from_db()
    assert (invoice.status, invoice.dunning_level) == ("disputed", 1)
    assert TimelineEvent.objects.filter(kind="invoice.disputed").count() == 1
    with time_machine.travel(at(day(41)), tick=False):
        services.invoice_resolve_dispute(invoice=invoice, note="Part delivered", actor=accounting_user)
    invoice.refresh_from_db()
    assert invoice.status == "overdue"
    assert run(41).notices == {2: 1}


def test_a_payment_promise_pauses_until_its_date(invoice, accounting_user):
    run(8)
    with time_machine.travel(at(day(20)), tick=False):
        services.invoice_promise_payment(invoice=invoice, promised_date=day(30), actor=accounting_user)
    assert run(21).total == 0
    assert run(30).total == 0  # the promised day itself still waits
    assert run(31).notices == {2: 1}
    event = TimelineEvent.objects.get(kind="payment.promised")
    assert event.title == f"Payment of invoice 2026-0142 promised by {day(30):%-d %b %Y} (EUR 1,240.00)"


def test_pause_and_resume(invoice, accounting_user):
    run(8)
    with time_machine.travel(at(day(10)), tick=False):
        services.dunning_pause(invoice=invoice, reason="Replacement ships", actor=accounting_user)
        services.dunning_pause(invoice=invoice, reason="Replacement ships", actor=accounting_user)  # retry
    assert TimelineEvent.objects.filter(kind="dunning.paused").count() == 1
    assert run(30).total == 0
    with time_machine.travel(at(day(31)), tick=False):
        services.dunning_resume(invoice=invoice, actor=accounting_user)
    assert run(31).notices == {2: 1}
    assert TimelineEvent.objects.filter(kind="dunning.resumed").count() == 1


def test_pause_until_a_date_expires_by_itself(invoice):
    run(8)
    with time_machine.travel(at(day(10)), tick=False):
        services.dunning_pause(invoice=invoice, until=day(25))
    assert run(25).total == 0
    assert run(26).notices == {2: 1}


def test_cancelled_invoice_cannot_be_paid_and_is_not_dunned(invoice):
    services.invoice_cancel(invoice=invoice, reason="wrong address")
    with pytest.raises(ValidationError) as exc:
        services.invoice_record_payment(invoice=invoice, amount=Decimal("10.00"))
    assert exc.value.message_dict == {
        "status": ["Invoice 2026-0142 is cancelled; a cancelled invoice cannot be paid."]
    }
    assert run(60).total == 0 and run(60).marked_overdue == 0
    assert not DunningNotice.objects.exists()


def test_overpaying_is_refused_and_nothing_is_written(invoice):
    with pytest.raises(ValidationError) as exc:
        services.invoice_record_payment(invoice=invoice, amount=Decimal("1240.01"))
    assert exc.value.message_dict == {
        "amount": ["EUR 1,240.01 is more than the open amount of EUR 1,240.00."]
    }
    invoice.refresh_from_db()
    assert invoice.paid_amount == 0 and not invoice.payments.exists()
    assert not TimelineEvent.objects.filter(kind="payment.received").exists()


def test_cancel_refused_with_payments(invoice):
    services.invoice_record_payment(invoice=invoice, amount=Decimal("100"))
    with pytest.raises(ValidationError) as exc:
        services.invoice_cancel(invoice=invoice)
    assert "refund them before cancelling" in exc.value.message_dict["status"][0]


def test_issue_writes_one_event(invoice):
    events = TimelineEvent.objects.filter(kind="invoice.issued")
    assert [e.title for e in events] == ["Invoice 2026-0142 issued: EUR 1,240.00, due 19 Jan 2026"]
    with pytest.raises(ValidationError):
        services.invoice_issue(invoice=invoice)
    assert events.count() == 1


def test_run_dunning_task_records_a_job(invoice, django_capture_on_commit_callbacks):
    from billing.tasks import run_dunning
    from customer360.models import Job

    with time_machine.travel(at(day(8)), tick=False):
        summary = run_dunning()
    job = Job.objects.get(kind="billing.dunning_run")
    assert job.status == "done" and job.result == summary
    assert summary["notices"] == {"1": 1} and summary["marked_overdue"] == 1
