"""The core names no department: no department's event kind appears in the core's modules or in the
shared templates (issue #17). The core reads kind sets from the registry (``events.kinds(...)``)."""

import re
from pathlib import Path

from customer360 import events, events_core

ROOT = Path(__file__).resolve().parent.parent.parent

# Kinds every department is known to record, named as prefixes or in full (the registry adds the
# declared ones: whatever a non-core app declares counts as well).
KNOWN = re.compile(r"(?<![\w.])(?:ticket|invoice|payment|deal|dunning|contract|consent|csat)\.[a-z][a-z_]*")
KNOWN_FULL = ("call.logged", "meeting.logged", "visit.logged", "email.logged", "email.clicked")


def core_files() -> list[Path]:
    files = [p for p in (ROOT / "customer360").rglob("*") if p.suffix in {".py", ".html", ".txt", ".js"}]
    files += [p for p in (ROOT / "templates").rglob("*") if p.is_file()]
    # Migrations are history (a data migration may name the kinds it rewrote).
    return sorted(p for p in files if "migrations" not in p.parts)


def department_kinds() -> set[str]:
    core = {value.kind for value in vars(events_core).values() if isinstance(value, events.EventKind)}
    return {k.kind for k in events.all_kinds()} - core | set(KNOWN_FULL)


def hits(text: str, kinds: set[str]) -> list[str]:
    """Each kind named in ``text``, once (a declared kind that the pattern knows too counts once)."""
    found = KNOWN.findall(text)
    for kind in kinds:
        found += re.findall(rf"(?<![\w.]){re.escape(kind)}(?![\w])", text)
    return sorted(set(found))


def test_the_core_and_shared_templates_name_no_department_kind():
    kinds = department_kinds()
    assert "internal.post" in kinds, "collab's declarations are in the registry (a non-core app)"
    offenders = {}
    for path in core_files():
        found = hits(path.read_text(encoding="utf-8", errors="replace"), kinds)
        if found:
            offenders[str(path.relative_to(ROOT))] = sorted(set(found))
    assert offenders == {}


def test_the_check_finds_a_department_kind():
    """The check itself can fail: a core line naming a department's kind is a hit."""
    kinds = department_kinds()
    assert hits('CONTACT_KINDS = ("call.logged",)', kinds) == ["call.logged"]
    assert hits('kind__startswith="invoice."', kinds) == []  # a bare prefix is not a kind ...
    assert hits("x.filter(kind='ticket.opened')", kinds) == ["ticket.opened"]
    assert hits("an angry ticket. Then", kinds) == []
    assert hits('{% if e.kind == "internal.post" %}', kinds) == ["internal.post"]
