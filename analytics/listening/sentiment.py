"""Sentiment of a message in [-1, 1]: one lexicon per language, with negation and intensifiers.

Why a lexicon and not a model trained on CSAT: CSAT rates the whole ticket handling, not the words
of one message, and most messages have no rating at all; a transparent lexicon works from the first
message on and handles German ("nicht zufrieden" is negative, "kein Problem" is not).

Each message is read in its own language (``customer360.words.language_of``) with that language's
words only: English "fast" is praise, German "fast" means "almost" ("Ich warte fast zwei Wochen");
German "einfach" mostly strengthens ("einfach schlecht"). A negation flips the next opinion word in
its clause ("not bad" is mildly positive, "nicht gut" negative); "never" and "nie" are negative on
their own when they flip nothing ("Never again!"). The words are folded (lower-case ASCII, umlauts as
ae/oe/ue), like the tokens they are compared with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from customer360.text import fold
from customer360.words import language_of, tokens


@dataclass(frozen=True)
class Lexicon:
    """One language's opinion words (folded) with their weights, negations and intensifiers."""

    words: dict[str, float]
    negations: frozenset[str]
    intensifiers: dict[str, float]
    # Negations that are an opinion of their own when they negate nothing ("never again").
    own_value: dict[str, float]


def _folded(words: str) -> frozenset[str]:
    return frozenset(fold(w) for w in words.split())


def _weights(positive: str, negative: str, strong: str = "", very_bad: str = "") -> dict[str, float]:
    words = {fold(w): 1.0 for w in positive.split()} | {fold(w): -1.0 for w in negative.split()}
    words |= {fold(w): 2.0 for w in strong.split()} | {fold(w): -2.0 for w in very_bad.split()}
    return words


ENGLISH = Lexicon(
    words=_weights(
        positive="good great happy satisfied thanks thank helpful friendly fast quick quickly resolved "
        "solved love loved like wonderful amazing awesome pleased appreciate appreciated recommend "
        "reliable smooth easy fine nice best glad fantastic brilliant polite competent super top",
        negative="bad poor terrible awful horrible late delay delays delayed slow wrong broken error "
        "errors problem problems issue issues complaint complain complaining angry annoyed annoying "
        "disappointed disappointing rude missing lost damaged defect defective fail failed failure "
        "useless overcharged cancel cancelled refund frustrated frustrating unhappy waiting wait "
        "waited overdue",
        strong="excellent perfect outstanding",
        very_bad="unacceptable worst disgraceful scandalous",
    ),
    negations=_folded(
        "not no never nothing without dont doesnt didnt isnt wasnt arent werent cant cannot wont "
        "hardly neither nor"
    ),
    intensifiers={
        "very": 1.5,
        "really": 1.5,
        "extremely": 2.0,
        "so": 1.3,
        "totally": 1.5,
        "absolutely": 1.7,
        "incredibly": 1.8,
        "completely": 1.7,
        "too": 1.3,
    },  # fmt: skip
    own_value={"never": -1.0},
)

GERMAN = Lexicon(
    words=_weights(
        positive="gut gute guter gutes super toll prima zufrieden danke dankeschön hilfreich "
        "freundlich schnell rasch gelöst erledigt behoben empfehlen empfehle zuverlässig klasse "
        "wunderbar kompetent höflich freue freuen angenehm top spitze",
        negative="schlecht schlechte schlechter schlimm furchtbar schrecklich spät verspätet verspätung "
        "verzögert verzögerung verzug langsam falsch kaputt defekt fehler problem probleme beschwerde "
        "beschweren ärgerlich ärger verärgert enttäuscht enttäuschend unfreundlich fehlt fehlen "
        "verloren beschädigt mangelhaft unzufrieden frustriert warte wartet warten gewartet wartezeit "
        "storniert stornieren kündigen kündigung mahnung lieferverzug sauer ewig",
        strong="perfekt ausgezeichnet hervorragend",
        very_bad="inakzeptabel unverschämt zumutung katastrophe frechheit",
    ),
    negations=_folded("nicht kein keine keinen keinem keiner keines nie niemals ohne nichts weder kaum"),
    intensifiers={
        "sehr": 1.5,
        "extrem": 2.0,
        "total": 1.5,
        "voellig": 1.7,
        "wirklich": 1.5,
        "absolut": 1.7,
        "einfach": 1.3,
        "echt": 1.5,
        "aeusserst": 1.8,
        "besonders": 1.4,
        "so": 1.3,
        "zu": 1.3,
    },  # fmt: skip
    own_value={"nie": -1.0, "niemals": -1.0},
)
LEXICONS = {"de": GERMAN, "en": ENGLISH}

_CLAUSE = re.compile(r"[.!?;:\n]+")
_NEGATION_REACH = 3  # a negation flips the next opinion word within a few words ("nicht sehr zufrieden")


def _clause(words: list[str], lexicon: Lexicon) -> tuple[float, int]:
    """Sum and number of the opinion words of one clause (a negation never crosses a full stop)."""
    total, hits = 0.0, 0
    negation, negated_until, boost = "", -1, 1.0
    for i, word in enumerate(words):
        if word in lexicon.negations:
            negation, negated_until = word, i + _NEGATION_REACH
            continue
        if word in lexicon.intensifiers:
            boost = lexicon.intensifiers[word]
            continue
        value = lexicon.words.get(word)
        if value is None:
            boost = 1.0
            continue
        value *= boost
        if i <= negated_until:
            # "not bad" is mildly positive, "not good" clearly negative.
            value = -value * (0.5 if value < 0 else 1.0)
            negation, negated_until = "", -1  # a negation flips the next opinion word only
        total += value
        hits += 1
        boost = 1.0
    if negation in lexicon.own_value:  # "Never again!": the negation flipped nothing
        total += lexicon.own_value[negation]
        hits += 1
    return total, hits


def score(text: str, language: str | None = None) -> float:
    """The sentiment of ``text`` in [-1, 1]; 0 for neutral or empty text. ``language`` ("de" or
    "en") is detected from the text when not given."""
    lexicon = LEXICONS[language or language_of(text)]
    total, hits = 0.0, 0
    for clause in _CLAUSE.split(text or ""):
        clause_total, clause_hits = _clause(tokens(clause), lexicon)
        total, hits = total + clause_total, hits + clause_hits
    if not hits:
        return 0.0
    # Dampened mean: one strong word in a long message moves it less than a short outburst.
    return max(-1.0, min(1.0, total / (hits + 1)))
