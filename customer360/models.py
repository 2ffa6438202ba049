"""The shared customer model and the one timeline every department writes to."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Exists, F, OuterRef, ProtectedError, Q, Subquery
from django.db.models.functions import Length
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from customer360 import roles
from customer360.audit.tracking import tracked
from customer360.formatting import choice_label
from customer360.registry import audiences
from customer360.text import fold_loose, fold_search, normalise_email, normalise_phone, normalise_tax_id


class Department(models.TextChoices):
    SALES = "sales", _("Sales")
    SERVICE = "service", _("Service")
    MARKETING = "marketing", _("Marketing")
    ACCOUNTING = "accounting", _("Accounting")
    INTERNAL = "internal", _("Internal")
    SYSTEM = "system", _("System")


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    LETTER = "letter", _("Letter")
    SMS = "sms", _("SMS")
    WEB = "web", _("Web")
    IN_PERSON = "in_person", _("In person")
    CHAT = "chat", _("Chat")
    API = "api", _("API")
    INTERNAL = "internal", _("Internal")
    OTHER = "other", _("Other")


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")
    INTERNAL = "internal", _("Internal")


class ExternalRecord(models.Model):
    """A record that may come from another system: its source and id there, unique per source.

    Department models inherit it (with ``class Meta(ExternalRecord.Meta)``) instead of repeating the
    two fields and the constraint; the constraint is named ``<app>_<model>_external_id``.
    """

    external_source = models.CharField(
        _("external source"), max_length=80, blank=True, default="", editable=False
    )
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="", editable=False)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["external_source", "external_id"],
                condition=~Q(external_id=""),
                name="%(app_label)s_%(class)s_external_id",
            ),
        ]


class StaffProfile(models.Model):
    """What the app knows about an employee beyond the login: team and job title."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    team = models.CharField(_("team"), max_length=80, blank=True)
    title = models.CharField(_("job title"), max_length=120, blank=True)
    # Set by the language switch; e-mails outside a request (the digest) use it. Empty: the site's.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.team or '-'})"


class CustomerDeletionRefused(ProtectedError):
    """Customers are never deleted directly: erasure (a request approved by a second person) is
    the only way to remove a person, and it keeps the invoices the law requires."""

    def __init__(self) -> None:
        message = _(
            "A customer cannot be deleted. To remove a person's data, file an erasure "
            "request on the customer's privacy page."
        )
        super().__init__(str(message), set())


_customer_deletion_allowed: ContextVar[bool] = ContextVar("c360_customer_deletion_allowed", default=False)


@contextmanager
def customer_deletion_allowed():
    """The few internal paths that may delete customer rows: a merge deletes the merged customer
    after moving every record to the kept one; an import that lost a race folds its fresh
    customer into the winner. Nothing else may (see :class:`CustomerDeletionRefused`)."""
    token = _customer_deletion_allowed.set(True)
    try:
        yield
    finally:
        _customer_deletion_allowed.reset(token)


def _refuse_customer_deletion() -> None:
    if not _customer_deletion_allowed.get():
        raise CustomerDeletionRefused


class CustomerQuerySet(models.QuerySet):
    def delete(self):
        _refuse_customer_deletion()
        return super().delete()

    delete.alters_data = True
    delete.queryset_only = True

    def erased(self) -> CustomerQuerySet:
        """The pseudonym rows of erased people (an executed erasure request): kept for the invoices
        the law requires, and for nothing else. The marker other apps read (e.g. insights leaves
        them out of training labels, features and scoring)."""
        from customer360.privacy.models import ErasureRequest

        executed = ErasureRequest.objects.filter(status=ErasureRequest.Status.EXECUTED)
        return self.filter(pk__in=executed.values("customer_id"))

    def not_erased(self) -> CustomerQuerySet:
        """Every customer but the erased ones (see :meth:`erased`); NOT EXISTS, linear at any size."""
        return self.exclude(Exists(self.model.objects.erased().filter(pk=OuterRef("pk"))))

    def visible_to(self, user) -> CustomerQuerySet:
        """The customers ``user`` may see, and so may create or change records for. THE one place
        where this is decided; reads and writes both go through it.

        The rule per role comes from ``settings.C360_VISIBILITY``: ``all``; ``team`` (own customers,
        the team's, and unowned ones); ``assigned`` (customers assigned to one of the user's
        departments). Every user also sees the customers assigned to them personally. A user with
        several roles gets the union. Scope changes only through recorded decisions (ownership,
        team, a ``CustomerAssignment``), never as a side effect of a user's own records.
        """
        if not user or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser or settings.C360_VISIBILITY_OVERRIDE == "all":
            return self
        rules = roles.visibility_rules(user)
        if "all" in rules:
            return self
        # One EXISTS per customer row for both kinds of assignment (index c360_assignment_holders):
        # an IN list of the department's assignments had to be read whole first (linear in them).
        holders = Q(user=user)
        departments = roles.departments_of(user)
        if "assigned" in rules and departments:
            holders |= Q(department__in=departments)
        condition = Q(Exists(CustomerAssignment.objects.active().filter(holders, customer_id=OuterRef("pk"))))
        if "team" in rules:
            # The team is read inside the same query, not in a query of its own.
            team = StaffProfile.objects.filter(user=user).exclude(team="").values("team")[:1]
            condition |= Q(owner=user) | Q(owner__isnull=True) | Q(owner__profile__team=Subquery(team))
        return self.filter(condition)

    def get_visible(self, user, **lookup) -> Customer:
        """``visible_to(user).get(**lookup)``, and the answer is remembered on this user object (one
        request): the reads of that customer's own events in the same request
        (``TimelineEvent.objects.visible_to(user, customer=...)``) then need not repeat the check."""
        customer = self.visible_to(user).get(**lookup)
        seen = getattr(user, VISIBLE_CUSTOMERS, None)
        if seen is None:
            seen = set()
            setattr(user, VISIBLE_CUSTOMERS, seen)
        seen.add(customer.pk)
        return customer


#: the attribute of a (request's) user object holding the customers ``get_visible`` found visible
VISIBLE_CUSTOMERS = "_c360_visible_customers"


@tracked
class Customer(models.Model):
    """A person or an organisation the company serves; every department writes to this one row."""

    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        ORGANISATION = "organisation", _("Organisation")

    class Lifecycle(models.TextChoices):
        LEAD = "lead", _("Lead")
        PROSPECT = "prospect", _("Prospect")
        CUSTOMER = "customer", _("Customer")
        AT_RISK = "at_risk", _("At risk")
        CHURNED = "churned", _("Churned")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.PERSON)
    customer_number = models.CharField(_("customer number"), max_length=40, unique=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True, help_text=_("E.164, e.g. +4312345678"))
    street = models.CharField(_("street"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO code, e.g. AT"))
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="de"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_customers",
    )
    lifecycle = models.CharField(
        _("lifecycle"), max_length=20, choices=Lifecycle.choices, default=Lifecycle.LEAD
    )
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # Folded search key (name, company, city) for case-, accent- and umlaut-tolerant search.
    # Searched by the trigram index of migration 0003 (PostgreSQL); a b-tree would serve no query.
    search_key = models.CharField(max_length=500, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["owner", "id"], name="c360_customer_owner"),
            models.Index(fields=["lifecycle", "id"], name="c360_customer_lifecycle"),
            models.Index(fields=["country", "id"], name="c360_customer_country"),
            # next_customer_number(): longest, then greatest ("C-1000000" < "C-999999" as text)
            models.Index(
                Length("customer_number").desc(), F("customer_number").desc(), name="c360_customer_number_len"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args, **kwargs):
        self.email = normalise_email(self.email)
        if self.phone:
            self.phone = normalise_phone(self.phone, self.country or "AT") or self.phone
        self.search_key = self.build_search_key()
        if not self.customer_number:
            self.customer_number = next_customer_number()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("customer360:customer_detail", args=[self.pk])

    def delete(self, *args, **kwargs):
        _refuse_customer_deletion()
        return super().delete(*args, **kwargs)

    @property
    def display_name(self) -> str:
        person = f"{self.first_name} {self.last_name}".strip()
        if self.kind == self.Kind.ORGANISATION:
            return self.company or person or self.customer_number
        return person or self.company or self.customer_number

    def build_search_key(self) -> str:
        parts = [self.first_name, self.last_name, self.company, self.city, self.customer_number]
        folded = fold_search(" ".join(p for p in parts if p))
        loose = fold_loose(
            fold_search(" ".join(p for p in (self.first_name, self.last_name, self.company) if p))
        )
        return f"{folded} | {loose}"[:500]


def next_customer_number() -> str:
    """The next free number of the form C-000123 (unique constraint guards races)."""
    last = (
        Customer.objects.filter(customer_number__startswith="C-")
        .order_by(Length("customer_number").desc(), F("customer_number").desc())
        .values_list("customer_number", flat=True)
        .first()
    )
    try:
        number = int(last.split("-", 1)[1]) + 1 if last else 1
    except (ValueError, IndexError):
        number = Customer.objects.count() + 1
    return f"C-{number:06d}"


@tracked
class CustomerIdentity(models.Model):
    """One identifier by which some department or system knows the customer."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("E-mail")
        PHONE = "phone", _("Phone")
        EXTERNAL_ID = "external_id", _("External id")
        TAX_ID = "tax_id", _("Tax / VAT id")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="identities", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # "" for identifiers that mean the same everywhere (e-mail, phone); a data source's slug otherwise.
    source = models.CharField(_("source"), max_length=80, blank=True, default="")
    value = models.CharField(_("value"), max_length=255)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("customer identity")
        verbose_name_plural = _("customer identities")
        constraints = [
            models.UniqueConstraint(fields=["kind", "source", "value"], name="c360_identity_unique"),
        ]
        # "Who else has this value?" across sources (the unique index leads with the source).
        indexes = [models.Index(fields=["value", "kind"], name="c360_identity_value")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.source}:{self.value}"

    @staticmethod
    def normalise(kind: str, value: str, region: str = "AT") -> str:
        if kind == CustomerIdentity.Kind.EMAIL:
            return normalise_email(value)
        if kind == CustomerIdentity.Kind.PHONE:
            return normalise_phone(value, region)
        if kind == CustomerIdentity.Kind.TAX_ID:
            return normalise_tax_id(value)
        return (value or "").strip()


class CustomerAssignmentQuerySet(models.QuerySet):
    def active(self) -> CustomerAssignmentQuerySet:
        return self.filter(revoked_at__isnull=True)


@tracked
class CustomerAssignment(models.Model):
    """A recorded decision that a department or a person works with a customer, which is what puts
    the customer into their scope (``Customer.objects.visible_to``). Made by a lead or an admin on
    the customer page, by an admin's import into a department, or by the migration that replaced
    the scope derived from records; revoked, never deleted, so the decision stays on record."""

    class Origin(models.TextChoices):
        MANUAL = "manual", _("Assigned by hand")
        IMPORT = "import", _("Import into the department")
        MIGRATION = "migration", _("Department records before assignments existed")
        DEMO = "demo", _("Demo data")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("customer")
    )
    department = models.CharField(_("department"), max_length=20, choices=Department.choices, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="customer_assignments",
    )
    origin = models.CharField(_("origin"), max_length=20, choices=Origin.choices, default=Origin.MANUAL)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    created_at = models.DateTimeField(_("assigned"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    objects = CustomerAssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer assignment")
        verbose_name_plural = _("customer assignments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(department="") & Q(user__isnull=False))
                | (~Q(department="") & Q(user__isnull=True)),
                name="c360_assignment_department_xor_user",
            ),
            models.UniqueConstraint(
                fields=["department", "customer"],
                condition=Q(revoked_at__isnull=True) & ~Q(department=""),
                name="c360_assignment_department_active",
            ),
            models.UniqueConstraint(
                fields=["user", "customer"],
                condition=Q(revoked_at__isnull=True) & Q(user__isnull=False),
                name="c360_assignment_user_active",
            ),
        ]
        indexes = [
            # "Assigned to me or my department?" (``visible_to``) from the index alone (see 0035).
            models.Index(
                fields=["customer"],
                include=["department", "user"],
                condition=Q(revoked_at__isnull=True),
                name="c360_assignment_holders",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} -> {self.department or self.user_id}"


class TimelineEventQuerySet(models.QuerySet):
    def visible_to(self, user, customer: Customer | None = None) -> TimelineEventQuerySet:
        """Events of customers the user may see, without events whose audience excludes the user.
        With ``customer``: that customer's events only; when this request has read the customer
        through ``Customer.objects.get_visible(user, ...)`` (the 360 page, its timeline), the
        customer's visibility is not checked a second time in SQL (it cost a subquery per read)."""
        if customer is None:
            qs = self.filter(customer__in=Customer.objects.visible_to(user))
        else:
            qs = self.filter(customer=customer)
            if customer.pk not in getattr(user, VISIBLE_CUSTOMERS, ()):
                qs = qs.filter(customer__in=Customer.objects.visible_to(user))
        return qs.filter(Q(audience="") | Q(audience__in=audiences.allowed_for(user)))


class TimelineEvent(models.Model):
    """Something that happened with a customer, in any department. Written ONLY by
    ``customer360.timeline.record`` (and its bulk form)."""

    # No single-column indexes on the keys: c360_event_customer_newest starts with the customer.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="events", db_index=False)
    occurred_at = models.DateTimeField(_("occurred"))
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)
    department = models.CharField(_("department"), max_length=20, choices=Department.choices)
    kind = models.CharField(
        _("kind"), max_length=60, help_text=_("e.g. customer.created, or a kind a department declares")
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.OTHER)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.INTERNAL
    )
    title = models.CharField(_("title"), max_length=300)
    summary = models.TextField(_("summary"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # c360_event_actor, partial: most events have no user as actor
    )
    actor_label = models.CharField(max_length=120, blank=True, help_text=_("who, when not a user"))
    # No constraint in the database (a check per inserted event); Django still sets NULL on delete.
    source_type = models.ForeignKey(
        ContentType, on_delete=models.SET_NULL, null=True, blank=True, db_index=False, db_constraint=False
    )
    source_id = models.CharField(max_length=64, blank=True)
    source_url = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # Who else may see it: "" for everyone who sees the customer; e.g. "collab.space:3" otherwise.
    audience = models.CharField(max_length=80, blank=True, default="")
    # Unique through TimelineEventKey (customer360/event_key_models.py): the table is partitioned.
    idempotency_key = models.CharField(max_length=200)

    objects = TimelineEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(
                models.F("customer"),
                models.F("occurred_at").desc(),
                models.F("id").desc(),
                name="c360_event_customer_newest",
            ),
            models.Index(fields=["department", "customer"], name="c360_event_department"),
            models.Index(fields=["kind", "occurred_at"], name="c360_event_kind"),
            # Incremental roll-ups find the days that changed since their last run.
            models.Index(fields=["recorded_at"], name="c360_event_recorded"),
            # Deleting a user sets their events' actor to NULL: this finds them.
            models.Index(fields=["actor"], name="c360_event_actor", condition=models.Q(actor__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d} {self.kind}: {self.title}"

    #: ``renderer(event) -> (title, summary)`` in the active language; customer360.events (the registry
    #: of declared kinds) installs its own when it is loaded, so this module needs no import of it.
    renderer = staticmethod(lambda event: (event.title, event.summary))

    def _rendered(self) -> tuple[str, str]:
        # Per language: a page may render the same event object once, a test in two languages.
        language = translation.get_language() or ""
        cache = self.__dict__.setdefault("_c360_rendered", {})
        if language not in cache:
            cache[language] = self.renderer(self)
        return cache[language]

    @property
    def display_title(self) -> str:
        """The title in the reader's language (declared kinds render from the payload)."""
        return self._rendered()[0]

    @property
    def display_summary(self) -> str:
        return self._rendered()[1]

    @property
    def department_label(self) -> str:
        return choice_label(self._meta.get_field("department"), self.department)

    @property
    def channel_label(self) -> str:
        return choice_label(self._meta.get_field("channel"), self.channel)


class DataSource(models.Model):
    """A system that sends data in: a CSV export, a REST client, a webhook."""

    class Kind(models.TextChoices):
        CSV = "csv", _("CSV / Excel upload")
        API = "api", _("REST push")
        WEBHOOK = "webhook", _("Webhook")
        DEMO = "demo", _("Demo data")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    department = models.CharField(_("department"), max_length=20, choices=Department.choices)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # What the rows become: a key of customer360.sources.targets.import_targets ("customers", "events", ...).
    target = models.CharField(_("target"), max_length=60, default="customers")
    # The saved field mapping and file options (encoding, delimiter), reused by every upload.
    mapping = models.JSONField(_("field mapping"), default=dict, blank=True)
    options = models.JSONField(_("file options"), default=dict, blank=True)
    # Numbers and dates in its files (babel locale: "de_AT" 1.234,50, "en" 1,234.50; empty: per value).
    locale = models.CharField(_("number and date format"), max_length=10, blank=True, default="")
    # This source's customer ids ARE another source's (an ERP and a shop sharing customer numbers).
    shares_ids_with = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer ids are those of"),
    )
    # REST push: only the token's SHA-256 is kept (the token is shown once).
    token_hash = models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)
    token_hint = models.CharField(max_length=12, blank=True, default="", editable=False)
    token_created_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Webhook: the shared HMAC secret (needed in clear text to verify signatures); shown once.
    webhook_secret = models.CharField(max_length=128, blank=True, default="", editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("data source")
        verbose_name_plural = _("data sources")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# Models in modules of their own (audit, tokens, sources, privacy, scores ...); importing registers them.
from customer360.audit.models import *  # noqa: E402,F403
from customer360.event_key_models import *  # noqa: E402,F403
from customer360.files.models import *  # noqa: E402,F403
from customer360.privacy.models import *  # noqa: E402,F403
from customer360.score_models import *  # noqa: E402,F403
from customer360.signin.models import *  # noqa: E402,F403
from customer360.sources.models import *  # noqa: E402,F403
from customer360.token_models import *  # noqa: E402,F403
from customer360.view_models import *  # noqa: E402,F403
from customer360.work_models import *  # noqa: E402,F403
