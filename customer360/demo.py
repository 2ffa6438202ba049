"""Deterministic demo data: the core's part (users, customers) and the seeder registry.

Each app adds its department's history in its own ``demo.py`` by registering a seeder::

    from customer360.demo import DemoContext, seeders

    @seeders.register("billing", order=40)
    def seed_billing(ctx: DemoContext) -> None: ...

Seeders get the same :class:`DemoContext` (customers with their persona, users by role, a reference
date) and write in bulk through the write path's bulk form, so 100k customers take minutes.

The seed streams: the customers are made and written in chunks (``CHUNK``, 25,000), and every
department seeder (order below ``READERS_FROM``) runs once per chunk with ``ctx.customers`` holding
that chunk only, so memory is bounded by the chunk, not by the number of customers. A seeder keeps
what must run on across chunks (random generators, counters, rows made once) in the context:
``ctx.rng(key)`` returns the same generator for the whole seed, ``ctx.once(key, make)`` a value made
in the first chunk. A seed that fits in one chunk is the same data as before chunking.
Personas make the histories consistent across departments: a late payer has overdue invoices AND
dunning notices AND perhaps an angry ticket.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import thread_time

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, connections, transaction
from django.utils import timezone

from customer360 import bulk_rebuild, demo_lanes, roles, timeline
from customer360.audit import history
from customer360.bulk import (
    bulk_insert,
    deferred_indexes,
    deferred_indexes_across_transactions,
    gc_paused,
    instance_maker,
)
from customer360.events_core import CUSTOMER_CREATED
from customer360.models import Customer, CustomerIdentity, DataSource, Department, StaffProfile

PERSONAS = {
    # persona: weight
    "loyal": 22,
    "ordinary": 30,
    "newsletter_reader": 14,
    "late_payer": 10,
    "complainer": 8,
    "churner": 8,
    "prospect": 8,
}

DEMO_USERS = [
    # username, first, last, role, team, title
    ("rep", "Anna", "Berger", roles.SALES, "Wien", "Sales representative"),
    ("rep2", "Lukas", "Wolf", roles.SALES, "Graz", "Sales representative"),
    ("service", "Petra", "Steiner", roles.SERVICE, "Service", "Service agent"),
    ("service_lead", "Georg", "Lang", roles.SERVICE, "Service", "Head of service"),
    ("marketing", "Julia", "Fuchs", roles.MARKETING, "Marketing", "Marketing manager"),
    ("accounting", "Thomas", "Bauer", roles.ACCOUNTING, "Accounting", "Accounting clerk"),
    ("manager", "Markus", "Hofer", roles.MANAGER, "Management", "Head of sales"),
    ("admin", "Sabine", "Koller", roles.ADMIN, "IT", "Administrator"),
]
DEMO_PASSWORD = "demo"  # noqa: S105 - demo users exist only after seed_demo, never in production setups

# Named customers that the scenarios and tests refer to: (first, last, company, postcode, city, persona).
NAMED_CUSTOMERS = [
    ("Franz", "Gruber", "Gruber Installationen GmbH", "1100", "Wien", "gruber"),
    ("Josef", "Müller", "", "1010", "Wien", "loyal"),
    ("Josef", "Mueller", "", "1010", "Vienna", "ordinary"),
    ("Maria", "Huber", "Huber & Söhne OG", "4020", "Linz", "newsletter_reader"),
    ("Karin", "Gruber", "Bäckerei Gruber", "8010", "Graz", "late_payer"),
]


@dataclass
class DemoCustomer:
    id: int
    persona: str
    owner_id: int | None
    created_at: datetime
    language: str
    email: str


@dataclass
class DemoContext:
    seed: int
    today: date
    users: dict[str, object]
    customers: list[DemoCustomer]
    source: DataSource
    stdout: Callable[[str], None] = print
    extras: dict = field(default_factory=dict)
    #: the chunk being seeded: its number (0 first) and the customers' numbers in it
    chunk: int = 0
    chunk_range: range = range(0)
    _midnights: dict[int, datetime] = field(default_factory=dict, repr=False)
    _rngs: dict[str, random.Random] = field(default_factory=dict, repr=False)
    _once: dict[str, object] = field(default_factory=dict, repr=False)
    #: when the readers' current wave began: every record written before it is committed (the
    #: writers and the earlier waves are done), so a reader that saw it need not look back past it
    wave_started: datetime | None = None

    def rng(self, key: str) -> random.Random:
        """A random generator of its own per seeder, so seeders do not disturb each other. The same
        generator for every chunk: chunk 2 continues the sequence where chunk 1 left it."""
        generator = self._rngs.get(key)
        if generator is None:
            generator = self._rngs[key] = random.Random(f"{self.seed}:{key}")
        return generator

    def once(self, key: str, make: Callable[[], object]):
        """``make()`` in the first chunk that asks for ``key``; the same value in later chunks."""
        if key not in self._once:
            self._once[key] = make()
        return self._once[key]

    def moment(self, days_ago: float, rng: random.Random | None = None) -> datetime:
        """A business-hours moment ``days_ago`` days before the reference date."""
        rng = rng or random.Random(days_ago)
        days = int(days_ago)
        midnight = self._midnights.get(days)
        if midnight is None:  # one time-zone lookup per day, not per event (millions at 100k)
            day = self.today - timedelta(days=days)
            midnight = self._midnights[days] = timezone.make_aware(datetime.combine(day, time()))
        # Aware arithmetic keeps the wall clock: the same moment as make_aware(day at hh:mm).
        return midnight + timedelta(hours=rng.randint(8, 17), minutes=rng.randint(0, 59))

    def by_persona(self, *personas: str) -> list[DemoCustomer]:
        return [c for c in self.customers if c.persona in personas]


#: Seeders from this order on read what the department seeders wrote (scores, roll-ups, topics);
#: readers of the same order run side by side (:meth:`_Seeders.waves`).
READERS_FROM = 90
#: Customers per chunk of the streaming seed: the department seeders hold one chunk's rows at a time.
CHUNK = 25_000


class _Seeders:
    def __init__(self) -> None:
        self.items: dict[str, tuple[int, Callable[[DemoContext], None]]] = {}
        #: model labels ("app.Model") that a seeder fills in bulk and never reads back by a
        #: non-unique index: on an empty database they are loaded in bulk-load mode
        self.bulk_models: set[str] = {
            "customer360.Customer",
            "customer360.CustomerIdentity",
            "customer360.TimelineEvent",
        }
        self.lanes: dict[str, str] = {}
        self.own_transactions: set[str] = set()
        #: the tables the readers fill in bulk (``bulk_load`` of a reader): on a fresh PostgreSQL
        #: database in bulk-load mode for all the waves, which write them side by side
        self.reader_models: set[str] = set()
        #: the tables a reader fills and then updates in place (``updates`` of a reader): on a fresh
        #: PostgreSQL database their pages keep room for the new row versions (:data:`ROOM`)
        self.updated_models: set[str] = set()

    def register(
        self,
        key: str,
        order: int = 100,
        bulk_load: tuple[str, ...] = (),
        lane: str = "departments",
        atomic: bool = True,
        updates: tuple[str, ...] = (),
    ):
        """``lane``: department writers of one lane run in one process when the seed writes side by
        side (:mod:`customer360.demo_lanes`); writers that read each other's rows or share a
        ``ctx.once`` value must share a lane. ``atomic=False``: a reader that commits on its own
        (the seed does not wrap it in a transaction). ``updates``: tables the reader writes and then
        updates in place (they keep room on their pages while the readers run, :data:`ROOM`)."""

        def decorator(fn: Callable[[DemoContext], None]):
            self.items[key] = (order, fn)
            self.lanes[key] = lane
            if not atomic:
                self.own_transactions.add(key)
            (self.reader_models if order >= READERS_FROM else self.bulk_models).update(bulk_load)
            self.updated_models.update(updates)
            return fn

        return decorator

    def ordered(self) -> list[tuple[str, Callable[[DemoContext], None]]]:
        return [(k, fn) for k, (order, fn) in sorted(self.items.items(), key=lambda kv: (kv[1][0], kv[0]))]

    def waves(self) -> list[list[tuple[str, Callable[[DemoContext], None]]]]:
        """The readers (``order`` from READERS_FROM on), grouped by ``order``: one wave runs side by
        side, the waves one after the other."""
        waves: dict[int, list[tuple[str, Callable[[DemoContext], None]]]] = {}
        for key, fn in self.ordered():
            if self.items[key][0] >= READERS_FROM:
                waves.setdefault(self.items[key][0], []).append((key, fn))
        return list(waves.values())


seeders = _Seeders()


@seeders.register("assignments", order=READERS_FROM, bulk_load=("customer360.CustomerAssignment",))
def _assign_departments(ctx: DemoContext) -> None:
    """The demo's departments work with the customers they have records of, as if an admin had
    imported each department's records. A reader of the first wave: one INSERT ... SELECT over the
    whole timeline that keeps one core busy (160 s at a million customers), beside the learning and
    the analytics, which leave the other core idle for minutes; nothing they compute reads it. In
    bulk-load mode: its COMMIT checked the foreign keys of 2.7M rows one by one for 73 s."""
    from customer360 import services

    services.departments_assign_from_records(origin="demo", reason="demo data")


def create_demo_users(*, password: str = DEMO_PASSWORD, staff_admin: bool = True) -> dict[str, object]:
    """The demo logins, one per role, password "demo". In production (``staff_admin=False``) the
    admin login is left out: no staff admin with a known password is ever created there."""
    User = get_user_model()
    users = {}
    hashed = make_password(password)  # hashing is slow by design: once, for every demo login
    for username, first, last, role, team, title in DEMO_USERS:
        if role == roles.ADMIN and not staff_admin:
            continue
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"},
        )
        if created:
            user.password = hashed
            user.is_staff = role == roles.ADMIN
            user.save()
        user.groups.add(Group.objects.get(name=role))
        StaffProfile.objects.update_or_create(user=user, defaults={"team": team, "title": title})
        users[username] = user
    return users


def _pick_persona(rng: random.Random) -> str:
    names, weights = zip(*PERSONAS.items(), strict=True)
    return rng.choices(names, weights=weights)[0]


class _FakePool:
    """Faker's values drawn once into pools per field, then picked at random: the same kind of
    names and addresses, without a Faker call per field and customer (600,000 at 100k customers).
    Pools are as large as Faker's own word lists for names, so names repeat as they do in life."""

    SIZES = {"first_name": 600, "last_name": 1500, "company": 1000, "street_address": 4000,
             "postcode": 1500, "city": 1500}  # fmt: skip

    def __init__(self, fake, rng: random.Random) -> None:
        self.fake, self.rng, self.pools = fake, rng, {}

    def __getattr__(self, name: str):
        if name not in self.SIZES:
            raise AttributeError(name)
        pool = self.pools.get(name)
        if pool is None:
            make = getattr(self.fake, name)
            pool = self.pools[name] = [make() for _ in range(self.SIZES[name])]
        return lambda: self.rng.choice(pool)


def _pools(seed: int, rng: random.Random) -> dict[str, _FakePool]:
    from faker import Faker

    fakers = {"AT": Faker("de_AT"), "DE": Faker("de_DE"), "GB": Faker("en_GB")}
    for i, fake in enumerate(fakers.values()):
        fake.seed_instance(seed * 10 + i)
    return {country: _FakePool(fake, rng) for country, fake in fakers.items()}


@seeders.register("customers", order=10)
def seed_customers(ctx: DemoContext, count: int = 0) -> None:
    """Customers with names and addresses from Faker (de_AT, de_DE, en_GB), each with a persona:
    those of the current chunk (``ctx.chunk_range``, numbered from 0 for the seed's first)."""
    count = count or ctx.extras.get("count", 200)
    rng = ctx.rng("customers")
    pools = ctx.once("customers:pools", lambda: _pools(ctx.seed, rng))
    # Customer numbers go on after those the database held before the seed.
    start = ctx.once("customers:start", Customer.objects.count)
    reps = [ctx.users["rep"].pk, ctx.users["rep2"].pk]
    positions = ctx.chunk_range if ctx.chunk_range else range(max(count, len(NAMED_CUSTOMERS)))
    rows: list[tuple[Customer, str]] = []
    for first, last, company, postcode, city, persona in NAMED_CUSTOMERS[positions.start : positions.stop]:
        rows.append(
            (
                instance_maker(Customer)(
                    first_name=first,
                    last_name=last,
                    company=company,
                    postcode=postcode,
                    city=city,
                    country="AT",
                    street="Hauptstraße 1",
                    owner_id=reps[0],
                    preferred_language="de",
                ),
                persona,
            )
        )
    for _ in range(len(positions) - len(rows)):
        country = rng.choices(["AT", "DE", "GB"], weights=[60, 25, 15])[0]
        fake = pools[country]
        is_org = rng.random() < 0.25
        first, last = fake.first_name(), fake.last_name()
        owner = rng.choices([reps[0], reps[1], None], weights=[45, 35, 20])[0]
        rows.append(
            (
                instance_maker(Customer)(
                    kind=Customer.Kind.ORGANISATION if is_org else Customer.Kind.PERSON,
                    first_name=first,
                    last_name=last,
                    company=fake.company() if is_org or rng.random() < 0.3 else "",
                    street=fake.street_address(),
                    postcode=fake.postcode(),
                    city=fake.city(),
                    country=country,
                    owner_id=owner,
                    preferred_language="en" if country == "GB" else "de",
                ),
                _pick_persona(rng),
            )
        )
    customers = []
    for n, (customer, persona) in enumerate(rows, start=start + positions.start + 1):
        customer.customer_number = f"C-{n:06d}"
        slug = f"{customer.first_name}.{customer.last_name}".lower().replace(" ", "")
        customer.email = f"{slug}.{n}@example.{'at' if customer.country == 'AT' else 'com'}"
        customer.phone = f"+43{1000000 + n * 7}" if customer.country == "AT" else f"+49{300000000 + n * 7}"
        customer.created_at = ctx.moment(rng.randint(30, 5 * 365), rng)
        customer.lifecycle = {
            "churner": Customer.Lifecycle.CHURNED if rng.random() < 0.6 else Customer.Lifecycle.AT_RISK,
            "prospect": Customer.Lifecycle.PROSPECT,
        }.get(persona, Customer.Lifecycle.CUSTOMER)
        customer.attributes = {"segment": rng.choice(["SME", "Enterprise", "Private"])}
        customer.search_key = customer.build_search_key()
        customers.append((customer, persona))
    bulk_insert([c for c, _ in customers], with_ids=True)
    if customers and customers[0][0].pk is None:  # a backend without sequences: read the keys back
        ids = dict(
            Customer.objects.filter(
                customer_number__in=[c.customer_number for c, _ in customers]
            ).values_list("customer_number", "id")
        )
        for customer, _persona in customers:
            customer.pk = ids[customer.customer_number]
    identities = []
    for customer, persona in customers:
        pk = customer.pk
        ctx.customers.append(
            DemoCustomer(
                pk,
                persona,
                customer.owner_id,
                customer.created_at,
                customer.preferred_language,
                customer.email,
            )
        )
        identities.append(
            instance_maker(CustomerIdentity)(customer_id=pk, kind="email", value=customer.email)
        )
        identities.append(
            instance_maker(CustomerIdentity)(
                customer_id=pk, kind="external_id", source="demo", value=customer.customer_number
            )
        )
    bulk_insert(identities, ignore_conflicts=True, rare_conflicts=True)
    timeline.record_many(
        (
            CUSTOMER_CREATED.event(
                customer_id=c.id,
                payload=CUSTOMER_CREATED.payload(),
                occurred_at=c.created_at,
                actor_label="Demo data",
                key=f"demo:customer:{c.id}:created",
            )
            for c in ctx.customers
        ),
        announce=False,
    )


def _chunks(count: int, size: int) -> list[range]:
    """The customers' positions (0 first) chunk by chunk; at least the named customers."""
    total = max(count, len(NAMED_CUSTOMERS))
    size = max(size, 1)
    return [range(start, min(start + size, total)) for start in range(0, total, size)]


def run_seeders(
    *,
    count: int,
    seed: int,
    today: date | None = None,
    stdout=print,
    only: list[str] | None = None,
    password: str = DEMO_PASSWORD,
    staff_admin: bool = True,
    chunk: int = CHUNK,
    side_by_side: bool = True,
) -> DemoContext:
    """Seed ``count`` customers and every registered department's history in one transaction, then
    run the readers on it (wave by wave, see :meth:`_Seeders.waves`).

    The department seeders run chunk by chunk (``chunk`` customers each); afterwards
    ``ctx.customers`` holds the last chunk's customers. ``password`` and ``staff_admin`` go to
    :func:`create_demo_users`. With ``side_by_side`` the department writers run in lanes when
    :func:`customer360.demo_lanes.applies`."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("demo")
    with transaction.atomic():
        users = create_demo_users(password=password, staff_admin=staff_admin)
        source, _ = DataSource.objects.get_or_create(
            slug="demo",
            defaults={"name": "Demo data", "kind": DataSource.Kind.DEMO, "department": Department.SYSTEM},
        )
    ctx = DemoContext(
        seed=seed,
        today=today or timezone.localdate(),
        users=users,
        customers=[],
        source=source,
        stdout=stdout,
        extras={"count": count},
    )
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds of the thread that ran it (the machine may be shared)

    def run(key: str, fn: Callable[[DemoContext], None], report: bool = True) -> None:
        if only and key not in only and key != "customers":
            return
        started, cpu_started = timezone.now(), thread_time()
        with nullcontext() if key in seeders.own_transactions else transaction.atomic():
            fn(ctx)
        seconds[key] = seconds.get(key, 0.0) + (timezone.now() - started).total_seconds()
        cpu[key] = cpu.get(key, 0.0) + thread_time() - cpu_started
        if report:
            stdout(f"  {key}: {seconds[key]:.1f} s, CPU {cpu[key]:.1f} s "
                   f"(memory {'{} MB, peak {} MB'.format(*demo_lanes.rss_mb())})")  # fmt: skip

    run.seconds, run.cpu = seconds, cpu  # the lanes report their writers' figures into them
    ordered = seeders.ordered()
    writers = [(k, fn) for k, fn in ordered if seeders.items[k][0] < READERS_FROM]
    chunks = _chunks(count, chunk)
    if side_by_side and demo_lanes.applies(ctx, chunks):
        _write_in_lanes(ctx, writers, chunks, run, only)
    else:
        _write_in_one_transaction(ctx, writers, chunks, run)
    # The readers compute from the committed records what the workers would (scores, roll-ups,
    # topics); the scheduled tasks compute it again if one of them fails.
    with _readers_load(ctx):
        for wave in seeders.waves():
            ctx.wave_started = timezone.now()
            _run_wave(wave, run)
    return ctx


@contextmanager
def _readers_load(ctx: DemoContext):
    """The readers' big tables in bulk-load mode while the waves run (PostgreSQL, outside a
    transaction: the waves' connections commit, then the indexes and keys are built once). Without
    it, each reader's COMMIT ran a foreign-key check per row (9M rows at 1M customers: minutes), and
    every row updated each secondary index. Dropping a foreign key locks the table it refers to,
    so this happens before the waves start, when no other connection reads."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or not seeders.reader_models:
        yield
        return
    models = [apps.get_model(label) for label in sorted(seeders.reader_models)]
    updated = [apps.get_model(label) for label in sorted(seeders.updated_models)]
    with deferred_indexes_across_transactions(*models) as tables, _room_for_updates(updated):
        yield
        rebuild = timezone.now()
    if tables:
        elapsed = (timezone.now() - rebuild).total_seconds()
        ctx.stdout(f"  indexes and foreign keys of {', '.join(tables)} rebuilt: {elapsed:.1f} s")


#: The fill factor of a table that a reader fills and then updates in place, while the seed writes
#: it: room on each page for the new row versions. Without its secondary indexes (bulk-load mode)
#: an update that finds room on its page writes no index entry (a HOT update). The listening sets
#: the topic of 2.3M messages right after writing them: 49 s with full pages, 26 s so (alone).
ROOM = 60


@contextmanager
def _room_for_updates(models):
    """The empty tables of ``models`` keep room on their pages (:data:`ROOM`) for the body; their
    fill factor is reset afterwards (the rows written keep the room they have)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        tables = []
        for model in models:
            table = quote(model._meta.db_table)
            cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")  # noqa: S608 - the model's table
            if cursor.fetchone()[0]:
                cursor.execute(f"ALTER TABLE {table} SET (fillfactor = {ROOM})")
                tables.append(table)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


def _write_in_lanes(ctx: DemoContext, writers, chunks: list[range], run, only) -> None:
    """The department writers side by side, lane by lane (see :mod:`customer360.demo_lanes`)."""
    assert writers[0][0] == "customers", "the customers' writer comes first (order 10)"
    lanes: dict[str, list] = {}
    for key, fn in writers[1:]:
        if not only or key in only:
            lanes.setdefault(seeders.lanes[key], []).append((key, fn))
    started = timezone.now()
    models = [apps.get_model(label) for label in sorted(seeders.bulk_models)]
    tables = demo_lanes.write(ctx, writers[0][1], lanes, chunks, run, models)
    ctx.stdout(f"  lanes {', '.join(lanes)} and indexes and foreign keys of {', '.join(tables)}: "
               f"{(timezone.now() - started).total_seconds():.1f} s, peak memory per lane (MB) "
               f"{ctx.extras.get('lane_peaks_mb', {})}")  # fmt: skip
    for key, _fn in writers:
        if key in run.seconds:
            ctx.stdout(f"  {key}: {run.seconds[key]:.1f} s, CPU {run.cpu[key]:.1f} s")


def _write_in_one_transaction(ctx: DemoContext, writers, chunks: list[range], run) -> None:
    """The department writers one after the other, chunk by chunk, in one transaction."""
    seconds, cpu, stdout = run.seconds, run.cpu, ctx.stdout
    # One transaction: a failed seed leaves no half-written records. The department seeders write
    # with the big tables in bulk-load mode (on an empty database); the readers after them find
    # every index back in place.
    with transaction.atomic():
        with deferred_indexes(*(apps.get_model(label) for label in sorted(seeders.bulk_models))) as tables:
            for number, positions in enumerate(chunks):
                ctx.chunk, ctx.chunk_range, ctx.customers = number, positions, []
                # A chunk's rows live until it is written: no cyclic collection while they pile up
                # (it would scan them again and again), one collection after the chunk.
                with gc_paused():
                    for key, fn in writers:
                        run(key, fn, report=len(chunks) == 1)
                gc.collect()
                if len(chunks) > 1:
                    current, peak = demo_lanes.rss_mb()
                    stdout(f"  chunk {number + 1}/{len(chunks)} ({positions.stop} customers): "
                           f"{sum(seconds.values()):.1f} s, memory {current} MB, peak {peak} MB")  # fmt: skip
            if len(chunks) > 1:
                for key, _fn in writers:
                    if key in seconds:
                        stdout(f"  {key}: {seconds[key]:.1f} s, CPU {cpu[key]:.1f} s")
            rebuild = timezone.now()
        if tables:
            elapsed = (timezone.now() - rebuild).total_seconds()
            stdout(f"  indexes and foreign keys of {', '.join(tables)} rebuilt: {elapsed:.1f} s")


def vacuum(stdout=print) -> None:
    """VACUUM (ANALYZE) the new database on PostgreSQL, as autovacuum would in its own time: the
    visibility map lets index-only scans skip the table from the first request on, and the readers'
    tables get their statistics. Table by table on two connections side by side
    (:func:`customer360.bulk_rebuild.vacuum_analyze_all`). Not inside a transaction (PostgreSQL
    refuses it there), and not inside ``history.paused()`` (which sends each statement with a
    setting before it: a block)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    started = timezone.now()
    tables = bulk_rebuild.vacuum_analyze_all()
    stdout(f"  vacuum and analyze of {tables} tables: {(timezone.now() - started).total_seconds():.1f} s")


def _run_wave(wave: list[tuple[str, Callable[[DemoContext], None]]], run) -> None:
    """Run the readers of one wave: side by side, each in its own thread, connection and
    transaction, when the records are committed on PostgreSQL; else one after the other (SQLite
    writes one at a time, and a caller's open transaction is invisible to other connections)."""
    if len(wave) < 2 or connection.vendor != "postgresql" or connection.in_atomic_block:
        for key, fn in wave:
            run(key, fn)
        return

    def in_thread(key: str, fn: Callable[[DemoContext], None]) -> None:
        try:
            with history.paused():  # as seed_demo loads (the pause is per thread and connection)
                run(key, fn)
        finally:
            connections.close_all()  # this thread's own connections

    with ThreadPoolExecutor(max_workers=len(wave), thread_name_prefix="seed") as pool:
        futures = [pool.submit(in_thread, key, fn) for key, fn in wave]
    for future in futures:
        future.result()  # a reader's error fails the seed
