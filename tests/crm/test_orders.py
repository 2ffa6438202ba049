"""Import target crm.order_line: orders, purchase lines, cancellations as negative lines, amounts in
two currencies, and purchases counted as revenue on the 360 page, in the brief, the conditions and
the features."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.events import DEAL_WON
from crm.models import ExchangeRate, Order, OrderLine
from customer360 import events
from customer360.formatting import money
from customer360.models import Customer, TimelineEvent
from customer360.registry import conditions
from tests.conftest import client_for, shared_data
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import counts, mapping, run_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_sandbox")]

ORDER_MAPPING = mapping(
    order_id="InvoiceNo",
    stock_code="StockCode",
    description="Description",
    quantity="Quantity",
    ordered_at="InvoiceDate",
    unit_price="UnitPrice",
    external_id="CustomerID",
    currency="Currency",
)
# Customer 17850 buys twice and takes back 2 lanterns; 13047 pays in CHF (no rate), 12583 in EUR.
ORDERS = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Currency
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,GBP
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,GBP
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,GBP
536366,22633,HAND WARMER UNION JACK,6,2010-12-02 08:28:00,1.85,17850,GBP
C536379,71053,WHITE METAL LANTERN,-2,2010-12-03 09:41:00,3.39,17850,GBP
536370,22728,ALARM CLOCK BAKELIKE PINK,24,2010-12-01 08:45:00,3.75,12583,EUR
536371,22086,PAPER CHAIN KIT,80,2010-12-01 09:00:00,2.55,13047,CHF
536372,22632,HAND WARMER RED POLKA DOT,abc,2010-12-01 09:01:00,1.85,13047,GBP
"""


@pytest.fixture
def gbp_rate(db):
    # 1 GBP = 1.17 EUR from 1 Nov 2010; a later rate does not apply to December's orders.
    ExchangeRate.objects.create(currency="GBP", valid_from=date(2010, 11, 1), rate=Decimal("1.17"))
    ExchangeRate.objects.create(currency="GBP", valid_from=date(2011, 6, 1), rate=Decimal("1.30"))


def _source():
    return DataSourceFactory(slug="shop", target="crm.order_line", department="sales")


def test_lines_become_orders_with_a_cancellation_as_negative_lines_in_two_currencies(gbp_rate):
    run = run_file(_source(), ORDERS, ORDER_MAPPING)

    # 6 lines in; the CHF line (no rate) and the line with quantity "abc" are refused with the reason.
    assert counts(run) == (6, 0, 0, 0, 2)
    reasons = _errors(run)
    assert 'Column "Currency": "CHF"' in reasons["8"] and "no exchange rate" in reasons["8"]
    assert 'Column "Quantity": "abc"' in reasons["9"]

    anna = Customer.objects.get(identities__value="17850")
    first = Order.objects.get(number="536365")
    assert (first.customer, first.currency, first.rate, first.is_cancellation) == (
        anna,
        "GBP",
        Decimal("1.17000000"),
        False,
    )
    # Two identical lines stay two lines (the shop sold the lanterns twice).
    assert first.lines.count() == 3
    assert first.total == Decimal("15.30") + 2 * Decimal("20.34")
    assert first.total_base == Decimal("65.4966")  # 55.98 GBP x 1.17
    cancellation = Order.objects.get(number="C536379")
    assert cancellation.is_cancellation
    line = cancellation.lines.get()
    assert (line.quantity, line.unit_price, line.amount, line.amount_base) == (
        Decimal("-2"),
        Decimal("3.39"),
        Decimal("-6.78"),
        Decimal("-7.9326"),
    )
    assert Order.objects.get(number="536370").total_base == Decimal("90.00")  # EUR: rate 1

    # One event per order, tagged revenue; the cancellation subtracts.
    placed = TimelineEvent.objects.get(kind="purchase.ordered", payload__number="536365")
    assert placed.title == "Order 536365: 3 lines, EUR 65.50"
    assert placed.summary == "Paid in GBP: 55.98"
    assert placed.payload["amount"] == "65.4966" and placed.department == "sales"
    assert TimelineEvent.objects.get(kind="purchase.cancelled").payload["amount"] == "-7.9326"
    assert {"purchase.ordered", "purchase.cancelled"} <= set(events.kinds(tag="revenue"))

    # A rerun of the same file creates nothing.
    again = run_file(_source_again(), ORDERS, ORDER_MAPPING)
    assert counts(again) == (0, 0, 6, 0, 2)
    assert OrderLine.objects.count() == 6
    assert TimelineEvent.objects.filter(kind__startswith="purchase.").count() == 4


def _errors(run) -> dict[str, str]:
    with run.error_file.open("rb") as handle:
        rows = csv.DictReader(io.StringIO(handle.read().decode("utf-8-sig")))
        return {row["c360_row"]: row["c360_errors"] for row in rows}


def _source_again():
    from customer360.models import DataSource

    return DataSource.objects.get(slug="shop")


def test_purchases_count_as_revenue_on_the_360_page_brief_and_conditions(gbp_rate, rep, settings):
    run_file(_source(), ORDERS, ORDER_MAPPING)
    anna = Customer.objects.get(identities__value="17850")
    anna.owner = rep
    anna.save(update_fields=["owner"])
    # 55.98 + 11.10 - 6.78 = 60.30 GBP; x 1.17 = 70.551 EUR
    page = client_for(rep).get(anna.get_absolute_url()).content.decode()
    sales = page[page.index('data-fact="purchases"') :][:600]
    assert "GBP 60.30 = EUR 70.55" in sales and "2 orders" in sales
    billing = page[page.index('data-panel="billing"') :]
    billing = billing[: billing.index("</dl>")]
    assert "Revenue, lifetime</dt><dd>EUR 70.55</dd>" in billing
    # A won deal is invoiced and paid later: it is not money received, so the figure stays.
    DEAL_WON.record(
        customer=anna, key="test:deal-won-1",
        payload=DEAL_WON.payload(deal_id=1, title="Big deal", amount="1000.00", stage="Won"),
    )  # fmt: skip
    page = client_for(rep).get(anna.get_absolute_url()).content.decode()
    assert "Revenue, lifetime</dt><dd>EUR 70.55</dd>" in page

    brief = client_for(rep).get(anna.get_absolute_url()).context["brief"]
    assert any("Bought EUR 70.55 in 2 orders" in item.text for item in brief.info)

    lifetime = conditions.items["crm.purchases_lifetime"]
    eur_buyer = Customer.objects.get(identities__value="12583")  # EUR 90.00
    assert set(Customer.objects.filter(lifetime.build("gt", "70"))) == {anna, eur_buyer}
    assert set(Customer.objects.filter(lifetime.build("gt", "70.56"))) == {eur_buyer}
    # A customer without orders counts 0.
    nobody = Customer.objects.create(first_name="Zoe", last_name="Null")
    assert nobody in Customer.objects.filter(lifetime.build("lt", "1"))


@pytest.mark.realdata
def test_online_retail_lifetime_revenue_of_20_customers_equals_pandas_in_gbp_and_converted(gbp_rate, rep):
    """../shared/data/online_retail through the orders target: the lines of 20 customers (the first
    20 customer ids of the file with a cancellation among them), currency GBP."""
    import pandas as pd

    path = shared_data("online_retail", "online_retail_2010-2011_first50k.csv")
    frame = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str})
    frame = frame.dropna(subset=["CustomerID"])
    frame["CustomerID"] = frame["CustomerID"].astype(int).astype(str)
    cancelling = frame[frame["InvoiceNo"].str.startswith("C")]["CustomerID"].unique()[:5]
    chosen = list(dict.fromkeys([*cancelling, *frame["CustomerID"].unique()]))[:20]
    lines = frame[frame["CustomerID"].isin(chosen)].assign(Currency="GBP")
    text = lines.to_csv(index=False)

    run = run_file(_source(), text, ORDER_MAPPING)
    assert (run.created, run.failed) == (len(lines), 0)

    expected = (lines["Quantity"] * lines["UnitPrice"]).groupby(lines["CustomerID"]).sum()
    client = client_for(rep)
    rep.is_superuser = True  # sees every customer and every panel
    rep.save(update_fields=["is_superuser"])
    for customer_id in chosen:
        customer = Customer.objects.get(identities__value=customer_id)
        gbp = Decimal(str(round(expected[customer_id], 2)))
        eur = gbp * Decimal("1.17")  # formatted (rounded) like the page
        ctx = client.get(customer.get_absolute_url()).content.decode()
        assert f"Revenue, lifetime</dt><dd>{money(eur)}</dd>" in ctx, customer_id
        sales = ctx[ctx.index('data-fact="purchases"') :][:400]
        assert f"{money(gbp, 'GBP')} = {money(eur)}" in sales, customer_id


def test_an_admin_maintains_the_rate_table_on_its_page_and_by_csv(admin_user, rep, marketing_user):
    admin = client_for(admin_user)
    response = admin.post(
        "/sales/exchange-rates/", {"currency": "gbp", "valid_from": "2010-11-01", "rate": "1.17"}
    )
    assert response.status_code == 302
    assert ExchangeRate.objects.get(currency="GBP").rate == Decimal("1.17")
    csv_file = SimpleUploadedFile(
        "rates.csv",
        b"Currency;Date;Rate\nGBP;01.11.2010;1,18\nUSD;2010-12-01;0.75\nXX;2010-12-01;1\nCHF;2010-12-01;0\n",
    )
    page = admin.post("/sales/exchange-rates/import/", {"file": csv_file}, follow=True).content.decode()
    assert "2 rates saved." in page
    assert (
        "Line 4: &quot;XX&quot; is not a currency code" in page
        and "Line 5: &quot;0&quot; is not a rate" in page
    )
    # The same day's rate is replaced, not doubled; the table shows what an order date would use.
    assert ExchangeRate.objects.get(currency="GBP").rate == Decimal("1.18")
    assert ExchangeRate.objects.table(["GBP"]).rate("GBP", date(2010, 12, 1)) == Decimal("1.18")
    assert ExchangeRate.objects.table(["GBP"]).rate("GBP", date(2010, 10, 31)) is None
    assert "USD" in admin.get("/sales/exchange-rates/").content.decode()

    # A sales rep reads the table but cannot change it; marketing does not see it.
    assert client_for(rep).get("/sales/exchange-rates/").status_code == 200
    assert "Add a rate" not in client_for(rep).get("/sales/exchange-rates/").content.decode()
    refused = client_for(rep).post(
        "/sales/exchange-rates/", {"currency": "USD", "valid_from": "2011-01-01", "rate": "2"}
    )
    assert (
        refused.status_code == 403 and not ExchangeRate.objects.filter(valid_from=date(2011, 1, 1)).exists()
    )
    assert client_for(marketing_user).get("/sales/exchange-rates/").status_code == 403


def test_orders_count_in_the_customer_base_dashboards_revenue(gbp_rate):
    from analytics import customer_rollups
    from analytics.models import CustomerRevenue

    run_file(_source(), ORDERS, ORDER_MAPPING)
    anna = Customer.objects.get(identities__value="17850")
    customer_rollups.customer_revenue_rebuild(None)
    days = dict(CustomerRevenue.objects.filter(customer=anna).values_list("day", "amount"))
    # 1 Dec: 55.98 GBP, 2 Dec: 11.10 GBP, 3 Dec: the cancellation -6.78 GBP; x 1.17 in EUR.
    assert {d.isoformat(): round(a, 4) for d, a in days.items()} == {
        "2010-12-01": 65.4966,
        "2010-12-02": 12.987,
        "2010-12-03": -7.9326,
    }


def test_purchases_count_in_the_revenue_feature(gbp_rate):
    from insights.features.compute import build_features

    run_file(_source(), ORDERS, ORDER_MAPPING)
    anna = Customer.objects.get(identities__value="17850")
    now = datetime(2011, 1, 1, tzinfo=ZoneInfo("Europe/Vienna"))
    row = build_features([anna.pk], now=now).loc[anna.pk]
    assert round(row["monetary_365"], 2) == 70.55  # 60.30 GBP x 1.17, the cancellation subtracted
    assert (
        build_features([anna.pk], now=datetime(2012, 6, 1, tzinfo=ZoneInfo("Europe/Vienna"))).loc[anna.pk][
            "monetary_365"
        ]
        == 0.0
    )
