"""What a bulk load across transactions dropped, built again on two connections side by side.

After the seed's lanes at a million customers, one connection built the secondary indexes and
checked the foreign keys of 16 tables (25M rows, the timeline 20M of them) one after the other:
about four minutes, for a third of which one of the machine's two cores was idle. PostgreSQL sorts
a btree in parallel workers, but writes it out, and checks a foreign key, in one process.

So the work is done in two rounds, each on :data:`CONNECTIONS` connections that take the next job
when they are free, the biggest tables first, each statement committed on its own:

1. the indexes, one build per job (builds on the same table share their lock, SHARE);
2. the foreign keys, one job per table: declared ``NOT VALID`` beforehand in one short transaction,
   then validated (``VALIDATE CONSTRAINT`` locks the table SHARE UPDATE EXCLUSIVE and the table it
   refers to only ROW SHARE, so checks of different tables that refer to the same one run side by
   side), then the table is analysed. A partitioned table cannot take a foreign key ``NOT VALID``
   (PostgreSQL 15): its keys are added and checked in its job.

Everything of one table's second round is in one job, so two connections never wait for each other
in a cycle. A failed statement (rows that break a key) does not stop the others: everything else is
built, and the first failure is raised once both connections have ended; the key it could not
check stays ``NOT VALID``.
"""

from __future__ import annotations

import queue
import threading

from django.db import connection, connections, transaction

#: connections that build side by side (the machine's two cores)
CONNECTIONS = 2
#: memory per connection for sorting an index and for checking a foreign key (PostgreSQL's
#: ``maintenance_work_mem``, for these connections only)
MEMORY = "256MB"


def rebuild(deferred: list[tuple[str, str, str]]) -> None:
    """Build again the (table, drop, create) statements of ``deferred``
    (:func:`customer360.bulk._droppable`) and analyse their tables. PostgreSQL, outside a
    transaction."""
    tables = list(dict.fromkeys(table for table, _drop, _create in deferred))
    if not tables:
        return
    sizes, partitioned = _sizes_and_partitioned(tables)
    tables.sort(key=lambda table: -sizes.get(table, 0))
    keys = {table: [] for table in tables}
    indexes = []
    for table, drop, create in deferred:
        if create.startswith("ALTER TABLE"):
            keys[table].append((drop, create))
        else:
            indexes.append((table, create))
    indexes.sort(key=lambda index: -sizes.get(index[0], 0))
    side_by_side([[create] for _table, create in indexes])
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            if table not in partitioned:
                for _drop, create in keys[table]:
                    cursor.execute(f"{create} NOT VALID")
    quote = connection.ops.quote_name
    side_by_side(
        [
            [
                *(
                    create
                    if table in partitioned
                    else drop.replace(" DROP CONSTRAINT ", " VALIDATE CONSTRAINT ", 1)
                    for drop, create in keys[table]
                ),
                f"ANALYZE {quote(table)}",
            ]
            for table in tables
        ]
    )


def vacuum_analyze_all() -> int:
    """``VACUUM (ANALYZE)`` every table of the database's own schemas, on :data:`CONNECTIONS`
    connections side by side, the biggest first; a partitioned table's partitions each on their own
    and the table itself analysed (its statistics over all of them). PostgreSQL, outside a
    transaction. Returns the tables vacuumed. One ``VACUUM`` of the whole database after the seed
    took 56 s with one core idle (the timeline's partition of the current year alone is 5.5 GB)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.oid::regclass::text, c.relkind = 'p' FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname !~ '^pg_' AND pg_has_role(c.relowner, 'USAGE')
            ORDER BY c.relpages DESC, 1
            """
        )
        tables = cursor.fetchall()
    side_by_side(
        [[f"VACUUM (ANALYZE) {name}"] for name, parted in tables if not parted]
        + [[f"ANALYZE {name}"] for name, parted in tables if parted]
    )
    return len(tables)


def _sizes_and_partitioned(tables: list[str]) -> tuple[dict[str, int], set[str]]:
    """Each table's size in pages (a partitioned table's: its partitions'), and the partitioned ones."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, t.relkind = 'p',
                   t.relpages + COALESCE((SELECT SUM(p.relpages) FROM pg_inherits i
                                          JOIN pg_class p ON p.oid = i.inhrelid
                                          WHERE i.inhparent = t.oid), 0)
            FROM pg_class t WHERE t.oid = ANY(%s::regclass[])
            """,
            [tables],
        )
        rows = cursor.fetchall()
    return {name: pages for name, _parted, pages in rows}, {name for name, parted, _pages in rows if parted}


def side_by_side(jobs: list[list[str]]) -> None:
    """Run the jobs (each a list of statements, run in order) on up to :data:`CONNECTIONS`
    connections of their own, each taking the next job in the given order when it is free; raise
    the first failure once every connection has ended."""
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for job in jobs:
        pending.put(job)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            with connection.cursor() as cursor:  # this thread's own connection, in autocommit
                cursor.execute(f"SET maintenance_work_mem = '{MEMORY}'")
                while True:
                    try:
                        job = pending.get_nowait()
                    except queue.Empty:
                        return
                    for statement in job:
                        try:
                            cursor.execute(statement)
                        except Exception as error:  # noqa: BLE001 - raised in the calling thread
                            failures.append(error)  # the other statements are built all the same
        except BaseException as error:  # noqa: BLE001 - raised again in the calling thread
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, name=f"rebuild-{n}") for n in range(min(CONNECTIONS, len(jobs)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
