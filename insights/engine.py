"""Scoring: eligibility, propensity, arbitration and reasons for a set of customers, in bulk.

``priority = propensity x value x context weight x lever``. Rules filter first (the contact policy
and the consent guard for offers are built in and cannot be edited away); the top N per customer are
kept, each with reasons in plain words (English and German). "No contact now" wins when nothing
else serves the customer better. Writing is idempotent: a customer's open recommendations are
replaced in one transaction under a row lock on the customer, so rescoring twice gives the same rows.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customer360.models import Customer
from insights import rules as rule_engine
from insights.features import build_features
from insights.models import (
    Action,
    ActionRule,
    ContactPolicy,
    CustomerScore,
    ModelVersion,
    Recommendation,
    ScoringRun,
)
from insights.reasons import model_reasons, rule_reasons, text_pair
from insights.training import active_versions, load_artifact, predict

logger = logging.getLogger(__name__)


@dataclass
class CatalogueEntry:
    action: Action
    rules: list[dict]
    version: ModelVersion | None = None
    artifact: dict | None = None

    def rules_of(self, kind: str) -> list[dict]:
        return [r for r in self.rules if r["kind"] == kind]


@dataclass
class Catalogue:
    entries: list[CatalogueEntry]
    policy: ContactPolicy
    loaded_at: datetime = field(default_factory=timezone.now)


def load_catalogue() -> Catalogue:
    """Active actions with their rules and active models (three queries, plus the policy)."""
    actions = list(Action.objects.filter(is_active=True).order_by("order", "key"))
    by_action: dict[int, list[dict]] = {a.pk: [] for a in actions}
    for rule in ActionRule.objects.filter(action__in=actions).order_by("id"):
        by_action[rule.action_id].append(rule.as_dict())
    versions = active_versions()
    entries = []
    for action in actions:
        version = versions.get(action.pk)
        artifact = load_artifact(version) if version else None
        entries.append(CatalogueEntry(action, by_action[action.pk], version if artifact else None, artifact))
    return Catalogue(entries, ContactPolicy.current())


# --- deterministic randomness (hold-out, exploration) ------------------------------------------------
def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a fast, well-spread hash of 64-bit integers."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _salt(text: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big"))


def uniform(ids: np.ndarray, salt: str) -> np.ndarray:
    """A stable pseudo-random number in [0, 1) per id and salt."""
    return (_mix(np.asarray(ids, dtype=np.uint64) ^ _salt(salt)) >> np.uint64(11)).astype(np.float64) / float(
        1 << 53
    )


def in_holdout(ids: np.ndarray, policy: ContactPolicy) -> np.ndarray:
    return uniform(ids, policy.holdout_salt) < policy.holdout_share


# --- eligibility --------------------------------------------------------------------------------------
def guard_mask(action: Action, frame: pd.DataFrame, policy: ContactPolicy) -> pd.Series:
    """The rules no admin can switch off: offers need consent for their channel and purpose, never
    during an open complaint or high dunning level, and stay within the contact cap."""
    mask = pd.Series(True, index=frame.index)
    if not action.is_offer:
        return mask
    consent = f"consent_{action.channel}_{action.purpose or 'offers'}"
    mask &= frame[consent].fillna(False).astype(bool) if consent in frame.columns else False
    mask &= frame["open_complaints"].fillna(0).eq(0)
    mask &= frame["dunning_level"].fillna(0) < policy.offer_block_dunning_level
    mask &= frame["offers_in_period"].fillna(0) < policy.max_offers
    return mask


def eligible(
    entry: CatalogueEntry, frame: pd.DataFrame, policy: ContactPolicy, blocked: pd.DataFrame
) -> pd.Series:
    mask = guard_mask(entry.action, frame, policy)
    mask &= rule_engine.all_hold(entry.rules_of(ActionRule.Kind.ELIGIBILITY), frame)
    mask &= rule_engine.all_hold(entry.rules_of(ActionRule.Kind.APPLICABILITY), frame)
    if not blocked.empty:
        ids = blocked.loc[blocked["action_id"].eq(entry.action.pk), "customer_id"]
        mask &= ~frame["customer_id"].isin(ids)
    return mask


def blocked_pairs(scope: Q, policy: ContactPolicy, now: datetime) -> pd.DataFrame:
    """(customer, action) pairs not to recommend: accepted and still being worked on, or
    dismissed/completed within the cool-down."""
    since = now - timedelta(days=policy.cooldown_days)
    rows = (
        Recommendation.objects.filter(scope)
        .filter(
            Q(status=Recommendation.Status.ACCEPTED)
            | Q(
                status__in=[Recommendation.Status.DISMISSED, Recommendation.Status.COMPLETED],
                decided_at__gte=since,
            )
        )
        .values_list("customer_id", "action_id")
        .distinct()
        .order_by()
    )
    return pd.DataFrame(list(rows), columns=["customer_id", "action_id"])


# --- arbitration --------------------------------------------------------------------------------------
def _value(action: Action, frame: pd.DataFrame) -> np.ndarray:
    value = np.full(len(frame), float(action.value_fixed))
    if action.value_feature and action.value_feature in frame.columns:
        derived = (
            pd.to_numeric(frame[action.value_feature], errors="coerce").fillna(0).to_numpy()
            * action.value_factor
        )
        value = np.maximum(value, derived)
    return value


def _context_weight(entry: CatalogueEntry, frame: pd.DataFrame) -> np.ndarray:
    weight = np.ones(len(frame))
    for rule in entry.rules_of(ActionRule.Kind.SUITABILITY):
        hit = rule_engine.evaluate(rule, frame).to_numpy()
        weight = np.where(hit, weight * float(rule["weight"]), weight)
    return weight


def candidates(
    frame: pd.DataFrame, catalogue: Catalogue, blocked: pd.DataFrame, now: datetime
) -> pd.DataFrame:
    """Every eligible (customer, action) with its priority parts (long format)."""
    parts = []
    week = now.strftime("%G-%V")
    for entry in catalogue.entries:
        action = entry.action
        if action.lever <= 0 and not action.is_no_contact:
            continue
        mask = eligible(entry, frame, catalogue.policy, blocked)
        sub = frame[mask.to_numpy()]
        if sub.empty:
            continue
        ids = sub["customer_id"].to_numpy()
        exploring = np.zeros(len(sub), dtype=bool)
        if entry.artifact is not None:
            propensity = predict(entry.artifact, sub)
        else:
            propensity = np.full(len(sub), float(action.prior))
            if action.exploration_share > 0 and not action.is_no_contact:
                exploring = uniform(ids, f"explore:{action.key}:{week}") < action.exploration_share
        value = _value(action, sub)
        weight = _context_weight(entry, sub)
        boost = np.where(exploring, 1.0 / max(float(action.prior), 1e-3), 1.0)
        parts.append(
            pd.DataFrame(
                {
                    "row": sub.index.to_numpy(),
                    "customer_id": ids,
                    "action_id": action.pk,
                    "propensity": propensity,
                    "value": value,
                    "context_weight": weight,
                    "lever": float(action.lever),
                    "priority": propensity * value * weight * float(action.lever) * boost,
                    "is_exploration": exploring,
                    "is_no_contact": action.is_no_contact,
                    "model_version_id": entry.version.pk if entry.version else None,
                }
            )
        )
    columns = ["row", "customer_id", "action_id", "propensity", "value", "context_weight", "lever", "priority",
               "is_exploration", "is_no_contact", "model_version_id"]  # fmt: skip
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def arbitrate(cands: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """Top N per customer by priority; when "no contact now" ranks first it stands alone."""
    if cands.empty:
        return cands.assign(rank=pd.Series(dtype="int64"))
    ordered = cands.sort_values(
        ["customer_id", "priority", "action_id"], ascending=[True, False, True], kind="stable"
    )
    ordered["rank"] = ordered.groupby("customer_id").cumcount() + 1
    first_is_quiet = ordered.loc[ordered["rank"].eq(1)].set_index("customer_id")["is_no_contact"]
    quiet = ordered["customer_id"].map(first_is_quiet).fillna(False).astype(bool)
    keep = (quiet & ordered["rank"].eq(1)) | (~quiet & ~ordered["is_no_contact"].astype(bool))
    chosen = ordered[keep].copy()
    chosen["rank"] = chosen.groupby("customer_id").cumcount() + 1
    return chosen[chosen["rank"] <= top_n]


def attach_reasons(chosen: pd.DataFrame, frame: pd.DataFrame, catalogue: Catalogue) -> list[list[dict]]:
    entries = {e.action.pk: e for e in catalogue.entries}
    reasons: list[list[dict]] = [[] for _ in range(len(chosen))]
    positions = np.arange(len(chosen))
    for action_id, group in chosen.groupby("action_id", sort=False):
        entry = entries[action_id]
        rows = frame.loc[group["row"].to_numpy()]
        slots = positions[chosen["action_id"].to_numpy() == action_id]
        per_row = rule_reasons(entry.rules, rows)
        if entry.artifact is not None:
            extra = model_reasons(entry.artifact, rows)
            per_row = [
                a + [r for r in b if r["f"] not in {x["f"] for x in a}]
                for a, b in zip(per_row, extra, strict=True)
            ]
        exploring = group["is_exploration"].to_numpy()
        for i, slot in enumerate(slots):
            items = per_row[i][:3]
            if exploring[i]:
                items = [*items[:2], {"f": "", **text_pair("explore")}]
            if not items and entry.action.is_no_contact:
                items = [{"f": "", **text_pair("quiet")}]
            reasons[slot] = [{"en": r["en"], "de": r["de"]} for r in items]
    return reasons


# --- the whole pass ------------------------------------------------------------------------------------
@dataclass
class ScoreResult:
    customers: int
    recommendations: int
    holdout: int


def score_customers(
    ids: list[int] | None = None,
    *,
    id_range: tuple[int, int] | None = None,
    run: ScoringRun | None = None,
    now: datetime | None = None,
    catalogue: Catalogue | None = None,
) -> ScoreResult:
    """Rescore customers (a list of ids or an id range) and replace their open recommendations."""
    now = now or timezone.now()
    catalogue = catalogue or load_catalogue()
    scope = (
        Q(customer_id__gte=id_range[0], customer_id__lte=id_range[1])
        if id_range
        else Q(customer_id__in=ids or [])
    )
    frame = build_features(ids, id_range=id_range, now=now)
    frame = frame.reset_index(drop=True)
    holdout = in_holdout(frame["customer_id"].to_numpy(), catalogue.policy)
    cands = candidates(frame[~holdout], catalogue, blocked_pairs(scope, catalogue.policy, now), now)
    chosen = arbitrate(cands, catalogue.policy.top_n)
    reasons = attach_reasons(chosen, frame, catalogue)
    counts = cands.groupby("customer_id").size() if not cands.empty else pd.Series(dtype="int64")
    with transaction.atomic():
        # The row lock serialises an incremental rescoring with a batch chunk of the same customer.
        locked = (
            Customer.objects.select_for_update().filter(pk__in=frame["customer_id"].tolist())
            if not id_range
            else (Customer.objects.select_for_update().filter(pk__gte=id_range[0], pk__lte=id_range[1]))
        )
        present = set(locked.order_by("pk").values_list("pk", flat=True))
        open_recs = Recommendation.objects.filter(scope, status=Recommendation.Status.OPEN)
        first_seen = {
            (c, a): t for c, a, t in open_recs.values_list("customer_id", "action_id", "created_at")
        }
        open_recs.delete()
        new = []
        for record, reason in zip(chosen.itertuples(index=False), reasons, strict=True):
            if record.customer_id not in present:
                continue
            new.append(
                Recommendation(
                    customer_id=int(record.customer_id),
                    action_id=int(record.action_id),
                    rank=int(record.rank),
                    priority=float(record.priority),
                    propensity=float(record.propensity),
                    value=float(record.value),
                    context_weight=float(record.context_weight),
                    lever=float(record.lever),
                    is_exploration=bool(record.is_exploration),
                    reasons=reason,
                    model_version_id=None
                    if pd.isna(record.model_version_id)
                    else int(record.model_version_id),
                    run=run,
                    created_at=first_seen.get((int(record.customer_id), int(record.action_id)), now),
                    scored_at=now,
                )
            )
        Recommendation.objects.bulk_create(new, batch_size=2000)
        scores = [
            CustomerScore(
                customer_id=int(cid),
                run=run,
                scored_at=now,
                holdout=bool(h),
                candidates=int(counts.get(cid, 0)),
            )
            for cid, h in zip(frame["customer_id"].to_numpy(), holdout, strict=True)
            if int(cid) in present
        ]
        CustomerScore.objects.bulk_create(
            scores,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["customer"],
            update_fields=["run", "scored_at", "holdout", "candidates"],
        )
    return ScoreResult(len(scores), len(new), int(holdout.sum()))
