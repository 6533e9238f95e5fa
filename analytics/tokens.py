"""Word tokens: how a heard word is indexed and matched, the same in both engines."""

from __future__ import annotations

import re
from functools import lru_cache

_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=65_536)  # drones hear the same few thousand words over and over
def word_token(word: str) -> str:
    """A heard word as one token: case-folded, inner punctuation and spaces as '_'."""
    return _NON_WORD.sub("_", word.casefold()).strip("_") or "_"
