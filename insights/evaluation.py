"""Hold-out evaluation as people read it: the lines ``nba_evaluate`` and ``outcome_evaluate`` print."""

from __future__ import annotations


def metric_lines(metrics: dict) -> list[str]:
    """n and split, AUC, Brier score, lift, the reliability curve, top features and excluded columns."""
    lines = [
        f"n: {metrics['n']} (train {metrics['n_train']}, hold-out {metrics['n_test']}, split {metrics['split']})",
        f"positives: {metrics['positives']} (base rate {metrics['base_rate']:.3f})",
        f"AUC: {metrics['auc']:.4f}",
    ]
    if "brier" in metrics:
        method = metrics.get("calibration_method") or "none"
        baseline = metrics.get("brier_baseline")
        against = f", always guessing the base rate: {baseline:.4f}" if baseline is not None else ""
        lines.append(f"Brier: {metrics['brier']:.4f} (calibration: {method}{against})")
    if metrics.get("lift_10") is not None:
        lines.append(f"lift in the top 10 %: {metrics['lift_10']:.2f}")
    lines.append("reliability (hold-out deciles: mean predicted -> observed, n):")
    lines += [f"  {p:.3f} -> {o:.3f}  ({n})" for p, o, n in metrics.get("calibration", [])]
    lines.append("top features (permutation importance, AUC drop):")
    lines += [f"  {name}: {value:.4f}" for name, value in metrics["top_features"]]
    excluded = metrics.get("excluded") or {}
    named = ", ".join(f"{column} ({why})" for column, why in sorted(excluded.items())) or "none"
    lines.append(f"excluded columns: {named}")
    return lines
