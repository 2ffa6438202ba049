"""Next-best-action workflows: feedback from reps, rescoring requests, batch runs, expiry, training."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Max, Min, Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from customer360 import timeline
from customer360.bulk import vacuum_analyze
from customer360.celery import task
from customer360.models import Customer, Job
from insights.events import NBA_ACCEPTED, NBA_COMPLETED, NBA_DISMISSED, action_names
from insights.models import Action, ContactPolicy, Recommendation, ScoringChunk, ScoringRun

logger = logging.getLogger(__name__)

PENDING_KEY = "nba:pending:{}"
PENDING_SET = "nba:pending"  # Redis: the set of customers waiting for a rescoring
DRAIN_FLAG = "nba:drain-scheduled"  # Redis: a drain task is queued
DEBOUNCE_SECONDS = 0.5  # changes within this window share one rescoring; p95 event -> new NBA <= 2 s
PENDING_TIMEOUT = 60
CLAIM_TIMEOUT = 24 * 3600
MANY = 200  # more customers than this at once: one task per chunk instead of one per customer
BATCH_CHUNK = 2000


class FeedbackError(ValueError):
    """The recommendation is not in a state that allows this (e.g. already dismissed)."""


class RecommendationClosed(FeedbackError):
    """The engine closed the recommendation (superseded by a rescoring, or expired) and there is no
    open one for the same customer and action to take the feedback: the message says so in plain words."""

    def __init__(self, message: str, recommendation: Recommendation):
        super().__init__(message)
        self.recommendation = recommendation


# --- feedback ---------------------------------------------------------------------------------------
def _record_feedback(rec: Recommendation, *, declaration, user, **values) -> None:
    """One timeline event per decision, built through the insights declarations (as the demo does)."""
    if getattr(rec, "replaced", None) is not None:
        values["replaced_recommendation_id"] = rec.replaced.pk
    declaration.record(
        customer=rec.customer_id,
        key=timeline.idempotency_key("insights.recommendation", rec.pk, declaration.kind),
        actor=user,
        payload=declaration.payload(
            recommendation_id=rec.pk, action=rec.action.key, action_name=action_names(rec.action), **values
        ),
    )


def closed_message(rec: Recommendation) -> str:
    """Why a recommendation can no longer be acted on, for the rep, in plain words."""
    when = timezone.localtime(rec.decided_at).strftime("%Y-%m-%d %H:%M") if rec.decided_at else ""
    name = rec.action.name(get_language() or "en")
    if rec.status == Recommendation.Status.EXPIRED:
        return _(
            "“%(action)s” expired on %(when)s without being acted on and is no longer recommended for "
            "this customer. The current recommendations are shown."
        ) % {"action": name, "when": when}
    return _(
        "“%(action)s” is no longer recommended for this customer: new information changed the "
        "recommendations on %(when)s. The current recommendations are shown."
    ) % {"action": name, "when": when}


def recommendation_successor(rec: Recommendation) -> Recommendation | None:
    """The open recommendation for the same customer and action (locked), if the engine has one."""
    return (
        Recommendation.objects.select_for_update()
        .select_related("action")
        .filter(customer_id=rec.customer_id, action_id=rec.action_id, status=Recommendation.Status.OPEN)
        .first()
    )


def _claim(rec_id: int, allowed: Iterable[str], *, keep_closed: bool = False) -> Recommendation:
    """The recommendation to record the feedback on, locked. One the engine closed (superseded or
    expired) hands the feedback on to its successor, the open one for the same customer and action
    (``.replaced`` then names the closed one); without a successor the feedback is refused in plain
    words, or, with ``keep_closed`` (a dismissal is still worth keeping), recorded on the closed one."""
    rec = Recommendation.objects.select_for_update().select_related("action").get(pk=rec_id)
    if rec.is_closed_by_engine:
        successor = recommendation_successor(rec)
        if successor is not None:
            successor.replaced = rec
            rec = successor
        elif keep_closed:
            return rec
        else:
            raise RecommendationClosed(closed_message(rec), rec)
    if rec.status not in allowed:
        raise FeedbackError(
            _("This recommendation is already %(status)s.") % {"status": rec.get_status_display()}
        )
    return rec


def recommendation_accept(
    *, recommendation_id: int, user, follow_up_on: date | None = None
) -> Recommendation:
    """The rep takes the recommendation on; a timeline event and a (pending) training label.
    Returns the recommendation the acceptance was recorded on (its successor if it was replaced)."""
    with transaction.atomic():
        rec = _claim(recommendation_id, [Recommendation.Status.OPEN])
        rec.status = Recommendation.Status.ACCEPTED
        rec.decided_at = timezone.now()
        rec.decided_by = user
        rec.follow_up_on = follow_up_on or (timezone.localdate() + timedelta(days=7))
        rec.save(update_fields=["status", "decided_at", "decided_by", "follow_up_on"])
        _record_feedback(rec, declaration=NBA_ACCEPTED, user=user)
    return rec


def recommendation_dismiss(*, recommendation_id: int, user, reason: str, note: str = "") -> Recommendation:
    """The rep dismisses it with a reason; the action rests for the cool-down. A dismissal of a
    replaced recommendation lands on its successor, or, without one, on the closed recommendation
    itself (so that the action still rests)."""
    if reason not in Recommendation.DismissReason.values:
        raise FeedbackError(_("Unknown dismissal reason."))
    with transaction.atomic():
        rec = _claim(
            recommendation_id, [Recommendation.Status.OPEN, Recommendation.Status.ACCEPTED], keep_closed=True
        )
        rec.status = Recommendation.Status.DISMISSED
        rec.decided_at = timezone.now()
        rec.decided_by = user
        rec.dismiss_reason = reason
        rec.note = note[:500]
        rec.save(update_fields=["status", "decided_at", "decided_by", "dismiss_reason", "note"])
        _record_feedback(rec, declaration=NBA_DISMISSED, user=user, reason=reason)
    return rec


def recommendation_complete(*, recommendation_id: int, user, outcome: str, note: str = "") -> Recommendation:
    """Done, with an outcome (success or not): the strongest training label."""
    if outcome not in Recommendation.Outcome.values:
        raise FeedbackError(_("Unknown outcome."))
    with transaction.atomic():
        rec = _claim(recommendation_id, [Recommendation.Status.OPEN, Recommendation.Status.ACCEPTED])
        rec.status = Recommendation.Status.COMPLETED
        rec.decided_at = timezone.now()
        rec.decided_by = user
        rec.outcome = outcome
        rec.note = note[:500]
        rec.save(update_fields=["status", "decided_at", "decided_by", "outcome", "note"])
        _record_feedback(rec, declaration=NBA_COMPLETED, user=user, outcome=outcome)
    return rec


def recommendations_expire(*, now: datetime | None = None) -> int:
    """Open recommendations older than the policy's expiry become expired (they are then rescored)."""
    now = now or timezone.now()
    policy = ContactPolicy.current()
    return Recommendation.objects.filter(
        status=Recommendation.Status.OPEN, created_at__lt=now - timedelta(days=policy.expiry_days)
    ).update(status=Recommendation.Status.EXPIRED, decided_at=now)


# --- rescoring ------------------------------------------------------------------------------------------
def customers_rescore_request(*, customer_ids: Iterable[int]) -> int:
    """Ask for a debounced rescoring of the customers; at most one is pending per customer.

    With Redis (``settings.REDIS_URL``) the ids join one pending set and a single drain task is
    queued per debounce window, whatever the number of customers: one round trip and at most one
    enqueue per announcement. Otherwise one cache mark and one task per customer. Returns how many
    customers were not pending yet.
    """
    ids = sorted({int(c) for c in customer_ids})
    if not ids:
        return 0
    client = _redis()
    if client is None:
        return _request_per_customer(ids)
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(ids), 10_000):
        pipe.sadd(cache.make_key(PENDING_SET), *ids[start : start + 10_000])
    pipe.set(cache.make_key(DRAIN_FLAG), 1, nx=True, ex=PENDING_TIMEOUT)
    *added, scheduled = pipe.execute()
    if scheduled:
        task("insights.tasks.rescore_pending").apply_async(countdown=DEBOUNCE_SECONDS)
    return int(sum(added))


def _request_per_customer(ids: list[int]) -> int:
    """Without Redis: a cache mark per customer and one task per customer (or per chunk)."""
    fresh = [c for c in ids if cache.add(PENDING_KEY.format(c), 1, PENDING_TIMEOUT)]
    if not fresh:
        return 0
    if len(fresh) > MANY:
        for start in range(0, len(fresh), BATCH_CHUNK):
            task("insights.tasks.rescore_customers").apply_async(
                args=[fresh[start : start + BATCH_CHUNK]], countdown=DEBOUNCE_SECONDS
            )
    else:
        for customer_id in fresh:
            task("insights.tasks.rescore_customer").apply_async(
                args=[customer_id], countdown=DEBOUNCE_SECONDS
            )
    return len(fresh)


_redis_client = None

# Atomically: the drain flag goes (so the next change queues a new drain), the pending set becomes
# this drain's claim (unless a previous delivery of the same task already claimed it), and the
# claimed ids come back. A worker that dies mid-drain leaves the claim; the redelivered task
# (same task id) scores it again.
_CLAIM = """
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('RENAME', KEYS[1], KEYS[3])
    redis.call('EXPIRE', KEYS[3], ARGV[1])
end
return redis.call('SMEMBERS', KEYS[3])
"""


def _redis():
    """A Redis client when the cache is Redis (one connection pool per process), else None."""
    global _redis_client
    url = getattr(settings, "REDIS_URL", "")
    if not url or "RedisCache" not in settings.CACHES.get("default", {}).get("BACKEND", ""):
        return None
    if _redis_client is None or _redis_client[0] != url:
        import redis

        _redis_client = (url, redis.Redis.from_url(url))
    return _redis_client[1]


def pending_rescore_drain(*, claim: str) -> int:
    """Rescore every customer in the pending set (Redis); return how many.

    Up to ``MANY`` customers are scored here at once; more are handed on in chunks to
    ``rescore_customers`` tasks so that all workers share them."""
    client = _redis()
    if client is None:
        return 0
    claimed = cache.make_key(f"{PENDING_SET}:claim:{claim}")
    members = client.eval(
        _CLAIM, 3, cache.make_key(PENDING_SET), cache.make_key(DRAIN_FLAG), claimed, CLAIM_TIMEOUT
    )
    ids = sorted(int(m) for m in members)
    if len(ids) > MANY:
        for start in range(0, len(ids), BATCH_CHUNK):
            task("insights.tasks.rescore_customers").apply_async(args=[ids[start : start + BATCH_CHUNK]])
    elif ids:
        from insights.engine import cached_catalogue, score_customers

        score_customers(ids, catalogue=cached_catalogue())
    client.delete(claimed)
    return len(ids)


def customers_rescore(*, customer_ids: list[int]) -> int:
    """Rescore now (in this process); the pending marks are cleared first, so a change that arrives
    while we score enqueues a fresh rescoring."""
    from insights.engine import cached_catalogue, score_customers

    if _redis() is None:
        cache.delete_many([PENDING_KEY.format(c) for c in customer_ids])
    return score_customers(sorted(customer_ids), catalogue=cached_catalogue()).customers


def scoring_run_start(*, user=None, chunk_size: int = BATCH_CHUNK, queue: str | None = None) -> ScoringRun:
    """Rescore everyone: a Job row for the progress bar, chunks by id range, a Celery group.

    The chunks go to ``queue``, by default ``C360_RESCORING_QUEUE``: with a queue (and worker) of
    their own, the hundreds of chunks of a big run do not stand in front of the rescoring that a
    new event asks for."""
    queue = queue or settings.C360_RESCORING_QUEUE
    with transaction.atomic():
        run, chunk_ids = scoring_run_create(chunk_size=chunk_size, user=user, queue=queue or "")
        transaction.on_commit(lambda: _dispatch_chunks(chunk_ids, queue))
    return run


def scoring_run_create(
    *, chunk_size: int = BATCH_CHUNK, user=None, queue: str = ""
) -> tuple[ScoringRun, list[int]]:
    """A run over every customer: its Job (the progress bar), its chunks by id range (in id order).
    ``queue``: where its chunks go ("" the default queue), for the reclaim of a stalled run."""
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    with transaction.atomic():
        job = Job.objects.create(
            kind="insights.rescore", label=_("Rescoring all customers"), total=len(ids), created_by=user
        )
        run = ScoringRun.objects.create(job=job, chunk_size=chunk_size, queue=queue)
        ScoringChunk.objects.bulk_create(
            ScoringChunk(run=run, index=i, first_id=part[0], last_id=part[-1], size=len(part))
            for i, part in enumerate(
                ids[start : start + chunk_size] for start in range(0, len(ids), chunk_size)
            )
        )
        chunk_ids = list(ScoringChunk.objects.filter(run=run).order_by("index").values_list("pk", flat=True))
        if not chunk_ids:
            Job.objects.filter(pk=job.pk).update(status=Job.Status.DONE, finished_at=timezone.now())
    return run, chunk_ids


def _dispatch_chunks(chunk_ids: list[int], queue: str | None) -> None:
    from celery import group

    options = {"queue": queue} if queue else {}
    group(
        task("insights.tasks.score_chunk").s(chunk_id).set(**options) for chunk_id in chunk_ids
    ).apply_async()


def scoring_chunk_run(*, chunk_id: int, vacuum: bool = True) -> bool:
    """Score one chunk exactly once: the chunk row is claimed, scored and marked in one transaction,
    so a worker that dies midway leaves nothing behind and the redelivered task does it all again.
    The run's last chunk sends the task that vacuums what the run rewrote (``vacuum``: the caller
    does that itself).

    While it scores, a chunk locks its own row only (``FOR UPDATE OF``), not the run's job: chunks
    of one run score side by side in every worker process. The job row is locked at the end, for
    the progress and the last chunk's "done", so that of two chunks finishing together the later
    one sees the other's mark."""
    from insights.engine import cached_catalogue, score_customers

    # "Running" on its own (a short transaction): inside the chunk's, the update would hold the job
    # row until the first chunk is scored, and every other chunk would wait for it.
    Job.objects.filter(
        pk=ScoringChunk.objects.filter(pk=chunk_id).values("run__job_id")[:1], status=Job.Status.QUEUED
    ).update(status=Job.Status.RUNNING, started_at=timezone.now())
    with transaction.atomic():
        chunk = (
            ScoringChunk.objects.select_for_update(of=("self",))
            .select_related("run__job")
            .filter(pk=chunk_id)
            .first()
        )
        if chunk is None or chunk.done:
            return False
        job = chunk.run.job
        score_customers(id_range=(chunk.first_id, chunk.last_id), run=chunk.run, catalogue=cached_catalogue())
        Job.objects.select_for_update().filter(pk=job.pk).values_list("pk", flat=True).get()
        ScoringRun.objects.filter(pk=chunk.run_id).update(heartbeat_at=timezone.now())
        chunk.done = True
        chunk.save(update_fields=["done"])
        job.advance(chunk.size)
        remaining = ScoringChunk.objects.filter(run=chunk.run, done=False).exclude(pk=chunk.pk).exists()
        if not remaining:
            Job.objects.filter(pk=job.pk).update(status=Job.Status.DONE, finished_at=timezone.now())
            if vacuum:
                transaction.on_commit(lambda: task("insights.tasks.vacuum_scores").delay())
    return True


def scoring_reclaim_stalled(seconds: float | None = None) -> list[int]:
    """Runs that are not done and had no chunk finish for ``seconds``: their open chunks are sent
    again. Returns the ids of those runs.

    The broker gives a dead worker's task back after its visibility timeout. It can also lose one
    (a Redis without persistence restarts, a worker dies between taking a task and recording it as
    unacknowledged). The default wait is therefore a minute past that timeout, so the broker's own
    redelivery goes first. A chunk sent twice is scored once: its row is claimed under a lock."""
    if seconds is None:
        seconds = settings.C360_SCORING_STALLED_SECONDS
    cutoff = timezone.now() - timedelta(seconds=seconds)
    stalled = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    active = Q(job__status__in=(Job.Status.QUEUED, Job.Status.RUNNING))
    reclaimed = []
    for run_id in ScoringRun.objects.filter(stalled, active).values_list("pk", flat=True):
        with transaction.atomic():
            run = ScoringRun.objects.select_for_update(skip_locked=True).filter(stalled, active, pk=run_id)
            queue = run.values_list("queue", flat=True).first()
            if queue is None:
                continue
            run.update(heartbeat_at=timezone.now(), reclaims=F("reclaims") + 1)
            open_chunks = list(
                ScoringChunk.objects.filter(run_id=run_id, done=False)
                .order_by("index")
                .values_list("pk", flat=True)
            )
            if open_chunks:
                transaction.on_commit(lambda ids=open_chunks, q=queue: _dispatch_chunks(ids, q or None))
            else:  # every chunk is scored: only the job's last mark is missing
                Job.objects.filter(scoring_run=run_id).update(
                    status=Job.Status.DONE, finished_at=timezone.now()
                )
            reclaimed.append(run_id)
    if reclaimed:
        logger.warning("sent the open chunks of stalled scoring runs %s again", reclaimed)
    return reclaimed


def scores_vacuum() -> list[str]:
    """After a whole scoring run: vacuum the tables it rewrote (``bulk.vacuum_analyze``)."""
    from customer360.models import Score
    from insights.models import CustomerScore

    return vacuum_analyze(Score, CustomerScore, Recommendation)


def scoring_run_inline(*, chunk_size: int = BATCH_CHUNK, vacuum: bool = True) -> ScoringRun:
    """The batch without Celery (demo seeding, benchmarks): the same chunks, one after the other,
    then the vacuum of what they rewrote (``vacuum``: unless the caller does that itself)."""
    run, chunk_ids = scoring_run_create(chunk_size=chunk_size)
    for chunk_id in chunk_ids:
        scoring_chunk_run(chunk_id=chunk_id, vacuum=False)
    if vacuum:
        scores_vacuum()
    return run


def id_bounds() -> tuple[int | None, int | None]:
    bounds = Customer.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    return bounds["lo"], bounds["hi"]


# --- training ---------------------------------------------------------------------------------------------
def models_train(*, action_keys: list[str] | None = None, force: bool = False) -> dict[str, int | None]:
    """Train every active action's model (or the named ones); {key: new version or None}."""
    from insights.training import train_action

    result: dict[str, int | None] = {}
    for action in _trainable(action_keys):
        version = train_action(action, force=force)
        result[action.key] = version.version if version else None
    return result


def _trainable(action_keys: list[str] | None):
    actions = Action.objects.filter(is_active=True, is_no_contact=False).order_by("key")
    return actions.filter(key__in=action_keys) if action_keys else actions


def models_to_train(*, action_keys: list[str] | None = None) -> list[str]:
    """The keys of the actions a training run covers (one Celery task each)."""
    return [action.key for action in _trainable(action_keys)]


def outcomes_train(*, keys: list[str] | None = None, force: bool = False) -> dict[str, int | None]:
    """Train the learned outcomes (churn and payment risk and the active defined ones, or the named
    ones); {key: new version or None}."""
    from insights.outcomes import all_outcomes, train_outcome

    result: dict[str, int | None] = {}
    for key, outcome in all_outcomes().items():
        if keys is None or key in keys:
            version = train_outcome(outcome, force=force)
            result[key] = version.version if version else None
    return result


def outcomes_to_train() -> list[str]:
    from insights.outcomes import all_outcomes

    return list(all_outcomes())


# --- outcomes an admin defines in the app ------------------------------------------------------------
OUTCOME_JOB = "insights.outcome"


def outcome_evaluation_start(*, definition, user=None) -> Job:
    """Queue the hold-out evaluation of a defined outcome (a Job for the progress bar)."""
    with transaction.atomic():
        job = Job.objects.create(
            kind=OUTCOME_JOB,
            label=_("Evaluating %(name)s") % {"name": definition.key},
            total=4,
            created_by=user,
        )
        type(definition).objects.filter(pk=definition.pk).update(job=job)
        transaction.on_commit(lambda: task("insights.tasks.evaluate_outcome").delay(definition.pk, job.pk))
    return job


def outcome_evaluate(*, definition_id: int, job_id: int):
    """Evaluate a defined outcome on a time-aware hold-out and keep the model as a version that does
    not score yet (the admin looks at it first, then activates it). The same training path as churn
    and payment risk (insights.training.train_on); returns the ModelVersion or None."""
    from insights.models import OutcomeDefinition
    from insights.outcomes import defined
    from insights.training import train_on

    job = Job.objects.get(pk=job_id)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now())
    definition = OutcomeDefinition.objects.get(pk=definition_id)
    outcome = defined(definition)
    try:
        examples = outcome.examples(timezone.now())
        job.advance()
        per_class = examples["label"].value_counts() if len(examples) else None
        if per_class is None or len(per_class) < 2 or per_class.min() < 10:
            positives = int(examples["label"].sum()) if len(examples) else 0
            raise ValueError(
                _(
                    "Not enough history: %(n)s examples, %(positives)s of them successes. "
                    "At least 10 successes and 10 others are needed."
                )
                % {"n": len(examples), "positives": positives}
            )
        version = train_on(
            outcome.key, examples, split="time", exclude=outcome.exclude, only=outcome.only,
            force=True, active=False, progress=job.advance,
        )  # fmt: skip
    except Exception as exc:  # the page shows why; the worker's log has the trace
        logger.exception("evaluating outcome %s failed", definition.key)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        return None
    OutcomeDefinition.objects.filter(pk=definition.pk).update(evaluated_version=version)
    job.advance()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.DONE, finished_at=timezone.now(), result={"model_version": version.pk}
    )
    return version


def outcome_activate(*, definition, user=None) -> ScoringRun:
    """Score the evaluated model from now on (and nightly after each retraining): its version goes
    active, the definition too, and every customer is rescored at once."""
    from insights.engine import catalogue_changed
    from insights.training import activate_version

    if definition.evaluated_version_id is None:
        raise ValueError(_("Evaluate the outcome before activating it."))
    with transaction.atomic():
        activate_version(definition.evaluated_version)
        type(definition).objects.filter(pk=definition.pk).update(is_active=True)
        catalogue_changed()
    return scoring_run_start(user=user)


def outcome_deactivate(*, definition) -> None:
    """Stop scoring the outcome; its stored scores go with the next scoring pass."""
    from insights.engine import catalogue_changed
    from insights.models import ModelVersion

    with transaction.atomic():
        type(definition).objects.filter(pk=definition.pk).update(is_active=False)
        ModelVersion.objects.filter(action=None, outcome=definition.score_kind).update(is_active=False)
        catalogue_changed()
