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
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from customer360.bulk import copy_in
from customer360.models import Customer
from insights import rules as rule_engine
from insights import score_conditions
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
from insights.outcomes import OUTCOMES, active_definitions, defined
from insights.reasons import model_reasons, rule_reasons, text_pair
from insights.scores import score_rows, write_scores
from insights.training import active_outcome_versions, active_versions, load_artifact, predict

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
    #: learned outcomes (churn and payment risk, active defined ones) with a model: key -> (version, artifact)
    outcomes: dict[str, tuple[ModelVersion, dict]] = field(default_factory=dict)
    #: what each of them is (insights.outcomes.Outcome: eligibility, examples), by key
    learned: dict = field(default_factory=dict)


def load_catalogue() -> Catalogue:
    """Active actions with their rules and active models, the outcome models (five queries, plus the policy)."""
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
    definitions = active_definitions()
    learned = {**OUTCOMES, **{d.score_kind: defined(d) for d in definitions}}
    # Rules, segments and the customer list may test an action's propensity or a defined outcome.
    score_conditions.publish(score_conditions.sources_of(actions, definitions))
    outcomes = {}
    for key, version in active_outcome_versions().items():
        artifact = load_artifact(version) if key in learned else None
        if artifact is not None:
            outcomes[key] = (version, artifact)
    return Catalogue(entries, ContactPolicy.current(), outcomes=outcomes, learned=learned)


CATALOGUE_STAMP_KEY = "nba:catalogue-stamp"
CATALOGUE_MAX_AGE = 30.0  # seconds; also catches edits that send no signal (queryset.update())
_catalogue_cache: dict[str, object] = {}


def catalogue_changed() -> None:
    """Tell every worker process to reload the catalogue (after the current transaction commits,
    so nobody reloads the old state under the new stamp)."""
    transaction.on_commit(lambda: cache.set(CATALOGUE_STAMP_KEY, time.time_ns(), None))


def cached_catalogue() -> Catalogue:
    """The catalogue of this process, reloaded when an action, rule, the policy or a model version
    changed (a stamp in the shared cache, one cache read) or after ``CATALOGUE_MAX_AGE``.
    Loaded models stay cached by file in :func:`insights.training.load_artifact`."""
    stamp = cache.get(CATALOGUE_STAMP_KEY)
    cached = _catalogue_cache.get("entry")
    if cached is not None:
        cached_stamp, loaded, catalogue = cached
        if cached_stamp == stamp and time.monotonic() - loaded < CATALOGUE_MAX_AGE:
            return catalogue
    catalogue = load_catalogue()
    _catalogue_cache["entry"] = (stamp, time.monotonic(), catalogue)
    return catalogue


def forget_catalogue() -> None:
    _catalogue_cache.clear()


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


def rules_allow(entry: CatalogueEntry, frame: pd.DataFrame, policy: ContactPolicy) -> pd.Series:
    """The guard and the action's eligibility and applicability rules, per row of ``frame``."""
    mask = guard_mask(entry.action, frame, policy)
    mask &= rule_engine.all_hold(entry.rules_of(ActionRule.Kind.ELIGIBILITY), frame)
    mask &= rule_engine.all_hold(entry.rules_of(ActionRule.Kind.APPLICABILITY), frame)
    return mask


def eligible(
    entry: CatalogueEntry,
    frame: pd.DataFrame,
    policy: ContactPolicy,
    blocked: pd.DataFrame,
    allowed: dict[int, pd.Series] | None = None,
) -> pd.Series:
    """``allowed``: :func:`rules_allow` per action, already computed over a frame that holds every
    row of ``frame`` (rules are read row by row, so a subset's values are the same)."""
    if allowed is not None and entry.action.pk in allowed:
        mask = allowed[entry.action.pk].loc[frame.index].copy()
    else:
        mask = rules_allow(entry, frame, policy)
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


def propensities(
    frame: pd.DataFrame, catalogue: Catalogue, allowed: dict[int, pd.Series] | None = None
) -> dict[int, pd.Series]:
    """Per active action (not "no contact now"): the propensity of every customer its rules allow,
    whether or not it will rank (indexed like ``frame``). A cool-down after a dismissal blocks the
    recommendation, not the score."""
    empty = pd.DataFrame(columns=["customer_id", "action_id"])
    result = {}
    for entry in catalogue.entries:
        if entry.action.is_no_contact:
            continue
        sub = frame[eligible(entry, frame, catalogue.policy, empty, allowed).to_numpy()]
        if entry.artifact is not None and not sub.empty:
            values = predict(entry.artifact, sub)
        else:
            values = np.full(len(sub), float(entry.action.prior))
        result[entry.action.pk] = pd.Series(values, index=sub.index, dtype="float64")
    return result


def candidates(
    frame: pd.DataFrame,
    catalogue: Catalogue,
    blocked: pd.DataFrame,
    now: datetime,
    known: dict[int, pd.Series] | None = None,
    allowed: dict[int, pd.Series] | None = None,
) -> pd.DataFrame:
    """Every eligible (customer, action) with its priority parts (long format); ``known`` holds
    propensities computed already (see :func:`propensities`), ``allowed`` the rules' verdicts
    (see :func:`eligible`)."""
    parts = []
    week = now.strftime("%G-%V")
    for entry in catalogue.entries:
        action = entry.action
        if action.lever <= 0 and not action.is_no_contact:
            continue
        mask = eligible(entry, frame, catalogue.policy, blocked, allowed)
        sub = frame[mask.to_numpy()]
        if sub.empty:
            continue
        ids = sub["customer_id"].to_numpy()
        exploring = np.zeros(len(sub), dtype=bool)
        if known is not None and action.pk in known:
            propensity = known[action.pk].reindex(sub.index).fillna(float(action.prior)).to_numpy()
        elif entry.artifact is not None:
            propensity = predict(entry.artifact, sub)
        else:
            propensity = np.full(len(sub), float(action.prior))
        if entry.artifact is None and action.exploration_share > 0 and not action.is_no_contact:
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
    """Rescore customers (a list of ids or an id range): their open recommendations are updated in
    place and their scores in the core's score table replaced (insights.scores)."""
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
    # The rules are read once per action for the pass (propensities and candidates both need them).
    allowed = {e.action.pk: rules_allow(e, frame, catalogue.policy) for e in catalogue.entries}
    known = propensities(frame, catalogue, allowed)
    blocked = blocked_pairs(scope, catalogue.policy, now)
    cands = candidates(frame[~holdout], catalogue, blocked, now, known, allowed)
    published = score_rows(frame, catalogue, known)
    chosen = arbitrate(cands, catalogue.policy.top_n)
    reasons = attach_reasons(chosen, frame, catalogue)
    counts = cands.groupby("customer_id").size() if not cands.empty else pd.Series(dtype="int64")
    scored = frame["customer_id"].to_numpy(dtype="int64")
    candidates_per_customer = counts.reindex(scored, fill_value=0).to_numpy(dtype="int64")
    write = _write_postgresql if connection.vendor == "postgresql" else _write_generic
    with transaction.atomic():
        # The row lock serialises an incremental rescoring with a batch chunk of the same customer.
        locked = (
            Customer.objects.select_for_update().filter(pk__in=scored.tolist())
            if not id_range
            else (Customer.objects.select_for_update().filter(pk__gte=id_range[0], pk__lte=id_range[1]))
        )
        present = np.fromiter(locked.order_by("pk").values_list("pk", flat=True), dtype="int64")
        if run is not None:
            present, scope = _without_newer(present, scope, now)
        keep = np.isin(chosen["customer_id"].to_numpy(dtype="int64"), present)
        rows = chosen[keep]
        kept_reasons = [r for r, k in zip(reasons, keep, strict=True) if k]
        scored_here = np.isin(scored, present)
        new = write(
            scope=scope,
            chosen=rows,
            reasons=kept_reasons,
            run=run,
            now=now,
            scores=(scored[scored_here], holdout[scored_here], candidates_per_customer[scored_here]),
        )
        mine = np.isin(published["customer_id"].to_numpy(dtype="int64"), present)
        write_scores(customer_ids=present, rows=published[mine], now=now)
    return ScoreResult(int(scored_here.sum()), new, int(holdout.sum()))


def _without_newer(present: np.ndarray, scope: Q, now: datetime) -> tuple[np.ndarray, Q]:
    """A batch chunk's customers less those rescored since the chunk began (a new event's
    rescoring, which waited for no chunk): their newer result stands, the chunk's older one is not
    written over it."""
    newer = list(
        CustomerScore.objects.filter(customer_id__in=present.tolist(), scored_at__gt=now).values_list(
            "customer_id", flat=True
        )
    )
    if not newer:
        return present, scope
    return present[~np.isin(present, newer)], scope & ~Q(customer_id__in=newer)


def _model_version_ids(chosen: pd.DataFrame) -> list[int | None]:
    return [None if pd.isna(v) else int(v) for v in chosen["model_version_id"].to_numpy(dtype=object)]


_RESCORED_FIELDS = ("rank", "priority", "propensity", "value", "context_weight", "lever", "is_exploration",
                    "reasons", "model_version", "run", "scored_at")  # fmt: skip


def _write_generic(*, scope: Q, chosen: pd.DataFrame, reasons, run, now, scores) -> int:
    """Rescored recommendations through the ORM (SQLite and others): an open one for the same customer
    and action is updated in place (same id), new ones are created, open ones no longer chosen are
    superseded (kept, so that a rep acting on them gets an answer, not a 404)."""
    open_recs = Recommendation.objects.filter(scope, status=Recommendation.Status.OPEN)
    existing = {(c, a): pk for pk, c, a in open_recs.values_list("pk", "customer_id", "action_id")}
    changed, new = [], []
    for record, reason, version in zip(
        chosen.itertuples(index=False), reasons, _model_version_ids(chosen), strict=True
    ):
        key = (int(record.customer_id), int(record.action_id))
        rec = Recommendation(
            pk=existing.pop(key, None),
            customer_id=key[0],
            action_id=key[1],
            rank=int(record.rank),
            priority=float(record.priority),
            propensity=float(record.propensity),
            value=float(record.value),
            context_weight=float(record.context_weight),
            lever=float(record.lever),
            is_exploration=bool(record.is_exploration),
            reasons=reason,
            model_version_id=version,
            run=run,
            created_at=now,
            scored_at=now,
        )
        (changed if rec.pk else new).append(rec)
    if existing:
        Recommendation.objects.filter(pk__in=list(existing.values())).update(
            status=Recommendation.Status.SUPERSEDED, decided_at=now
        )
    Recommendation.objects.bulk_update(changed, _RESCORED_FIELDS, batch_size=500)
    Recommendation.objects.bulk_create(new, batch_size=2000)
    customer_ids, holdout, candidate_counts = scores
    CustomerScore.objects.bulk_create(
        [
            CustomerScore(customer_id=int(c), run=run, scored_at=now, holdout=bool(h), candidates=int(n))
            for c, h, n in zip(customer_ids, holdout, candidate_counts, strict=True)
        ],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["customer"],
        update_fields=["run", "scored_at", "holdout", "candidates"],
    )
    return len(chosen)


_INCOMING = "nba_incoming"  # a temporary table per connection, emptied at every use and every commit
_INCOMING_COLUMNS = ("customer_id", "action_id", "rank", "priority", "propensity", "value", "context_weight",
                     "lever", "is_exploration", "reasons", "model_version_id")  # fmt: skip


def _write_postgresql(*, scope: Q, chosen: pd.DataFrame, reasons, run, now, scores) -> int:
    """The same, set-based: COPY the scored rows into a temporary table, supersede the open
    recommendations that are not among them (one UPDATE), then one INSERT ... ON CONFLICT on the
    "one open per customer and action" index that updates the open ones in place and adds the new
    ones; the scores as before (one DELETE, one COPY). No model instances, no per-row statements."""
    from psycopg.types.json import Jsonb

    open_recs = Recommendation.objects.filter(scope, status=Recommendation.Status.OPEN)
    sql, params = open_recs.values_list("pk").query.sql_with_params()
    recs = Recommendation._meta.db_table
    run_id = run.pk if run is not None else None
    customer_ids, holdout, candidate_counts = scores
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_INCOMING} (customer_id bigint, action_id bigint, "
            "rank smallint, priority double precision, propensity double precision, value double precision, "
            "context_weight double precision, lever double precision, is_exploration boolean, reasons jsonb, "
            "model_version_id bigint) ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {_INCOMING}")
        parts = [
            chosen[c].to_numpy().tolist()
            for c in ("customer_id", "action_id", "rank", "priority", "propensity", "value",
                      "context_weight", "lever", "is_exploration")
        ]  # fmt: skip
        records = zip(*parts, reasons, _model_version_ids(chosen), strict=True)
        incoming = [
            (int(cid), int(aid), int(rank), *numbers, bool(exploring), Jsonb(reason), version)
            for cid, aid, rank, *numbers, exploring, reason, version in records
        ]
        copy_in(cursor, _INCOMING, list(_INCOMING_COLUMNS), incoming)
        cursor.execute(
            f"UPDATE {recs} AS r SET status = %s, decided_at = %s WHERE r.id IN ({sql}) "  # noqa: S608
            f"AND NOT EXISTS (SELECT 1 FROM {_INCOMING} i "
            "WHERE i.customer_id = r.customer_id AND i.action_id = r.action_id)",
            [Recommendation.Status.SUPERSEDED, now, *params],
        )
        rescored = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*_INCOMING_COLUMNS[2:], "run_id", "scored_at"))
        cursor.execute(
            f"INSERT INTO {recs} ({', '.join(_INCOMING_COLUMNS)}, status, run_id, created_at, scored_at, "  # noqa: S608
            "dismiss_reason, outcome, note) "
            f"SELECT {', '.join(_INCOMING_COLUMNS)}, 'open', %s, %s, %s, '', '', '' FROM {_INCOMING} "
            "ON CONFLICT (customer_id, action_id) WHERE status = 'open' "
            f"DO UPDATE SET {rescored}",
            [run_id, now, now],
        )
        table = CustomerScore._meta.db_table
        cursor.execute(f"DELETE FROM {table} WHERE customer_id = ANY(%s)", [customer_ids.tolist()])  # noqa: S608
        columns = ["customer_id", "run_id", "scored_at", "holdout", "candidates"]
        rows = zip(customer_ids.tolist(), holdout.tolist(), candidate_counts.tolist(), strict=True)
        copy_in(cursor, table, columns, [(cid, run_id, now, held, count) for cid, held, count in rows])
    return len(chosen)
