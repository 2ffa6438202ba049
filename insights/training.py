"""Learned models: labels from real outcomes, one scikit-learn model per action or outcome, versioned files.

A model is a gradient-boosting classifier over the feature builder's columns (categoricals
ordinal-encoded, missing values handled natively), calibrated by cross-validation (isotonic with
enough positives, else sigmoid) so that its output is a probability: priority = P x value is then
an expected value, and a churn risk of 30 % means about 3 in 10. It is validated on a hold-out
(time-based by default: the newest 20 % of examples; stratified where the action says so) with AUC,
Brier score and a reliability curve, then refitted on all examples and stored through the storage API as ``models/<key>-v<n>.joblib``
(customer360/files: the file system, the database or S3) with a ModelVersion row that carries its
sha256. Any worker host loads it from there, checks the digest first, and asks for a retrain when the
file is gone or altered.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from datetime import timedelta
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import ThreadpoolController

from customer360.models import Customer, TimelineEvent
from insights.features import build_features_at, model_columns
from insights.models import Action, ModelVersion, Recommendation

logger = logging.getLogger(__name__)

SUCCESS_WINDOW_DAYS = 30
MAX_CATEGORIES = 200
MIN_KNOWN = 20  # rows with a value, at least (and 1 % of all)
_artifacts: dict[tuple[str, str], dict] = {}
_retrain_asked: set[tuple[str, str]] = set()


# --- labels ----------------------------------------------------------------------------------------
def training_examples(action: Action, *, now=None) -> pd.DataFrame:
    """(customer_id, as_of, label) from rep feedback, department outcomes and recorded outcome events."""
    now = now or timezone.now()
    frames = [_labels_from_recommendations(action, now), _labels_from_events(action)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["customer_id", "as_of", "label"])
    examples = pd.concat(frames, ignore_index=True)
    # An erased person's anonymised events and decisions are no outcome to learn from.
    erased = list(Customer.objects.erased().values_list("pk", flat=True))
    examples = examples[~examples["customer_id"].isin(erased)].copy()
    examples["as_of"] = pd.to_datetime(examples["as_of"], utc=True)
    return examples.sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)


def _labels_from_recommendations(action: Action, now) -> pd.DataFrame:
    rows = list(
        Recommendation.objects.filter(
            action=action,
            status__in=[
                Recommendation.Status.ACCEPTED,
                Recommendation.Status.DISMISSED,
                Recommendation.Status.COMPLETED,
            ],
        ).values_list("customer_id", "created_at", "decided_at", "status", "outcome", "dismiss_reason")
    )
    recs = pd.DataFrame(
        rows, columns=["customer_id", "as_of", "decided_at", "status", "outcome", "dismiss_reason"]
    )
    if recs.empty:
        return recs
    recs["decided_at"] = pd.to_datetime(recs["decided_at"], utc=True)
    recs["label"] = np.nan
    recs.loc[recs["status"].eq("completed"), "label"] = recs["outcome"].eq("success").astype(float)
    recs.loc[recs["status"].eq("dismissed") & recs["dismiss_reason"].eq("declined"), "label"] = 0.0
    kinds = action.success_kind_list
    if kinds:
        events = pd.DataFrame(
            list(
                TimelineEvent.objects.filter(
                    customer_id__in=recs["customer_id"].unique().tolist(), kind__in=kinds
                )
                .values_list("customer_id", "occurred_at")
                .order_by()
            ),
            columns=["customer_id", "occurred_at"],
        )
        events["occurred_at"] = pd.to_datetime(events["occurred_at"], utc=True)
        pairs = recs.reset_index().merge(events, on="customer_id")
        after = pairs[
            (pairs["occurred_at"] >= pairs["decided_at"])
            & (pairs["occurred_at"] <= pairs["decided_at"] + pd.Timedelta(days=SUCCESS_WINDOW_DAYS))
        ]
        won = recs.index.isin(after["index"]) & recs["status"].isin(["accepted", "completed"])
        recs.loc[won, "label"] = 1.0
    # Accepted long ago without a success afterwards: it did not work.
    stale = recs["status"].eq("accepted") & recs["label"].isna()
    stale &= recs["decided_at"] < pd.Timestamp(now - timedelta(days=SUCCESS_WINDOW_DAYS))
    recs.loc[stale, "label"] = 0.0
    recs = recs.dropna(subset=["label"])
    return recs[["customer_id", "as_of", "label"]].astype({"label": int})


def _labels_from_events(action: Action) -> pd.DataFrame:
    if not action.label_kind:
        return pd.DataFrame()
    qs = TimelineEvent.objects.filter(kind=action.label_kind)
    if action.label_topic:
        qs = qs.filter(payload__topic=action.label_topic)
    rows = list(
        qs.annotate(p_outcome=KeyTextTransform("outcome", "payload"))
        .values_list("customer_id", "occurred_at", "p_outcome")
        .order_by()
    )
    frame = pd.DataFrame(rows, columns=["customer_id", "as_of", "outcome"])
    frame = frame[frame["outcome"].notna()]
    frame["label"] = frame["outcome"].isin(action.positive_outcomes).astype(int)
    return frame[["customer_id", "as_of", "label"]]


# --- fitting -----------------------------------------------------------------------------------------
def prepare(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """The model's input: numeric as float, categoricals as object with NaN for missing.

    Built as one dict of columns and one DataFrame (not a column at a time): scoring one customer
    calls this once per model, and inserting ~40 columns one by one cost more than the prediction."""
    missing = pd.Series(np.nan, index=frame.index)
    columns: dict[str, pd.Series] = {}
    for column in numeric:
        values = frame[column] if column in frame.columns else missing
        columns[column] = pd.to_numeric(
            values.astype("float64") if values.dtype == bool else values, errors="coerce"
        )
    for column in categorical:
        values = frame[column] if column in frame.columns else missing
        columns[column] = values.astype(object).where(values.notna(), np.nan)
    return pd.DataFrame(columns, index=frame.index)


def make_pipeline(numeric: list[str], categorical: list[str], seed: int = 0) -> Pipeline:
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )
    columns = ColumnTransformer(
        [("num", "passthrough", numeric), ("cat", encoder, categorical)], verbose_feature_names_out=False
    )
    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        categorical_features=list(range(len(numeric), len(numeric) + len(categorical))) or None,
        early_stopping=True,
        random_state=seed,
    )
    return Pipeline([("columns", columns), ("model", model)])


ISOTONIC_MIN_POSITIVES = 500  # below this, isotonic calibration overfits; sigmoid (Platt) is steadier
CALIBRATION_FOLDS = 3


def calibrated(numeric: list[str], categorical: list[str], y: np.ndarray, seed: int = 0):
    """The pipeline wrapped in cross-validated calibration (uncalibrated when a fold would lack a class)."""
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    # Each fold's training part must keep two of each class: gradient boosting's early stopping splits
    # off a stratified validation set of its own.
    folds = min(CALIBRATION_FOLDS, positives // 2, negatives // 2)
    pipeline = make_pipeline(numeric, categorical, seed)
    if folds < 2:
        return pipeline, ""
    method = "isotonic" if positives >= ISOTONIC_MIN_POSITIVES else "sigmoid"
    # One calibrated model per fold, averaged: on the small, noisy outcome sets of a young install this
    # bagging ranked better on the demo's history than one model refitted on all rows.
    # Shuffled folds: the rows come in time order, and a fact recorded only lately (a newer feature)
    # would otherwise be missing from every training row of a fold.
    folds = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return CalibratedClassifierCV(pipeline, method=method, cv=folds, ensemble=True), method


def select_columns(
    frame: pd.DataFrame, exclude: tuple[str, ...] = (), only: tuple[str, ...] = ()
) -> tuple[list[str], list[str], dict]:
    """(numeric, categorical, excluded): the columns a model uses, and every other column with why not.
    ``only`` (when given): the columns an admin picked; every other one is left out as "not picked"."""
    numeric, categorical = model_columns(frame)
    excluded = {c: "excluded by the outcome" for c in exclude if c in frame.columns}
    if only:
        picked = set(only)
        excluded.update(
            {c: "not picked" for c in [*numeric, *categorical] if c not in picked and c not in excluded}
        )
    for column in frame.columns:
        if column not in numeric and column not in categorical and column not in ("customer_id", "owner_id"):
            excluded.setdefault(column, "not a model feature")
    # A column known for only a handful of rows can be missing from every row of a calibration fold,
    # which gradient boosting cannot bin.
    # Counted on the values as the model sees them (text in a number column is missing there).
    rare = max(MIN_KNOWN, int(len(frame) * 0.01))
    values = prepare(frame, numeric, categorical)
    for column in [*numeric, *categorical]:
        levels = values[column].nunique(dropna=True)
        if column in excluded:
            continue
        if levels <= 1:
            excluded[column] = "constant"
        elif column in categorical and levels > MAX_CATEGORIES:
            excluded[column] = f"more than {MAX_CATEGORIES} values"
        elif values[column].notna().sum() < rare:
            excluded[column] = f"known for fewer than {rare} rows"
    numeric = [c for c in numeric if c not in excluded]
    categorical = [c for c in categorical if c not in excluded]
    return numeric, categorical, excluded


def fit_and_evaluate(*args, **kwargs) -> tuple[dict, dict]:
    """See :func:`_fit_and_evaluate`. One thread: OpenMP threads fight with the other worker
    processes on a busy machine and make gradient boosting many times slower."""
    with one_thread():
        return _fit_and_evaluate(*args, **kwargs)


def holdout_split(y: np.ndarray, times, split: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """(train rows, test rows, split used): the newest 20 % when time-based and both parts hold both
    classes, else a stratified 20 %."""
    if split == "time" and times is not None:
        order = np.argsort(pd.to_datetime(times, utc=True).to_numpy(), kind="stable")
        cut = int(len(order) * 0.8)
        train_idx, test_idx = order[:cut], order[cut:]
        if len(set(y[test_idx])) == 2 and len(set(y[train_idx])) == 2:
            return train_idx, test_idx, "time"
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
    return train_idx, test_idx, "stratified"


def holdout_metrics(y: np.ndarray, scores: np.ndarray, prior: float) -> dict:
    """AUC, Brier score (and that of always guessing the training base rate ``prior``), lift in the
    top 10 % and the reliability curve of hold-out scores."""
    top = np.argsort(-scores, kind="stable")[: max(1, len(scores) // 10)]
    base = float(y.mean())
    return {
        "auc": round(float(roc_auc_score(y, scores)), 4),
        "brier": round(float(brier_score_loss(y, scores)), 4),
        "brier_baseline": round(float(np.mean((y - prior) ** 2)), 4),
        "lift_10": round(float(y[top].mean()) / base, 2) if base else None,
        "calibration": calibration_bins(y, scores),
    }


def _fit_and_evaluate(
    frame: pd.DataFrame,
    labels: pd.Series | np.ndarray,
    *,
    times: pd.Series | None = None,
    split: str = "time",
    seed: int = 0,
    exclude: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
) -> tuple[dict, dict]:
    """Validate on a hold-out, refit on everything; return (artifact, metrics)."""
    y = np.asarray(labels, dtype=int)
    train_idx, test_idx, split = holdout_split(y, times, split, seed)
    # Columns are chosen on the training rows: one known only in the newest rows teaches nothing.
    numeric, categorical, excluded = select_columns(frame.iloc[train_idx], exclude, only)
    X = prepare(frame, numeric, categorical)
    pipeline, method = calibrated(numeric, categorical, y[train_idx], seed)
    pipeline.fit(X.iloc[train_idx], y[train_idx])
    scores = pipeline.predict_proba(X.iloc[test_idx])[:, 1]
    # A random sample of the hold-out (its first rows may hold one class only: AUC undefined, NaN).
    sample = np.random.default_rng(seed).permutation(test_idx)[:3000]
    importance = permutation_importance(
        pipeline, X.iloc[sample], y[sample], scoring="roc_auc", n_repeats=3, random_state=seed, n_jobs=1
    )
    means = np.nan_to_num(importance.importances_mean)  # stored as JSON: PostgreSQL refuses NaN
    ranked = sorted(zip(X.columns, means, strict=True), key=lambda kv: -kv[1])
    final = calibrated(numeric, categorical, y, seed)[0].fit(X, y)
    metrics = {
        **holdout_metrics(y[test_idx], scores, float(y[train_idx].mean())),
        "calibration_method": method,
        "excluded": excluded,
        "n": int(len(y)),
        "n_train": int(len(train_idx)),
        "n_test": int(len(test_idx)),
        "positives": int(y.sum()),
        "base_rate": round(float(y.mean()), 4),
        "split": split,
        "features": list(X.columns),
        "top_features": [[name, round(float(value), 4)] for name, value in ranked[:10]],
        "trained_at": timezone.now().isoformat(),
    }
    mode = {c: (X[c].mode(dropna=True).iloc[0] if X[c].notna().any() else None) for c in categorical}
    artifact = {
        "pipeline": final,
        "numeric": numeric,
        "categorical": categorical,
        "importance": {name: float(max(value, 0.0)) for name, value in ranked},
        "center": {c: float(np.nanmedian(X[c])) if X[c].notna().any() else 0.0 for c in numeric},
        "scale": {c: float(np.nanstd(X[c])) or 1.0 for c in numeric},
        "mode": {k: (str(v) if v is not None else None) for k, v in mode.items()},
    }
    return artifact, metrics


def calibration_bins(y: np.ndarray, scores: np.ndarray, bins: int = 10) -> list[list[float]]:
    """[mean predicted, observed rate, count] per score decile."""
    order = np.argsort(scores)
    result = []
    for part in np.array_split(order, bins):
        if len(part):
            result.append(
                [round(float(scores[part].mean()), 4), round(float(y[part].mean()), 4), int(len(part))]
            )
    return result


_threadpools: list[ThreadpoolController] = []


def one_thread():
    """Native thread pools (OpenMP, BLAS) limited to one thread. The controller, which scans the
    loaded libraries (several ms), is made once per process, not on every prediction."""
    if not _threadpools:
        _threadpools.append(ThreadpoolController())
    return _threadpools[0].limit(limits=1)


def predict(artifact: dict, frame: pd.DataFrame) -> np.ndarray:
    X = prepare(frame, artifact["numeric"], artifact["categorical"])
    with one_thread():
        return artifact["pipeline"].predict_proba(X)[:, 1]


# --- storage -----------------------------------------------------------------------------------------
def save_version(
    owner: Action | str, artifact: dict, metrics: dict, data_hash: str, *, active: bool = True
) -> ModelVersion:
    """Store the artifact through the storage API, then the row with its sha256; older versions go
    inactive. ``owner`` is an action (its propensity model) or the key of a learned outcome (e.g.
    "churn_risk"). The file is written before the row, so a row always names a complete file.
    ``active=False`` stores a version to be looked at first (an outcome's evaluation before it is
    activated, see :func:`activate_version`); the active one stays."""
    if isinstance(owner, Action):
        key, same = owner.key, {"action": owner}
    else:
        key, same = owner, {"action": None, "outcome": owner}
    buffer = io.BytesIO()
    joblib.dump(artifact, buffer)
    content = buffer.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    for _attempt in range(3):
        version = (ModelVersion.objects.filter(**same).aggregate(v=Max("version"))["v"] or 0) + 1
        name = default_storage.save(f"models/{key}-v{version}.joblib", ContentFile(content))
        try:
            with transaction.atomic():
                row = ModelVersion.objects.create(
                    **same,
                    version=version,
                    path=name,
                    sha256=digest,
                    n=metrics["n"],
                    auc=metrics["auc"],
                    metrics=metrics,
                    data_hash=data_hash,
                    is_active=active,
                )
                if active:
                    ModelVersion.objects.filter(**same).exclude(pk=row.pk).update(is_active=False)
            _artifacts[(name, digest)] = artifact
            return row
        except IntegrityError:  # another trainer took this number; try the next one
            default_storage.delete(name)
            continue
    raise RuntimeError(f"could not store a model version for {key}")


def activate_version(version: ModelVersion) -> None:
    """Make ``version`` the one that scores; the owner's other versions go inactive."""
    same = {"action": version.action} if version.action_id else {"action": None, "outcome": version.outcome}
    with transaction.atomic():
        ModelVersion.objects.filter(**same).exclude(pk=version.pk).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True)


def _read_artifact_bytes(version: ModelVersion) -> bytes | None:
    """The stored file's bytes, or None when it is gone. A version from before the storage API
    holds an absolute local path: read it from this host's disk if it is still there."""
    if os.path.isabs(version.path):
        try:
            return Path(version.path).read_bytes()
        except OSError:
            return None
    try:
        with default_storage.open(version.path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, OSError):
        return None


def artifact_available(version: ModelVersion) -> bool:
    """Whether the version's file can be used on this host (present, and its digest matches)."""
    return load_artifact(version, retrain=False) is not None


def load_artifact(version: ModelVersion, *, retrain: bool = True) -> dict | None:
    """The model of a version (cached per process by name and digest), after checking the stored
    file's sha256. None when the file is missing or altered; then (once per process) a retrain of
    its action or outcome is queued, so every host gets a usable model again."""
    cache_key = (version.path, version.sha256)
    cached = _artifacts.get(cache_key)
    if cached is not None:
        return cached
    content = _read_artifact_bytes(version)
    problem = None
    if content is None:
        problem = "missing"
    elif version.sha256 and hashlib.sha256(content).hexdigest() != version.sha256:
        problem = "altered (sha256 differs)"
    if problem:
        logger.warning("model file of %s v%s is %s", version.key, version.version, problem)
        if retrain and cache_key not in _retrain_asked:
            _retrain_asked.add(cache_key)
            _ask_for_retrain(version)
        return None
    try:
        artifact = joblib.load(io.BytesIO(content))
    except Exception:  # noqa: BLE001 - an unreadable pickle is a missing model, not a crash
        logger.warning("model file of %s v%s cannot be read", version.key, version.version)
        return None
    _artifacts[cache_key] = artifact
    return artifact


def _ask_for_retrain(version: ModelVersion) -> None:
    """Queue a forced retrain of the version's action or outcome (a missing broker only logs)."""
    from customer360.celery import task

    name, key = (
        ("insights.tasks.train_action", version.action.key)
        if version.action_id
        else ("insights.tasks.train_outcome", version.outcome)
    )

    def send() -> None:
        try:
            task(name).apply_async(args=[key, True])
        except Exception:  # noqa: BLE001 - the broker is away; the nightly training retries anyway
            logger.warning("could not queue a retrain of %s", key)

    transaction.on_commit(send)


def data_fingerprint(frame: pd.DataFrame, labels: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(",".join(frame.columns).encode())
    digest.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    digest.update(np.asarray(labels, dtype=np.int8).tobytes())
    return digest.hexdigest()


def train_action(action: Action, *, force: bool = False) -> ModelVersion | None:
    """Train the action's model when it has enough outcomes and its data changed since the last one."""
    examples = training_examples(action)
    if len(examples) < action.min_outcomes or examples["label"].nunique() < 2:
        logger.info("action %s: %s outcomes, not enough for a model", action.key, len(examples))
        return None
    return train_on(action, examples, split=action.validation, force=force)


def train_on(
    owner: Action | str,
    examples: pd.DataFrame,
    *,
    split: str = "time",
    exclude: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
    force: bool = False,
    active: bool = True,
    progress=None,
) -> ModelVersion | None:
    """Fit, validate and store a model of ``owner`` (an action or an outcome key) on (customer_id,
    as_of, label) examples; None when the data did not change since the latest version.
    ``progress()`` (optional) is called after the features are built and after the fit."""
    frame = build_features_at(examples[["customer_id", "as_of"]])
    if progress:
        progress()
    labels = examples["label"].to_numpy()
    fingerprint = data_fingerprint(frame.drop(columns=["customer_id", "owner_id"]), labels)
    same = {"action": owner} if isinstance(owner, Action) else {"action": None, "outcome": owner}
    latest = ModelVersion.objects.filter(**same).order_by("-version").first()
    if latest and latest.data_hash == fingerprint and not force and artifact_available(latest):
        logger.info("%s: data unchanged since v%s", latest.key, latest.version)
        return None
    artifact, metrics = fit_and_evaluate(
        frame, labels, times=examples["as_of"], split=split, exclude=exclude, only=only
    )
    # ``n`` examples were used; ``population``: how many history held before a sample (insights.outcomes)
    metrics["population"] = int(examples.attrs.get("population", len(examples)))
    if progress:
        progress()
    return save_version(owner, artifact, metrics, fingerprint, active=active)


def active_versions() -> dict[int, ModelVersion]:
    """The active model version per action id (one query)."""
    return {
        v.action_id: v
        for v in ModelVersion.objects.filter(Q(is_active=True), action__is_active=True).order_by(
            "action_id", "-version"
        )
    }


def active_outcome_versions() -> dict[str, ModelVersion]:
    """The active model version per learned outcome key (one query)."""
    versions = ModelVersion.objects.filter(action__isnull=True, is_active=True).exclude(outcome="")
    return {v.outcome: v for v in versions.order_by("outcome", "version")}
