"""Netdata simple patterns (the matcher behind ``hosts to skip from training`` and
``charts to skip from training``).

A pattern text is a list of *words* separated by space, tab, CR, LF, FF or VT.
Each word may contain ``*`` wildcards, and a leading ``!`` makes it negative.
A string is tested against the words left to right and the **first** word that
matches decides: a positive word means "match", a negative word "no match".
When no word matches, the answer is "no match". So ``!*bad* *`` matches
everything except strings containing ``bad``.

Matching reproduces the reference (Netdata v1.33.1, mode EXACT) exactly,
including its less obvious corners:

* A backslash escapes the next character, so ``a\\ b`` is the one word ``a b``.
  Escaping only protects separators (and ``!`` at the start of a word): an
  escaped ``*`` is still a wildcard, as in the reference. A trailing lone
  backslash is dropped.
* Only one leading ``!`` is recognised (``!!a`` is the negative word ``!a``);
  a ``!`` followed by a separator is dropped with its empty word.
* A word becomes a chain split at its internal ``*``: ``a*b*c`` is
  PREFIX ``a`` → SUBSTRING ``b`` → SUFFIX ``c``; ``x*`` is a prefix, ``*x`` a
  suffix, ``*x*`` a substring; ``*`` and ``**`` match everything.
* SUBSTRING takes the **leftmost** occurrence and never backtracks. For
  chains split at single stars this finds every match a backtracking glob
  matcher would; runs of consecutive stars inside a word are where the
  reference differs from a glob: one star of the run stays a literal
  character (``a**b`` needs the text to end in ``*b``, ``***`` needs a ``*``),
  and pyml does the same.
* Matching is case-sensitive. The empty string matches nothing, and an empty
  pattern text matches nothing.

Strings are compared as Python strings (code points); for UTF-8 text this is
the same as the reference's byte-wise comparison. As in C, the pattern text and
the tested string end at their first NUL character.
"""

from __future__ import annotations

from typing import List, Tuple

__all__ = ["SimplePattern"]

#: Word separators of the reference (its default set).
SEPARATORS = frozenset(" \t\r\n\f\v")

_EXACT = "exact"
_PREFIX = "prefix"
_SUFFIX = "suffix"
_SUBSTRING = "substring"

# A chain is a tuple of (mode, literal) nodes; node i+1 is the child of node i.
_Chain = Tuple[Tuple[str, str], ...]


def _c_string(text: str) -> str:
    """``text`` as a C string would see it: up to the first NUL."""
    nul = text.find("\0")
    return text if nul < 0 else text[:nul]


def _split_words(text: str) -> List[Tuple[bool, str]]:
    """Split a pattern text into ``(negative, word)`` pairs, escapes resolved."""
    words: List[Tuple[bool, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in SEPARATORS:
            i += 1
        negative = False
        if i < n and text[i] == "!":
            negative = True
            i += 1
        if i >= n:
            break
        chars: List[str] = []
        escape = False
        while i < n:
            ch = text[i]
            if ch == "\\" and not escape:
                escape = True
                i += 1
                continue
            if ch in SEPARATORS and not escape:
                i += 1
                break
            chars.append(ch)
            escape = False
            i += 1
        if chars:
            words.append((negative, "".join(chars)))
    return words


def _parse_word(word: str) -> _Chain:
    """Turn one word into its node chain (the reference's recursive split)."""
    # Skip the leading run of stars, then find the next star: if anything
    # follows it, that star starts the child chain and this node ends there.
    start = 0
    while start < len(word) and word[start] == "*":
        start += 1
    star = word.find("*", start)
    child: _Chain = ()
    piece = word
    if star >= 0 and star + 1 < len(word):
        child = _parse_word(word[star:])
        piece = word[: star + 1]

    if len(piece) >= 2 and piece[0] == "*" and piece[-1] == "*":
        mode, literal = _SUBSTRING, piece[1:-1]
    elif piece[:1] == "*":
        mode, literal = _SUFFIX, piece[1:]
    elif piece[-1:] == "*":
        mode, literal = _PREFIX, piece[:-1]
    else:
        mode, literal = _EXACT, piece
    if not literal:
        mode = _SUBSTRING  # an empty literal matches anything
    return ((mode, literal),) + child


def _chain_matches(chain: _Chain, text: str) -> bool:
    last = len(chain) - 1
    for index, (mode, literal) in enumerate(chain):
        if len(literal) > len(text):
            return False
        if mode == _SUBSTRING:
            if not literal:
                return True  # matches whatever remains, the rest of the chain unchecked
            found = text.find(literal)
            if found < 0:
                return False
            text = text[found + len(literal):]
        elif mode == _PREFIX:
            if not text.startswith(literal):
                return False
            text = text[len(literal):]
        elif mode == _SUFFIX:
            return index == last and text.endswith(literal)
        else:
            return index == last and text == literal
    return True


class SimplePattern:
    """A compiled Netdata simple pattern.

    Parameters
    ----------
    text : str
        The pattern list, e.g. ``"!system.* !cpu.* *"``.

    Examples
    --------
    >>> p = SimplePattern("!system.* *")
    >>> p.matches("system.cpu"), p.matches("apache.requests")
    (False, True)
    """

    __slots__ = ("_text", "_words")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"simple pattern text must be a str, got {type(text).__name__}: {text!r}")
        self._text = text
        self._words: Tuple[Tuple[bool, _Chain], ...] = tuple(
            (negative, _parse_word(word)) for negative, word in _split_words(_c_string(text))
        )

    @property
    def text(self) -> str:
        """The pattern text as given."""
        return self._text

    def matches(self, string: str) -> bool:
        """Whether ``string`` matches: the first matching word decides.

        Returns ``False`` for the empty string, when no word matches, and when
        the first matching word is negative.
        """
        if not isinstance(string, str):
            raise TypeError(f"can only match a str, got {type(string).__name__}: {string!r}")
        string = _c_string(string)
        if not string:
            return False
        for negative, chain in self._words:
            if _chain_matches(chain, string):
                return not negative
        return False

    def __repr__(self) -> str:
        return f"SimplePattern({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SimplePattern):
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __reduce__(self) -> Tuple[type, Tuple[str]]:
        return (SimplePattern, (self._text,))
