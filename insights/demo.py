"""Demo data of the NBA engine: the catalogue, some past feedback to learn from, and fresh scores."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.contenttypes.models import ContentType

from customer360 import timeline
from customer360.bulk import bulk_insert
from customer360.demo import DemoContext, seeders
from insights.catalogue import seed_actions
from insights.events import NBA_COMPLETED, NBA_DISMISSED, action_names
from insights.models import Action, ActionRule, Recommendation

# persona -> [(action key, probability of success when tried)]
HISTORY = {
    "late_payer": [("payment_plan_offer", 0.55)],
    "complainer": [("service_recovery_call", 0.6), ("upsell", 0.05)],
    "churner": [("win_back", 0.15)],
    "loyal": [("renewal_call", 0.7), ("upsell", 0.3), ("cross_sell", 0.2)],
    "newsletter_reader": [("upsell", 0.35), ("cross_sell", 0.3)],
    "ordinary": [("cross_sell", 0.08), ("consent_refresh", 0.2)],
    "gruber": [],
}


@seeders.register("insights_history", order=70, bulk_load=("insights.Recommendation",))
def seed_insights_history(ctx: DemoContext) -> None:
    """Past recommendations with what reps did (bulk) and their timeline events, chunk by chunk."""
    actions = ctx.once("insights:actions", lambda: _actions(ctx))
    rng = ctx.rng("insights")
    reps = [ctx.users["rep"].pk, ctx.users["rep2"].pk]
    past: list[Recommendation] = []
    for customer in ctx.customers:
        for key, success in HISTORY.get(customer.persona, []):
            if rng.random() > 0.35 or key not in actions:
                continue
            created = ctx.moment(rng.randint(35, 300), rng)
            decided = created + timedelta(days=rng.randint(0, 6), hours=2)
            roll = rng.random()
            rec = Recommendation(
                customer_id=customer.id,
                action_id=actions[key].pk,
                created_at=created,
                scored_at=created,
                decided_at=decided,
                decided_by_id=customer.owner_id or rng.choice(reps),
                priority=100.0,
                propensity=success,
                reasons=[],
            )
            if roll < success:
                rec.status, rec.outcome = Recommendation.Status.COMPLETED, Recommendation.Outcome.SUCCESS
            elif roll < success + 0.25:
                rec.status, rec.dismiss_reason = (
                    Recommendation.Status.DISMISSED,
                    Recommendation.DismissReason.DECLINED,
                )
            elif roll < success + 0.4:
                rec.status, rec.dismiss_reason = (
                    Recommendation.Status.DISMISSED,
                    Recommendation.DismissReason.BAD_TIMING,
                )
            else:
                rec.status, rec.outcome = Recommendation.Status.COMPLETED, Recommendation.Outcome.FAILURE
            past.append(rec)
    bulk_insert(past, with_ids=True)
    source_type = ContentType.objects.get_for_model(Recommendation).id
    by_pk = {action.pk: action for action in actions.values()}
    timeline.record_many(
        (_feedback_event(rec, by_pk[rec.action_id], source_type) for rec in past),
        announce=False,
    )
    ctx.extras["past_recommendations"] = ctx.extras.get("past_recommendations", 0) + len(past)


def _actions(ctx: DemoContext) -> dict[str, Action]:
    """The catalogue, by key (made once, with the first chunk)."""
    seed_actions(Action, ActionRule)
    return {action.key: action for action in Action.objects.all()}


@seeders.register("insights", order=90)
def seed_insights(ctx: DemoContext) -> None:
    """Churn and payment risk learned from the seeded history (side by side with the record-based
    analytics)."""
    from insights.services import outcomes_train

    learned = outcomes_train()
    ctx.extras["learned"] = ", ".join(f"{key} v{version}" for key, version in learned.items() if version)


@seeders.register(
    "insights_scoring",
    order=92,
    bulk_load=("customer360.Score", "insights.CustomerScore"),
    atomic=False,
)
def seed_insights_scoring(ctx: DemoContext) -> None:
    """One batch scoring (which publishes every score into the core), its chunks in two processes
    as two Celery workers would take them, where the seed can fork (``demo_lanes.can_fork``); else
    one chunk after the other."""
    from customer360 import demo_lanes
    from insights.services import scoring_run_create, scoring_run_inline

    if demo_lanes.can_fork():
        run, chunk_ids = scoring_run_create()
        demo_lanes.in_processes(_score_chunk, chunk_ids, processes=SCORING_PROCESSES)
        run.job.refresh_from_db()
    else:
        run = scoring_run_inline(vacuum=False)  # the seed vacuums at its end
    past = ctx.extras.get("past_recommendations", 0)
    models = ctx.extras.get("learned") or "none yet"
    ctx.stdout(f"    {past} past recommendations; learned {models}; scored {run.job.total} customers")


#: processes of the seed's batch scoring (the machine's two cores)
SCORING_PROCESSES = 2


def _score_chunk(chunk_id: int) -> None:
    from insights.services import scoring_chunk_run

    scoring_chunk_run(chunk_id=chunk_id, vacuum=False)  # the seed vacuums at its end


def _feedback_event(rec: Recommendation, action: Action, source_type: int):
    """The past decision's timeline event, built through the declarations as the services build it."""
    if rec.status == Recommendation.Status.COMPLETED:
        declaration, values = NBA_COMPLETED, {"outcome": rec.outcome}
    else:
        declaration, values = NBA_DISMISSED, {"reason": rec.dismiss_reason}
    return declaration.event(
        customer_id=rec.customer_id,
        key=f"demo:insights:{rec.customer_id}:{rec.action_id}:{rec.created_at:%Y%m%d}",
        payload=declaration.payload(
            recommendation_id=rec.pk, action=action.key, action_name=action_names(action), **values
        ),
        occurred_at=rec.decided_at,
        actor_id=rec.decided_by_id,
        source_type_id=source_type,
        source_id=str(rec.pk or ""),
        source_url=f"/customers/{rec.customer_id}/",
    )
