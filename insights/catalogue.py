"""The seeded action catalogue (plain data, also used by the data migration and the demo).

Success and label kinds name the declarations (``DEAL_WON``), not retyped kind strings; the admin
edits them as text afterwards.
"""

from __future__ import annotations

from billing.events import INVOICE_PAID, PAYMENT_PROMISED, PAYMENT_RECEIVED
from crm.events import CALL_LOGGED, CONTRACT_RENEWED, CONTRACT_STARTED, CSAT_RECEIVED, DEAL_WON
from marketing.events import CONSENT_GIVEN, TOUCHES
from marketing.models import ConsentChannel, Touch

EMAIL_CONVERTED = TOUCHES[(ConsentChannel.EMAIL, Touch.Status.CONVERTED)]


def _kinds(*declarations) -> str:
    """An action's ``success_kinds`` text: the kinds of the declarations, comma-separated."""
    return ",".join(d.kind for d in declarations)


def _rule(kind, field, op, value="", weight=1.0, group=0, en="", de=""):
    return {
        "kind": kind,
        "field": field,
        "op": op,
        "value": str(value),
        "weight": weight,
        "group": group,
        "reason_en": en,
        "reason_de": de,
    }


E, A, S = "eligibility", "applicability", "suitability"
NO_COMPLAINT = _rule(E, "open_complaints", "eq", 0)
DUNNING_BELOW_2 = _rule(E, "dunning_level", "lt", 2)
NOT_CHURNED = _rule(E, "lifecycle", "ne", "churned")
RECENT_CONTACT = _rule(S, "days_since_last_contact", "lt", 7, weight=0.5)

DEFAULT_ACTIONS: list[dict] = [
    {
        "key": "service_recovery_call",
        "order": 10,
        "name_en": "Service-recovery call",
        "name_de": "Service-Wiedergutmachungsanruf",
        "description_en": "Call to put right what went wrong before anything else is offered.",
        "description_de": "Anruf, um Versäumtes gutzumachen, bevor irgendetwas angeboten wird.",
        "talking_points_en": "Apologise for the trouble and name it concretely.\nAsk whether the solution works now.\nOffer a goodwill gesture if the case allows it.\nDo not pitch anything in this call.",
        "talking_points_de": "Für die Unannehmlichkeit entschuldigen und sie konkret benennen.\nFragen, ob die Lösung jetzt passt.\nWenn der Fall es erlaubt, eine Kulanz anbieten.\nIn diesem Gespräch nichts verkaufen.",
        "department": "service",
        "channel": "phone",
        "is_offer": False,
        "value_fixed": 800.0,
        "prior": 0.35,
        "success_kinds": _kinds(CSAT_RECEIVED, CONTRACT_RENEWED),
        "rules": [
            _rule(A, "open_complaints", "gte", 1, group=1),
            _rule(A, "complaints_90", "gte", 1, group=1),
            _rule(A, "last_csat", "lte", 2, group=1),
            _rule(S, "last_csat", "lte", 2, weight=1.5),
            _rule(S, "has_contract", "true", weight=1.2),
        ],
    },
    {
        "key": "payment_plan_offer",
        "order": 20,
        "name_en": "Payment-plan offer",
        "name_de": "Ratenzahlung anbieten",
        "description_en": "Offer instalments for overdue invoices instead of escalating the dunning.",
        "description_de": "Raten für überfällige Rechnungen anbieten statt die Mahnung zu eskalieren.",
        "talking_points_en": "Mention the open amount calmly, without reproach.\nPropose 3 or 6 monthly instalments.\nAgree on the first date and confirm it in writing.",
        "talking_points_de": "Den offenen Betrag ruhig und ohne Vorwurf ansprechen.\n3 oder 6 Monatsraten vorschlagen.\nErsten Termin vereinbaren und schriftlich bestätigen.",
        "department": "accounting",
        "channel": "phone",
        "is_offer": False,
        "value_fixed": 100.0,
        "value_feature": "overdue_amount",
        "value_factor": 0.5,
        "prior": 0.3,
        "success_kinds": _kinds(PAYMENT_RECEIVED, INVOICE_PAID, PAYMENT_PROMISED),
        "rules": [
            _rule(A, "dunning_level", "gte", 1),
            _rule(A, "overdue_amount", "gt", 0),
            _rule(S, "dunning_level", "gte", 2, weight=1.5),
        ],
    },
    {
        "key": "renewal_call",
        "order": 30,
        "name_en": "Renewal call",
        "name_de": "Verlängerungsgespräch",
        "description_en": "Talk about the contract before it renews.",
        "description_de": "Vor der Verlängerung über den Vertrag sprechen.",
        "talking_points_en": "Review what the customer uses and what they need.\nConfirm the renewal date and terms.\nListen for changes in their business.",
        "talking_points_de": "Nutzung und Bedarf gemeinsam durchgehen.\nVerlängerungstermin und Konditionen bestätigen.\nAuf Veränderungen im Geschäft achten.",
        "department": "sales",
        "channel": "phone",
        "is_offer": False,
        "value_fixed": 1000.0,
        "prior": 0.4,
        "success_kinds": _kinds(CONTRACT_RENEWED),
        "rules": [
            _rule(A, "has_contract", "true"),
            _rule(A, "days_to_renewal", "lte", 60),
            _rule(S, "days_to_renewal", "lte", 30, weight=1.5),
            RECENT_CONTACT,
        ],
    },
    {
        "key": "upsell",
        "order": 40,
        "name_en": "Upsell (premium plan)",
        "name_de": "Upgrade (Premium-Tarif)",
        "description_en": "Offer the next plan to customers who use and like what they have.",
        "description_de": "Den nächsthöheren Tarif Kunden anbieten, die ihren nutzen und schätzen.",
        "talking_points_en": "Refer to what they clicked or asked about.\nShow one concrete benefit of the premium plan.\nOffer a trial month instead of pushing.",
        "talking_points_de": "An das anknüpfen, was geklickt oder gefragt wurde.\nEinen konkreten Vorteil des Premium-Tarifs zeigen.\nProbemonat anbieten statt zu drängen.",
        "department": "sales",
        "channel": "phone",
        "is_offer": True,
        "purpose": "offers",
        "value_fixed": 400.0,
        "value_feature": "monetary_365",
        "value_factor": 0.2,
        "prior": 0.1,
        "success_kinds": _kinds(DEAL_WON),
        "rules": [
            NO_COMPLAINT,
            DUNNING_BELOW_2,
            NOT_CHURNED,
            _rule(E, "last_csat", "ne", 1),
            _rule(A, "has_contract", "true"),
            _rule(S, "email_clicks_30", "gte", 1, weight=1.5),
            _rule(S, "last_csat", "lte", 2, weight=0.3),
            RECENT_CONTACT,
        ],
    },
    {
        "key": "cross_sell",
        "order": 50,
        "name_en": "Cross-sell",
        "name_de": "Cross-Selling",
        "description_en": "A complementary product that fits what the customer owns.",
        "description_de": "Ein ergänzendes Produkt zu dem, was der Kunde hat.",
        "talking_points_en": "Name what the customer already uses.\nExplain how the add-on saves time or money.\nSend the details by e-mail.",
        "talking_points_de": "Benennen, was der Kunde bereits nutzt.\nZeigen, wie die Ergänzung Zeit oder Geld spart.\nDetails per E-Mail senden.",
        "department": "marketing",
        "channel": "email",
        "is_offer": True,
        "purpose": "offers",
        "value_fixed": 250.0,
        "prior": 0.06,
        "success_kinds": _kinds(EMAIL_CONVERTED, DEAL_WON),
        "rules": [
            NO_COMPLAINT,
            DUNNING_BELOW_2,
            NOT_CHURNED,
            _rule(E, "has_email", "true"),
            _rule(A, "lifecycle", "in", "customer,at_risk"),
            _rule(S, "email_opens_30", "gte", 2, weight=1.3),
        ],
    },
    {
        "key": "win_back",
        "order": 60,
        "name_en": "Win-back",
        "name_de": "Rückgewinnung",
        "description_en": "A personal offer to a customer who left or is about to leave.",
        "description_de": "Ein persönliches Angebot an Kunden, die gegangen sind oder gehen wollen.",
        "talking_points_en": "Ask openly why they left.\nMention what has changed since.\nMake one clear offer with a deadline.",
        "talking_points_de": "Offen fragen, warum er gegangen ist.\nErwähnen, was sich seither geändert hat.\nEin klares Angebot mit Frist machen.",
        "department": "marketing",
        "channel": "email",
        "is_offer": True,
        "purpose": "offers",
        "value_fixed": 500.0,
        "prior": 0.05,
        "success_kinds": _kinds(CONTRACT_STARTED, DEAL_WON),
        "rules": [
            NO_COMPLAINT,
            DUNNING_BELOW_2,
            _rule(A, "lifecycle", "in", "churned,at_risk", group=1),
            _rule(A, "contract_cancelled", "true", group=1),
        ],
    },
    {
        "key": "consent_refresh",
        "order": 70,
        "name_en": "Consent refresh",
        "name_de": "Einwilligung erneuern",
        "description_en": "Ask whether the customer would like to hear about offers again.",
        "description_de": "Fragen, ob der Kunde wieder über Angebote informiert werden möchte.",
        "talking_points_en": "Explain what they would receive and how often.\nAccept a no without discussion.",
        "talking_points_de": "Erklären, was und wie oft er bekäme.\nEin Nein ohne Diskussion akzeptieren.",
        "department": "marketing",
        "channel": "email",
        "is_offer": False,
        "value_fixed": 60.0,
        "prior": 0.15,
        "success_kinds": _kinds(CONSENT_GIVEN),
        "rules": [
            _rule(E, "has_email", "true"),
            _rule(E, "unsubscribes_90", "eq", 0),
            _rule(E, "open_complaints", "eq", 0),
            _rule(A, "consent_email_offers", "false"),
            _rule(A, "lifecycle", "in", "customer,at_risk"),
            _rule(S, "email_opens_90", "gte", 1, weight=1.5),
        ],
    },
    {
        "key": "no_contact",
        "order": 90,
        "name_en": "No contact now",
        "name_de": "Jetzt nicht kontaktieren",
        "description_en": "Nothing would serve the customer now; leave them in peace.",
        "description_de": "Nichts würde dem Kunden jetzt nützen; in Ruhe lassen.",
        "talking_points_en": "If the customer calls, listen and help; do not offer anything.",
        "talking_points_de": "Wenn der Kunde anruft: zuhören und helfen, nichts anbieten.",
        "department": "internal",
        "channel": "internal",
        "is_offer": False,
        "is_no_contact": True,
        "value_fixed": 10.0,
        "prior": 1.0,
        "exploration_share": 0.0,
        "rules": [
            _rule(S, "days_since_last_contact", "lt", 7, weight=5.0),
            _rule(S, "open_complaints", "gte", 1, weight=2.0),
        ],
    },
]

TERM_DEPOSIT_ACTION = {
    "key": "term_deposit_offer",
    "order": 80,
    "name_en": "Term deposit offer",
    "name_de": "Festgeld-Angebot",
    "description_en": "Offer a term deposit by phone (bank campaign).",
    "description_de": "Festgeld telefonisch anbieten (Bank-Kampagne).",
    "talking_points_en": "Mention the current rate and the term.\nAsk about savings goals first.",
    "talking_points_de": "Aktuellen Zinssatz und Laufzeit nennen.\nZuerst nach Sparzielen fragen.",
    "department": "sales",
    "channel": "phone",
    "is_offer": True,
    "purpose": "offers",
    "value_fixed": 200.0,
    "prior": 0.11,
    "min_outcomes": 200,
    "label_kind": CALL_LOGGED.kind,
    "label_topic": "term_deposit",
    "label_positive": "accepted",
    "validation": "stratified",
    "rules": [NO_COMPLAINT, DUNNING_BELOW_2],
}

ACTION_FIELDS = (
    "order",
    "name_en",
    "name_de",
    "description_en",
    "description_de",
    "talking_points_en",
    "talking_points_de",
    "department",
    "channel",
    "is_offer",
    "purpose",
    "is_no_contact",
    "value_fixed",
    "value_feature",
    "value_factor",
    "prior",
    "exploration_share",
    "min_outcomes",
    "label_kind",
    "label_topic",
    "label_positive",
    "success_kinds",
    "validation",
)


def seed_actions(action_model, rule_model, definitions: list[dict] | None = None) -> int:
    """Create the actions that are missing (existing ones stay as the admin edited them)."""
    created = 0
    for definition in definitions or DEFAULT_ACTIONS:
        defaults = {k: definition[k] for k in ACTION_FIELDS if k in definition}
        action, new = action_model.objects.get_or_create(key=definition["key"], defaults=defaults)
        if new:
            created += 1
            rule_model.objects.bulk_create(
                [rule_model(action=action, **rule) for rule in definition["rules"]]
            )
    return created
