"""``manage.py nba_evaluate --action KEY [--min-auc 0.78] [--save]``: hold-out AUC of an action's model."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from insights.evaluation import metric_lines
from insights.features import build_features_at
from insights.models import Action
from insights.training import data_fingerprint, fit_and_evaluate, save_version, training_examples


class Command(BaseCommand):
    help = (
        "Train the action's propensity model on its outcomes; print hold-out AUC, Brier, n, top features "
        "and the columns the model did not use (with why)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--action", required=True)
        parser.add_argument("--min-auc", type=float, default=0.78)
        parser.add_argument("--split", choices=["time", "stratified"], default=None)
        parser.add_argument("--save", action="store_true", help="store the model as a new version")

    def handle(self, *args, action, min_auc, split, save, **options):
        obj = Action.objects.filter(key=action).first()
        if obj is None:
            raise CommandError(f"no action {action!r}")
        examples = training_examples(obj)
        if len(examples) < 20 or examples["label"].nunique() < 2:
            raise CommandError(f"{action}: only {len(examples)} outcomes, cannot evaluate")
        frame = build_features_at(examples[["customer_id", "as_of"]])
        labels = examples["label"].to_numpy()
        artifact, metrics = fit_and_evaluate(
            frame, labels, times=examples["as_of"], split=split or obj.validation
        )
        self.stdout.write(f"action: {action}")
        for line in metric_lines(metrics):
            self.stdout.write(line)
        if save:
            version = save_version(
                obj,
                artifact,
                metrics,
                data_fingerprint(frame.drop(columns=["customer_id", "owner_id"]), labels),
            )
            self.stdout.write(f"saved as {action} v{version.version}")
        if metrics["auc"] < min_auc:
            raise CommandError(f"AUC {metrics['auc']:.4f} is below the minimum {min_auc}")
