"""The campaign list exports as XLSX and as CSV in the reader's format: the filtered campaigns with
their funnel (counts per customer, no person named, so no access-log row)."""

import csv
import io

import pytest

from customer360.audit.models import AccessLog
from marketing import services
from tests.conftest import client_for
from tests.customer360.test_exports import sheet_rows
from tests.factories import CustomerFactory
from tests.marketing.factories import CampaignFactory, SegmentFactory, grant, running_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaigns():
    vienna, graz = CustomerFactory(city="Wien"), CustomerFactory(city="Graz")
    for customer in (vienna, graz):
        grant(customer)
    spring = running_campaign(name="Frühjahrsaktion", audience=SegmentFactory(name="Alle Wiener"))
    for customer in (vienna, graz):
        services.touch_record(campaign=spring, customer=customer, status="sent")
    services.touch_record(campaign=spring, customer=vienna, status="opened", external_id="o1")
    services.touch_record(campaign=spring, customer=vienna, status="opened", external_id="o2")
    CampaignFactory(name="=HYPERLINK()", channel="letter", purpose="offers")  # a draft
    return spring


def test_campaign_list_xlsx_has_the_filtered_campaigns_with_their_funnel(marketing_user, campaigns):
    rows = sheet_rows(client_for(marketing_user).get("/marketing/campaigns/?status=running&export=xlsx"))
    header, body = rows[0], rows[1:]
    assert header[:5] == ("Name", "Channel", "Purpose", "Status", "Audience")
    assert len(body) == 1
    row = dict(zip(header, body[0], strict=True))
    assert (row["Name"], row["Status"], row["Audience"]) == ("Frühjahrsaktion", "Running", "Alle Wiener")
    assert (row["Sent"], row["Opened"], row["Clicked"]) == (2, 1, 0)  # distinct customers, as on the page
    everything = sheet_rows(client_for(marketing_user).get("/marketing/campaigns/?export=xlsx"))
    assert sorted(r[0] for r in everything[1:]) == ["'=HYPERLINK()", "Frühjahrsaktion"]  # no formula
    assert not AccessLog.objects.exists()


def test_campaign_list_csv_in_german_uses_semicolons(marketing_user, campaigns):
    response = client_for(marketing_user).get(
        "/marketing/campaigns/?channel=letter&export=csv", HTTP_ACCEPT_LANGUAGE="de"
    )
    assert response["Content-Disposition"] == 'attachment; filename="campaigns.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["Name", "Kanal", "Zweck", "Status"]
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [("'=HYPERLINK()", "Brief", "Entwurf")]


def test_campaign_list_offers_the_export_and_refuses_a_stranger(marketing_user, rep, campaigns):
    html = client_for(marketing_user).get("/marketing/campaigns/?status=running").content.decode()
    assert "?status=running&amp;export=xlsx" in html
    assert client_for(rep).get("/marketing/campaigns/?export=xlsx").status_code in (403, 404)
