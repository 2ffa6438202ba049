"""Demo data of dashboards and listening: computed from the departments' demo data (roll-ups,
topics, sentiment, churn risk, the ticket-category model and its suggestions)."""

from __future__ import annotations

from analytics import services
from customer360.demo import DemoContext, seeders


@seeders.register("analytics", order=95)
def seed_analytics(ctx: DemoContext) -> None:
    written = services.rollups_refresh(full=True)
    job = services.listening_refresh(today=ctx.today, seed=ctx.seed)
    risks = services.customer_risk_refresh()
    version = services.ticket_categories_train()
    suggested = services.tickets_suggest_categories() if version else 0
    ctx.stdout(
        f"    roll-up rows {sum(written.values())}, messages {job.result.get('new_messages')}, "
        f"topics {job.result.get('topics')} ({job.result.get('rising')} rising), risk scores {risks}, "
        f"category model v{version.version if version else '-'}, suggestions {suggested}"
    )
