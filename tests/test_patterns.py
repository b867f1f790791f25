"""Netdata simple patterns (SPEC §6.2) and the skip helpers of MLConfig."""

from __future__ import annotations

import fnmatch
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyml import MLConfig
from pyml.patterns import SimplePattern


def matches(pattern: str, string: str) -> bool:
    return SimplePattern(pattern).matches(string)


# ----------------------------------------------------------------- SPEC's examples


@pytest.mark.parametrize(
    "chart, skipped",
    [
        ("system.cpu", False),  # hits !system.* -> not skipped -> trained
        ("cpu.cpu0", False),
        ("mem.available", False),
        ("disk.sda", False),
        ("disk_util.sda", False),  # !disk_*
        ("net.eth0", False),
        ("net_packets.eth0", False),
        ("netfilter.conntrack", False),
        ("ipv4.tcp", False),
        ("apps.cpu", False),
        ("netdata.server_cpu", False),
        ("apache.requests", True),  # falls through to '*'
        ("anomaly_detection.dimensions", True),
        ("anomaly_detection.anomaly_rate", True),
        ("systemd.units", True),  # 'system.*' needs the dot
        ("system", True),
        ("mysql.queries", True),
        ("", False),  # the empty string matches nothing
    ],
)
def test_default_charts_to_skip(chart: str, skipped: bool) -> None:
    assert MLConfig(profile="netdata-1.33").chart_is_skipped(chart) is skipped


@pytest.mark.parametrize("host", ["node-1", "dev-web", "x", "*", "!"])
def test_default_hosts_to_skip_skips_no_host(host: str) -> None:
    assert MLConfig(profile="netdata-1.33").host_is_skipped(host) is False


def test_dev_hosts_skipped() -> None:
    cfg = MLConfig(profile="netdata-1.33", hosts_to_skip="dev-*")
    assert cfg.host_is_skipped("dev-web1")
    assert cfg.host_is_skipped("dev-")
    assert not cfg.host_is_skipped("dev")
    assert not cfg.host_is_skipped("prod-dev-1")
    assert not cfg.host_is_skipped("Dev-web1")  # case-sensitive
    assert not cfg.host_is_skipped("")


def test_skip_helpers_follow_the_config_patterns() -> None:
    cfg = MLConfig(profile="netdata-1.33", hosts_to_skip="!keep-* *", charts_to_skip="!web.* *")
    assert cfg.host_is_skipped("other") and not cfg.host_is_skipped("keep-me")
    assert cfg.chart_is_skipped("db.queries") and not cfg.chart_is_skipped("web.requests")
    assert not MLConfig(profile="netdata-1.33", charts_to_skip="").chart_is_skipped("anything")


# ----------------------------------------------------------------- modes


@pytest.mark.parametrize(
    "pattern, string, expected",
    [
        ("abc", "abc", True),  # EXACT
        ("abc", "abcd", False),
        ("abc", "xabc", False),
        ("abc", "ab", False),
        ("ab*", "abc", True),  # PREFIX
        ("ab*", "ab", True),
        ("ab*", "a", False),
        ("ab*", "xab", False),
        ("*bc", "abc", True),  # SUFFIX
        ("*bc", "bc", True),
        ("*bc", "bcx", False),
        ("*b*", "abc", True),  # SUBSTRING
        ("*b*", "b", True),
        ("*b*", "ac", False),
        ("*", "anything", True),
        ("*", "*", True),
        ("**", "anything", True),
        ("*", "", False),  # the empty string matches nothing, even '*'
        ("**", "", False),
        ("", "abc", False),  # an empty pattern matches nothing
        (" \t\n", "abc", False),
        ("ABC", "abc", False),  # case-sensitive
    ],
)
def test_modes(pattern: str, string: str, expected: bool) -> None:
    assert matches(pattern, string) is expected


@pytest.mark.parametrize(
    "pattern, string, expected",
    [
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "abbbc", True),
        ("a*b*c", "abcbc", True),
        ("a*b*c", "abcb", False),  # must end in c
        ("a*b*c", "ac", False),
        ("a*b*c", "bac", False),
        ("*a*b*", "xxaxxbxx", True),
        ("*a*b*", "xxbxxaxx", False),
        ("a*b*c*d", "a1b2c3d", True),
        ("a*b*c*d", "a1c2b3d", False),
    ],
)
def test_chains(pattern: str, string: str, expected: bool) -> None:
    assert matches(pattern, string) is expected


@pytest.mark.parametrize(
    "pattern, string, expected",
    [
        # The leftmost occurrence is taken and never revisited; the pieces may not overlap.
        ("*ab*ba", "aba", False),  # "ab" at 0 leaves "a", too short for the suffix "ba"
        ("*ab*ba", "abba", True),
        ("a*a", "a", False),  # one 'a' cannot be both the prefix and the suffix
        ("a*a", "aa", True),
        ("*x*x*", "x", False),
        ("*x*x*", "xx", True),
        ("*aa*a", "aaa", True),  # "aa" at 0, then the suffix "a"
        ("*aa*a", "aa", False),
        ("ab*bc", "abc", False),  # prefix "ab" leaves "c"
        ("ab*bc", "abbc", True),
    ],
)
def test_leftmost_non_overlapping(pattern: str, string: str, expected: bool) -> None:
    assert matches(pattern, string) is expected


@pytest.mark.parametrize(
    "pattern, string, expected",
    [
        # Runs of stars inside a word: the reference's split keeps one star of the
        # run as a literal character, so a glob matcher (fnmatch) would say True
        # where the reference, and pyml, say False.
        ("a**b", "ab", False),
        ("a**b", "axb", False),
        ("a**b", "a*b", True),
        ("a**b", "ax*b", True),
        ("**a", "ba", False),
        ("**a", "b*a", True),
        ("***", "abc", False),
        ("***", "a*c", True),
        ("a***", "a", False),  # prefix "a", then a literal "*"
        ("a***", "a*", True),
        ("a**", "abc", True),  # a trailing run of two is harmless: prefix "a", then anything
        ("*a**", "xay", True),
    ],
)
def test_consecutive_stars_follow_the_reference(pattern: str, string: str, expected: bool) -> None:
    assert matches(pattern, string) is expected


_GLOB_WORDS = st.text(alphabet="ab*", min_size=1, max_size=8).filter(lambda w: "**" not in w)
_STRINGS = st.text(alphabet="abc", min_size=1, max_size=10)


@given(word=_GLOB_WORDS, string=_STRINGS)
def test_single_star_words_match_like_a_glob(word: str, string: str) -> None:
    # With single stars, leftmost matching finds exactly what a backtracking
    # glob matcher finds.
    assert matches(word, string) == fnmatch.fnmatchcase(string, word)


@given(word=_GLOB_WORDS, string=_STRINGS)
def test_negative_word_inverts_and_fallthrough(word: str, string: str) -> None:
    hit = matches(word, string)
    assert matches("!" + word, string) is False
    assert matches(f"!{word} *", string) is (not hit)
    assert matches(f"{word} !*", string) is hit


# ----------------------------------------------------------------- lists and negation


@pytest.mark.parametrize(
    "pattern, string, expected",
    [
        ("!a* *", "abc", False),  # first match wins
        ("* !a*", "abc", True),
        ("!a*", "abc", False),
        ("!a*", "xyz", False),  # nothing matched at all
        ("!*bad* *", "a-bad-one", False),
        ("!*bad* *", "good", True),
        ("*foobar* !foo* !*bar *", "foobar", True),
        ("*foobar* !foo* !*bar *", "xfoobarx", True),
        ("*foobar* !foo* !*bar *", "foox", False),
        ("*foobar* !foo* !*bar *", "xbar", False),
        ("*foobar* !foo* !*bar *", "other", True),
        ("x y z", "y", True),
        ("x y z", "w", False),
    ],
)
def test_first_match_wins(pattern: str, string: str, expected: bool) -> None:
    assert matches(pattern, string) is expected


@pytest.mark.parametrize(
    "pattern, string, expected",
    [
        ("!!a", "!a", False),  # only one '!' is special: negative word "!a"
        ("!!a", "a", False),
        ("!!a *", "a", True),
        ("!!a *", "!a", False),
        ("a!b", "a!b", True),  # a '!' inside a word is literal
        ("! a", "a", True),  # '!' then a separator: the empty negative word is dropped
        ("!", "!", False),
        ("! *", "x", True),
        ("*!", "x!", True),
    ],
)
def test_bang_handling(pattern: str, string: str, expected: bool) -> None:
    assert matches(pattern, string) is expected


@pytest.mark.parametrize("sep", [" ", "\t", "\r", "\n", "\f", "\v", " \t\n  "])
def test_separators(sep: str) -> None:
    p = SimplePattern(f"{sep}!x*{sep}y{sep}")
    assert p.matches("y")
    assert not p.matches("xy")
    assert not p.matches(f"x{sep}y")


@pytest.mark.parametrize(
    "pattern, string, expected",
    [
        ("a\\ b", "a b", True),  # an escaped separator stays in the word
        ("a\\ b", "a", False),
        ("a\\ b", "b", False),
        ("a\\\tb*", "a\tbc", True),
        ("\\!a", "!a", True),  # an escaped '!' is a positive literal
        ("!\\!a *", "!a", False),
        ("!\\!a *", "a", True),
        ("a\\\\b", "a\\b", True),  # an escaped backslash is a literal backslash
        ("a\\b", "ab", True),  # escaping an ordinary character is a no-op
        ("abc\\", "abc", True),  # a trailing lone backslash is dropped
        ("a\\*", "abc", True),  # an escaped star is still a wildcard, as in the reference
        ("a\\*", "a*", True),
        ("\\ ", " ", True),
        ("x\\ *", "x yz", True),
        ("x\\ *", "xyz", False),
    ],
)
def test_escapes(pattern: str, string: str, expected: bool) -> None:
    assert matches(pattern, string) is expected


def test_unicode_and_nul() -> None:
    assert matches("héllo*", "héllo wörld")
    assert matches("*ö*", "wörld") and not matches("*ö*", "world")
    # C strings end at the first NUL, in the pattern and in the tested string.
    assert matches("abc\0 !*", "abc")
    assert not matches("\0abc", "abc")
    assert matches("abc", "abc\0def")
    assert not matches("*", "\0abc")


# ----------------------------------------------------------------- the object


def test_object_protocol() -> None:
    p = SimplePattern("!a* *")
    assert p.text == "!a* *"
    assert repr(p) == "SimplePattern('!a* *')"
    assert p == SimplePattern("!a* *") and p != SimplePattern("*")
    assert len({p, SimplePattern("!a* *")}) == 1
    q = pickle.loads(pickle.dumps(p))
    assert q == p and q.matches("b") and not q.matches("ab")


def test_bad_types() -> None:
    with pytest.raises(TypeError, match="str.*5"):
        SimplePattern(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes"):
        SimplePattern(b"*")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="None"):
        SimplePattern("*").matches(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str"):
        MLConfig(profile="netdata-1.33").chart_is_skipped(3)  # type: ignore[arg-type]
