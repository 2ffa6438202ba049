"""What an erased person's data is replaced by, and how text that names them is scrubbed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

#: Neutral text that replaces erased titles, summaries and references (kept in English in the
#: database, like other stored values; the pages translate labels, not data).
ERASED = "[erased]"
ERASED_LABEL = _("erased")


@dataclass(frozen=True)
class Needles:
    """The strings that identify the person in free text: names, e-mail, phone, customer number,
    external ids. Collected BEFORE anything is erased and handed to every contributor."""

    terms: tuple[str, ...]

    @classmethod
    def of(cls, customer, identities: list[tuple[str, str, str]]) -> Needles:
        full = f"{customer.first_name} {customer.last_name}".strip()
        terms = {
            full,
            customer.first_name,
            customer.last_name,
            customer.email,
            customer.phone,
            customer.customer_number,
        }
        if customer.kind == "organisation":
            terms.add(customer.company)
        for kind, _source, value in identities:
            terms.add(value)
            if kind == "phone" and value.startswith("+"):
                terms.add(value[1:])
        # Shorter terms than three characters would erase unrelated words.
        return cls(tuple(sorted((t for t in terms if t and len(t) >= 3), key=len, reverse=True)))

    def pattern(self) -> re.Pattern | None:
        if not self.terms:
            return None
        return re.compile("|".join(re.escape(t) for t in self.terms), re.IGNORECASE)

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of a term replaced by the neutral marker."""
        pattern = self.pattern()
        if not text or pattern is None:
            return text
        return pattern.sub(ERASED, text)

    def found_in(self, text: str) -> bool:
        pattern = self.pattern()
        return bool(text and pattern is not None and pattern.search(text))
