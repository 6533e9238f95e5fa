"""Word tokens: how a heard word is indexed and matched, the same in both engines."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=65_536)  # drones hear the same few thousand words over and over
def word_token(word: str) -> str:
    """A heard word as one token: case-folded, inner punctuation and spaces as '_'."""
    return _NON_WORD.sub("_", word.casefold()).strip("_") or "_"


@lru_cache(maxsize=65_536)
def name_fold(name: str) -> str:
    """A citizen's name as searches compare it: case, accents and spacing ignored.

    "Jeanne Martín", "jeanne  martin" and "JEANNE MARTIN" fold alike. NFKD
    splits letters from their accents, which go; casefold then lowers (and
    makes "ß" "ss"). Every engine compares this form (the embedded store's
    name dictionary, OpenSearch's ``citizens.name_fold``, the archive through a
    DuckDB function), so that the definition cannot drift between them.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    # A name of nothing but spaces or marks folds to itself: it still means what was typed.
    return " ".join(bare.casefold().split()) or name
