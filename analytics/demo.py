"""Demo data of dashboards and listening: computed from the departments' demo data (roll-ups,
topics, sentiment, churn risk, the ticket-category model and its suggestions).

``analytics`` reads only the records, so it runs side by side with the insights scoring (the same
``order``); ``analytics_scores`` reads what the scoring published and runs after it."""

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
)
def seed_analytics(ctx: DemoContext) -> None:
    # Listening first: the mood snapshot and the churn risk read the customers' sentiment.
    job = services.listening_refresh(today=ctx.today, seed=ctx.seed)
    risks = services.customer_risk_refresh()
    version = services.ticket_categories_train()
    suggested = services.tickets_suggest_categories() if version else 0
    written = services.rollups_refresh(full=True, reads_scores=False)
    ctx.stdout(
        f"    roll-up rows {sum(written.values())}, messages {job.result.get('new_messages')}, "
        f"topics {job.result.get('topics')} ({job.result.get('rising')} rising), risk scores {risks}, "
        f"category model v{version.version if version else '-'}, suggestions {suggested}"
    )


@seeders.register("analytics_scores", order=95)
def seed_analytics_scores(ctx: DemoContext) -> None:
    written = services.rollups_refresh(full=True, reads_scores=True)
    ctx.stdout(f"    roll-up rows of scores and recommendations {sum(written.values())}")
