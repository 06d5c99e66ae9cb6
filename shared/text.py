"""Checks for user-supplied text (patron names, notes, references)."""

from __future__ import annotations

import unicodedata

# Bidirectional overrides/isolates can make a name read differently from what is stored.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MULTILINE_ALLOWED = frozenset("\n\t")


# Characters that show nothing on their own: format characters (zero-width space, joiners,
# marks), separators and combining marks without a base.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp", "Mn", "Me"})


def has_visible(text: str) -> bool:
    return any(unicodedata.category(char) not in _INVISIBLE_CATEGORIES for char in text)


def clean_text(value: str, *, max_length: int, multiline: bool = False) -> str:
    """Strip surrounding whitespace; refuse control characters and overlong text.

    Raises ValueError with a user-facing message. Multi-line fields keep newlines and tabs
    (CRLF becomes LF) but no other control characters.
    """
    text = value.replace("\r\n", "\n") if multiline else value
    text = unicodedata.normalize("NFC", text).strip()
    allowed = _MULTILINE_ALLOWED if multiline else frozenset()
    for char in text:
        if char in allowed:
            continue
        if unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:
            raise ValueError("must not contain control characters")
    if len(text) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    return text
