"""Text of posts: Markdown rendered and sanitised, @mentions and #customer references.

Customer references are stored canonically (``#C-000123``) and rendered per reader: a link with
the customer's name for readers who may see the customer, a neutral placeholder for the others,
so a post never reveals a customer to someone outside that customer's scope.
"""

from __future__ import annotations

import re

import markdown
import nh3
from django.utils.html import escape
from django.utils.translation import gettext as _

# "@accounting", "@p.steiner"; not inside e-mail addresses (no word character before the @).
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.\-]*[A-Za-z0-9_]|[A-Za-z0-9_])")
# "#C-000123" or "#Gruber" (letters first, so "#1" or "# Heading" are not references).
REFERENCE_RE = re.compile(r"(?<![\w#&/])#(C-\d{3,}|[^\W\d_][\w\-]*)")
CANONICAL_RE = re.compile(r"(?<![\w#&/])#(C-\d{3,})")

_MENTION_MARK = re.compile(r"\[\[m:([A-Za-z0-9_.\-]+)\]\]")
_REF_MARK = re.compile(r"\[\[c:(C-\d+)\]\]")
_REF_SPAN = re.compile(r'<span class="cref" data-ref="(C-\d+)"></span>')

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4",
    "hr", "span", "del",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "span": {"class"}}


def mentions_in(text: str) -> list[str]:
    """Lower-cased mention names in order of appearance, without duplicates."""
    seen: dict[str, None] = {}
    for match in MENTION_RE.finditer(text or ""):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def references_in(text: str) -> list[str]:
    """The raw ``#...`` reference tokens in order, without duplicates."""
    seen: dict[str, None] = {}
    for match in REFERENCE_RE.finditer(text or ""):
        seen.setdefault(match.group(1), None)
    return list(seen)


def replace_references(text: str, mapping: dict[str, str]) -> str:
    """Replace ``#token`` by ``#<mapping[token]>`` (the canonical customer number)."""

    def swap(match: re.Match) -> str:
        token = match.group(1)
        return f"#{mapping[token]}" if token in mapping else match.group(0)

    return REFERENCE_RE.sub(swap, text)


def render(text: str) -> str:
    """Markdown to sanitised HTML; customer references become placeholders filled per reader."""
    marked = CANONICAL_RE.sub(lambda m: f"[[c:{m.group(1)}]]", text or "")
    marked = MENTION_RE.sub(lambda m: f"[[m:{m.group(1)}]]", marked)
    html = markdown.markdown(marked, extensions=["fenced_code", "sane_lists", "nl2br"])
    # Headings would shout in a feed: demote them to h3/h4 before sanitising drops the rest.
    html = re.sub(r"<(/?)h[12]>", r"<\1h3>", html)
    html = re.sub(r"<(/?)h[56]>", r"<\1h4>", html)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    clean = _MENTION_MARK.sub(lambda m: f'<span class="mention">@{m.group(1)}</span>', clean)
    return _REF_MARK.sub(lambda m: f'<span class="cref" data-ref="{m.group(1)}"></span>', clean)


def personalise(html: str, visible: dict[str, tuple[str, str]]) -> str:
    """Fill the reference placeholders for one reader.

    ``visible`` maps customer numbers the reader may see to ``(url, display name)``.
    """

    def fill(match: re.Match) -> str:
        number = match.group(1)
        if number in visible:
            url, name = visible[number]
            return f'<a class="cref" href="{escape(url)}">#{escape(name)}</a>'
        return f'<span class="cref restricted">#{escape(_("customer (no access)"))}</span>'

    return _REF_SPAN.sub(fill, html)


def redact(text: str, visible_numbers: set[str]) -> str:
    """The stored text for one reader: references to customers they may not see are neutralised."""
    return CANONICAL_RE.sub(
        lambda m: m.group(0) if m.group(1) in visible_numbers else "#" + _("customer"), text or ""
    )


def referenced_numbers(texts) -> set[str]:
    """The customer numbers referenced in ``texts`` (to look their names up in one query)."""
    return {number for text in texts for number in CANONICAL_RE.findall(text or "")}


def name_references(text: str, names: dict[str, str]) -> str:
    """A list's excerpt: references to customers the reader may see become their names, the others
    stay neutral ("customer")."""
    return CANONICAL_RE.sub(
        lambda m: names[m.group(1)] if m.group(1) in names else _("a customer"), text or ""
    )


def plain(text: str, limit: int = 280) -> str:
    """A one-paragraph plain text excerpt of Markdown (for titles, summaries, notifications)."""
    flat = re.sub(r"[*`>#\[\]]", "", re.sub(r"\s+", " ", text or "")).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
