"""Demo data of dashboards and listening: computed from the departments' demo data (roll-ups,
topics, sentiment, churn risk, the ticket-category model and its suggestions).

``analytics`` (the listening, risk, ticket categories and mood) and ``analytics_records`` (the other
roll-ups of the records) read only the records, so they run side by side with each other and with
the insights' learning (the same ``order``); ``analytics_scores`` reads what the scoring published
and runs after it."""

from __future__ import annotations

from analytics import services
from customer360.demo import DemoContext, seeders


@seeders.register(
    "analytics",
    order=90,
    bulk_load=(
        "analytics.CustomerRevenue",
        "analytics.PeriodRevenue",
        "analytics.CustomerRisk",
        "analytics.ListenedMessage",
        "analytics.CustomerSentiment",
        "analytics.CustomerConversion",
        "analytics.SuccessDay",
    ),
    updates=("analytics.ListenedMessage",),  # each message's topic, set after all are written
)
def seed_analytics(ctx: DemoContext) -> None:
    # Listening first: the mood snapshot and the churn risk read the customers' sentiment.
    job = services.listening_refresh(today=ctx.today, seed=ctx.seed)
    risks = services.customer_risk_refresh()
    version = services.ticket_categories_train()
    suggested = services.tickets_suggest_categories() if version else 0
    written = services.rollups_refresh(
        full=True, reads_scores=False, reads_listening=True, settled=ctx.wave_started
    )
    ctx.stdout(
        f"    mood roll-up rows {sum(written.values())}, messages {job.result.get('new_messages')}, "
        f"topics {job.result.get('topics')} ({job.result.get('rising')} rising), risk scores {risks}, "
        f"category model v{version.version if version else '-'}, suggestions {suggested}"
    )


@seeders.register("analytics_records", order=90)
def seed_analytics_records(ctx: DemoContext) -> None:
    """The roll-ups computed from the records alone, beside the listening (in the same wave): at a
    million customers they take about 180 s, the listening, risk and mood together about 335 s."""
    written = services.rollups_refresh(
        full=True, reads_scores=False, reads_listening=False, settled=ctx.wave_started
    )
    ctx.stdout(f"    roll-up rows of the records {sum(written.values())}")


@seeders.register("analytics_scores", order=95)
def seed_analytics_scores(ctx: DemoContext) -> None:
    """The per-customer roll-ups of the scores (conversions, success days) and the family that reads
    them; beside them (the same wave) ``analytics_score_bands``."""
    written = services.rollups_refresh(
        full=True, reads_scores=True, per_customer=True, settled=ctx.wave_started
    )
    ctx.stdout(f"    roll-up rows of conversions and success days {sum(written.values())}")


@seeders.register("analytics_score_bands", order=95)
def seed_analytics_score_bands(ctx: DemoContext) -> None:
    """The score families that read no per-customer roll-up (churn bands, recommendations, scored)."""
    written = services.rollups_refresh(
        full=True, reads_scores=True, per_customer=False, settled=ctx.wave_started
    )
    ctx.stdout(f"    roll-up rows of scores and recommendations {sum(written.values())}")
