"""The demo seed's department writers side by side, one process per lane (PostgreSQL).

Writing a million customers' histories is mostly Python making rows, and one Python process uses
one core. So on a fresh PostgreSQL database, outside a transaction, the seed runs its writers in
lanes (``seeders.register(..., lane=...)``), each lane a process of its own with its own
connection and transaction: this process makes the customers chunk by chunk and commits each
chunk, then hands it to every lane; each lane runs its writers on it, in the order they are
registered. A writer's random generator runs on across the chunks in its lane as in one process,
so the data are the same as written one after the other (only the ids interleave differently).

The big tables are in bulk-load mode across the transactions
(:func:`~customer360.bulk.deferred_indexes_across_transactions`): their indexes and keys are built
again when the lanes end, also when one fails. A failed lane fails the seed, and the tables the
seed found empty are emptied again: a failed seed leaves no half-written records, as in one
transaction.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue as queues
import resource
import threading
from collections.abc import Callable

from django.db import connection, connections, transaction

from customer360.audit import history
from customer360.bulk import deferred_indexes_across_transactions, gc_paused

#: seconds between looks at the lanes while waiting for them
POLL = 1.0
#: the peak resident memory (MB) of each lane of the last seed in this process, for the benchmark
last_peaks_mb: dict[str, int] = {}


class LaneFailed(RuntimeError):
    """A lane's writer raised (its message), or its process ended without a word."""


def can_fork() -> bool:
    """Processes of the seed need committed rows that other connections see (PostgreSQL, outside a
    transaction) and a process with no other thread: a fork copies only the forking thread, and
    another thread's open connection (a test's live server) would be shared with the child."""
    return (
        connection.vendor == "postgresql" and not connection.in_atomic_block and threading.active_count() == 1
    )


def applies(ctx, chunks: list[range]) -> bool:
    """Lanes pay off from two chunks on, and need a database without customers (bulk-load mode)
    and :func:`can_fork`."""
    from customer360.models import Customer

    return len(chunks) > 1 and can_fork() and not Customer.objects.exists()


def write(
    ctx, customers: Callable, lanes: dict[str, list[tuple[str, Callable]]], chunks, run, models
) -> list[str]:
    """Make each chunk's customers here (``customers``, through ``run``) and run the ``lanes``'
    writers on them in processes of their own; returns the tables loaded in bulk-load mode.
    ``run(key, fn, report)`` times a writer into ``run.seconds``/``run.cpu`` as in one process."""
    empty_before = _empty_tables()
    last_peaks_mb.clear()
    context = multiprocessing.get_context("fork")
    # At most two chunks wait per lane: this process makes customers faster than the lanes write
    # their histories, and every waiting chunk is memory.
    inboxes = {lane: context.Queue(maxsize=2) for lane in lanes}
    results = context.Queue()
    processes = []
    try:
        with deferred_indexes_across_transactions(*models) as tables:
            connections.close_all()  # no connection crosses the fork
            try:
                for lane, writers in lanes.items():
                    process = context.Process(
                        target=_lane,
                        args=(lane, writers, ctx, run, inboxes[lane], results),
                        name=f"seed-{lane}",
                    )
                    process.start()
                    processes.append(process)
                _hand_out(ctx, customers, chunks, run, inboxes, results, processes)
            except BaseException:
                # The lanes stop before the indexes are built again (their open transactions would
                # hold the tables), and their uncommitted rows go with them.
                for process in processes:
                    if process.is_alive():
                        process.terminate()
                for process in processes:
                    process.join()
                raise
    except BaseException:
        _empty_again(empty_before, ctx.stdout)
        raise
    finally:
        for process in processes:
            process.join()
        for pipe in (*inboxes.values(), results):  # their feeder threads end: a later fork is clean
            pipe.close()
            if any(process.exitcode for process in processes):
                pipe.cancel_join_thread()  # a terminated lane reads no more: do not wait to flush
            else:
                pipe.join_thread()
    return tables


def _hand_out(ctx, customers: Callable, chunks, run, inboxes, results, processes) -> None:
    """Each chunk's customers, made and committed here, to every lane; then the end; then wait for
    every lane's report."""
    for number, positions in enumerate(chunks):
        ctx.chunk, ctx.chunk_range, ctx.customers = number, positions, []
        with transaction.atomic(), gc_paused():  # committed: the lanes read them
            run("customers", customers, report=False)
        for inbox in inboxes.values():
            _hand(inbox, (number, positions, ctx.customers), results, processes, run, ctx)
        ctx.stdout(f"  chunk {number + 1}/{len(chunks)} ({positions.stop} customers) handed to the lanes")
    for inbox in inboxes.values():
        _hand(inbox, None, results, processes, run, ctx)
    while len(last_peaks_mb) < len(processes):  # every lane's report (some came in already)
        _raise_a_failure(results, processes, run, ctx, block=True)


def _hand(inbox, item, results, processes, run, ctx) -> None:
    """Put ``item`` into a lane's inbox, waiting while it is full; raise a lane's failure meanwhile
    (a failed lane takes nothing more)."""
    while True:
        try:
            inbox.put(item, timeout=POLL)
            return
        except queues.Full:
            _raise_a_failure(results, processes, run, ctx, block=False)


def _lane(lane: str, writers, ctx, run, inbox, results) -> None:
    """One lane's process: its writers on every chunk, in one transaction; then its figures."""
    run.seconds.clear()
    run.cpu.clear()
    try:
        with history.paused(), transaction.atomic():
            while (item := inbox.get()) is not None:
                ctx.chunk, ctx.chunk_range, ctx.customers = item
                with gc_paused():
                    for key, fn in writers:
                        run(key, fn, report=False)
                gc.collect()
        results.put((lane, None, dict(run.seconds), dict(run.cpu), dict(ctx.extras), rss_mb()[1]))
    except BaseException as error:
        results.put((lane, f"{type(error).__name__}: {error}", {}, {}, {}, 0))
    finally:
        connections.close_all()


def _raise_a_failure(results, processes, run, ctx, *, block: bool) -> None:
    """Take one lane's report (waiting for it when ``block``): merge its figures (its peak memory
    into ``last_peaks_mb``), or raise its failure; also raise when a lane's process ended without
    a report."""
    try:
        lane, failure, seconds, cpu, extras, peak = results.get(timeout=POLL if block else 0.01)
    except queues.Empty:
        for process in processes:
            if process.exitcode not in (None, 0):
                raise LaneFailed(
                    f"the seed's lane {process.name} ended with exit code {process.exitcode}"
                ) from None
        return
    if failure:
        raise LaneFailed(f"the seed's lane {lane} failed: {failure}")
    run.seconds.update(seconds)
    run.cpu.update(cpu)
    for key, value in extras.items():
        ctx.extras.setdefault(key, value)
    ctx.extras.setdefault("lane_peaks_mb", {})[lane] = last_peaks_mb[lane] = peak


def in_processes(fn: Callable, items: list, processes: int = 2) -> None:
    """``fn(item)`` for every item, in ``processes`` forked processes that take the items in turn
    (as that many Celery workers take a group's tasks); each item's work commits on its own. For a
    reader of the seed on PostgreSQL outside a transaction, from the main thread (no other thread
    runs while it forks). Raises :class:`LaneFailed` with the first failure."""
    context = multiprocessing.get_context("fork")
    inbox, results = context.Queue(), context.Queue()
    for item in items:
        inbox.put(item)
    for _ in range(processes):
        inbox.put(None)
    connections.close_all()  # no connection crosses the fork
    workers = [
        context.Process(target=_take_turns, args=(fn, inbox, results), name=f"seed-{n}")
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            while True:
                try:
                    failure = results.get(timeout=POLL)
                    break
                except queues.Empty:
                    if any(w.exitcode not in (None, 0) for w in workers):
                        raise LaneFailed("a process of the seed ended without a word") from None
            if failure:
                raise LaneFailed(failure)
    except BaseException:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        raise
    finally:
        for worker in workers:
            worker.join()


def _take_turns(fn: Callable, inbox, results) -> None:
    try:
        while (item := inbox.get()) is not None:
            fn(item)
        results.put(None)
    except BaseException as error:
        results.put(f"{type(error).__name__}: {error}")
    finally:
        connections.close_all()


def _empty_tables() -> list[str]:
    """The tables (partitioned ones whole) of this database's schema that hold no row now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
        names = [name for (name,) in cursor.fetchall()]
        empty = []
        for name in names:
            cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {connection.ops.quote_name(name)})")  # noqa: S608
            if cursor.fetchone()[0]:
                empty.append(name)
    return empty


def _empty_again(tables: list[str], stdout) -> None:
    """Remove what a failed seed wrote to the tables it found empty."""
    if not tables:
        return
    quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {quoted}")
    except Exception as error:  # a table outside the seed refers to one of them: leave it to the admin
        stdout(
            f"  the failed seed's records could not be removed ({type(error).__name__}); drop the database"
        )


def rss_mb() -> tuple[int, int]:
    """(current, peak) resident memory of this process in MB (Linux; the peak only elsewhere)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() // 2**20, peak
    except OSError:
        return 0, peak
