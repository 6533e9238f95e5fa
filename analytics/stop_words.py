"""Stop words: the words top lists skip unless the analyst asks to keep them.

Drones hear speech, and the most frequent words of any speech are "the, and,
you, that, was": a top list of them says nothing about a crowd. A query skips
these by default (``Query.stop_words``, "skip" or "keep"); every engine
receives the same token set in its :class:`analytics.query.Plan` and leaves
those tokens out of ``top_words`` only (a filter on a stop word still matches).

The built-in list is the common English function words (after Lucene's
English analyser and the NLTK list, trimmed to words that carry no topic);
``ANALYTICS_STOP_WORDS`` adds a force's own (other languages, radio jargon).
Words are compared as tokens (:func:`analytics.tokens.word_token`).
"""

from __future__ import annotations

from functools import cache

from analytics.tokens import word_token

ENGLISH = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself yourselves
    i'm you're he's she's it's we're they're i've you've we've they've i'd you'd he'd she'd we'd they'd i'll
    you'll he'll she'll we'll they'll isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't
    won't wouldn't can't cannot couldn't shouldn't let's that's there's what's who's
    also may might must shall get got one said say says like us yes oh ok okay
    """.split()
)


def tokens(words) -> frozenset[str]:
    return frozenset(word_token(w) for w in words)


@cache
def _configured(extra: tuple[str, ...]) -> frozenset[str]:
    return tokens(ENGLISH) | tokens(extra)


def active() -> frozenset[str]:
    """The stop-word tokens of this installation: the built-in list and ``ANALYTICS_STOP_WORDS``."""
    from django.conf import settings

    return _configured(tuple(settings.ANALYTICS_STOP_WORDS))


BUILT_IN = tokens(ENGLISH)
