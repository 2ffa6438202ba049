"""Sentiment of a message in [-1, 1] from a German and English lexicon with negation and intensifiers.

Why a lexicon and not a model trained on CSAT: CSAT rates the whole ticket handling, not the words
of one message, and most messages have no rating at all; a transparent lexicon works from the first
message on and handles German ("nicht zufrieden" is negative, "kein Problem" is not). The words are
folded (lower-case ASCII, umlauts as ae/oe/ue), like the tokens they are compared with.
"""

from __future__ import annotations

from customer360.text import fold
from customer360.words import tokens

_POSITIVE = [
    "good",
    "great",
    "excellent",
    "perfect",
    "happy",
    "satisfied",
    "thanks",
    "thank",
    "helpful",
    "friendly",
    "fast",
    "quick",
    "quickly",
    "resolved",
    "solved",
    "love",
    "like",
    "wonderful",
    "amazing",
    "awesome",
    "pleased",
    "appreciate",
    "recommend",
    "reliable",
    "smooth",
    "easy",
    "fine",
    "nice",
    "best",
    "glad",
    "fantastic",
    "brilliant",
    "polite",
    "competent",
    "gut",
    "super",
    "toll",
    "prima",
    "perfekt",
    "zufrieden",
    "danke",
    "dankeschoen",
    "hilfreich",
    "freundlich",
    "schnell",
    "rasch",
    "geloest",
    "erledigt",
    "behoben",
    "liebe",
    "empfehlen",
    "zuverlaessig",
    "einfach",
    "klasse",
    "wunderbar",
    "ausgezeichnet",
    "hervorragend",
    "kompetent",
    "hoeflich",
    "freue",
    "freuen",
    "angenehm",
    "top",
    "spitze",
]

_NEGATIVE = [
    "bad",
    "poor",
    "terrible",
    "awful",
    "horrible",
    "late",
    "delay",
    "delayed",
    "slow",
    "wrong",
    "broken",
    "error",
    "errors",
    "problem",
    "problems",
    "issue",
    "issues",
    "complaint",
    "complain",
    "complaining",
    "angry",
    "annoyed",
    "annoying",
    "disappointed",
    "disappointing",
    "unacceptable",
    "rude",
    "never",
    "missing",
    "lost",
    "damaged",
    "defect",
    "defective",
    "fail",
    "failed",
    "failure",
    "worst",
    "useless",
    "overcharged",
    "twice",
    "cancel",
    "cancelled",
    "refund",
    "frustrated",
    "frustrating",
    "unhappy",
    "waiting",
    "wait",
    "overdue",
    "schlecht",
    "schlimm",
    "furchtbar",
    "schrecklich",
    "spaet",
    "verspaetet",
    "verspaetung",
    "verzoegert",
    "verzug",
    "langsam",
    "falsch",
    "kaputt",
    "defekt",
    "fehler",
    "problem",
    "probleme",
    "beschwerde",
    "beschweren",
    "aergerlich",
    "aerger",
    "veraergert",
    "enttaeuscht",
    "enttaeuschend",
    "inakzeptabel",
    "unfreundlich",
    "nie",
    "fehlt",
    "verloren",
    "beschaedigt",
    "mangelhaft",
    "unzufrieden",
    "frustriert",
    "warten",
    "wartezeit",
    "storniert",
    "stornieren",
    "kuendigen",
    "kuendigung",
    "mahnung",
    "lieferverzug",
    "unverschaemt",
    "zumutung",
    "katastrophe",
]

LEXICON: dict[str, float] = {fold(w): 1.0 for w in _POSITIVE} | {fold(w): -1.0 for w in _NEGATIVE}
# A few words weigh more than others.
LEXICON.update(
    dict.fromkeys(("unacceptable", "inakzeptabel", "katastrophe", "worst", "unverschaemt", "zumutung"), -2.0)
)
LEXICON.update(dict.fromkeys(("excellent", "hervorragend", "ausgezeichnet", "perfekt", "perfect"), 2.0))

NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "nothing",
        "without",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "wasnt",
        "cant",
        "cannot",
        "wont",
        "nicht",
        "kein",
        "keine",
        "keinen",
        "keinem",
        "keiner",
        "nie",
        "niemals",
        "ohne",
        "nichts",
    ]
)
INTENSIFIERS = {"very": 1.5, "really": 1.5, "extremely": 2.0, "so": 1.3, "sehr": 1.5, "extrem": 2.0,
                "total": 1.5, "voellig": 1.7, "wirklich": 1.5, "absolut": 1.7}  # fmt: skip
_NEGATION_REACH = 3  # a negation flips the next few words ("nicht sehr zufrieden")


def score(text: str) -> float:
    """The sentiment of ``text`` in [-1, 1]; 0 for neutral or empty text."""
    words = tokens(text)
    total, hits = 0.0, 0
    negated_until = -1
    boost = 1.0
    for i, word in enumerate(words):
        if word in NEGATIONS:
            negated_until = i + _NEGATION_REACH
            continue
        if word in INTENSIFIERS:
            boost = INTENSIFIERS[word]
            continue
        value = LEXICON.get(word)
        if value is None:
            boost = 1.0
            continue
        value *= boost
        if i <= negated_until:
            # "not bad" is mildly positive, "not good" clearly negative.
            value = -value * (0.5 if value < 0 else 1.0)
            negated_until = -1  # a negation flips the next opinion word only
        total += value
        hits += 1
        boost = 1.0
    if not hits:
        return 0.0
    # Dampened mean: one strong word in a long message moves it less than a short outburst.
    return max(-1.0, min(1.0, total / (hits + 1)))
