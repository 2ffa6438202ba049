"""``manage.py outcome_evaluate --outcome KEY [--min-auc 0.75] [--save]``: hold-out AUC, Brier and
coverage of a learned outcome (``churn_risk``, ``payment_risk``) or of an action's propensity (its key).

Coverage is the share of the customers eligible for the score that have one stored in the core's
score table (after a scoring run it is 100 %)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customer360.scores import propensity_kind
from insights import outcomes
from insights.coverage import coverage
from insights.evaluation import metric_lines
from insights.features import build_features_at
from insights.models import Action, OutcomeDefinition
from insights.training import data_fingerprint, fit_and_evaluate, save_version, training_examples


class Command(BaseCommand):
    help = "Evaluate a learned outcome or an action's propensity on a time-aware hold-out; print AUC, Brier, coverage."

    def add_arguments(self, parser):
        parser.add_argument(
            "--outcome",
            required=True,
            help="churn_risk, payment_risk, a defined outcome's key or an action key",
        )
        parser.add_argument("--min-auc", type=float, default=0.0)
        parser.add_argument("--save", action="store_true", help="store the model as a new version")

    def _examples(self, key: str):
        outcome = outcomes.get(key, active_only=False)
        if outcome is not None:
            return (
                outcome.key,
                outcome.key,
                outcome.examples(timezone.now()),
                "time",
                outcome.exclude,
                outcome.only,
            )
        action = Action.objects.filter(key=key, is_no_contact=False).first()
        if action is None:
            known = ", ".join(
                [
                    *outcomes.OUTCOMES,
                    *OutcomeDefinition.objects.values_list("key", flat=True),
                    *Action.objects.filter(is_no_contact=False).values_list("key", flat=True),
                ]
            )
            raise CommandError(f"no outcome {key!r} (known: {known})")
        return action, propensity_kind(key), training_examples(action), action.validation, (), ()

    def handle(self, *args, outcome, min_auc, save, **options):
        owner, kind, examples, split, exclude, only = self._examples(outcome)
        if len(examples) < 20 or examples["label"].nunique() < 2:
            raise CommandError(
                f"{outcome}: only {len(examples)} examples with both outcomes, cannot evaluate"
            )
        frame = build_features_at(examples[["customer_id", "as_of"]])
        labels = examples["label"].to_numpy()
        artifact, metrics = fit_and_evaluate(
            frame, labels, times=examples["as_of"], split=split, exclude=exclude, only=only
        )
        self.stdout.write(f"outcome: {outcome}")
        for line in metric_lines(metrics):
            self.stdout.write(line)
        eligible, scored = coverage([kind]).get(kind, (0, 0))
        share = f"{100 * scored / eligible:.1f} %" if eligible else "n/a (nobody eligible)"
        self.stdout.write(
            f"coverage: {share} ({scored} of {eligible} eligible customers have a stored score)"
        )
        if save:
            fingerprint = data_fingerprint(frame.drop(columns=["customer_id", "owner_id"]), labels)
            version = save_version(owner, artifact, metrics, fingerprint)
            self.stdout.write(f"saved as {version.label}")
        if metrics["auc"] < min_auc:
            raise CommandError(f"AUC {metrics['auc']:.4f} is below the minimum {min_auc}")
