"""The compiled allmetrics decoder (``csrc/pyml/allmetrics.hpp``) against the general JSON decoders."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from pyml import _core
from pyml.sources import _netdata_json as nj
from pyml.sources.netdata_sim import SimulatedNetdata


@pytest.fixture(scope="module")
def body() -> bytes:
    return SimulatedNetdata("dec", charts=50, dims_per_chart=4).answer("/api/v1/allmetrics?format=json")[1]


def _reference(body: bytes) -> tuple[np.ndarray, np.ndarray, list[tuple[str, list[str]]]]:
    doc = json.loads(body)
    lus = np.array([c.get("last_updated", 0) for c in doc.values()], dtype=np.int64)
    values = np.array([np.nan if d.get("value") is None else d["value"]
                       for c in doc.values() for d in c.get("dimensions", {}).values()], dtype=np.float64)
    return lus, values, [(cid, list(c.get("dimensions", {}))) for cid, c in doc.items()]


def test_a_netdata_answer_decodes_as_the_json_module_reads_it(body: bytes) -> None:
    lus, values, shape = _reference(body)
    got = _core.decode_allmetrics(body)
    assert got is not None
    assert np.array_equal(got[0], lus) and np.array_equal(got[1], values, equal_nan=True)
    assert got[2] == nj.shape_keys(shape)
    checked = nj.decode_value_arrays(body, nj.shape_keys(shape))
    assert checked is not None and np.array_equal(checked[1], values, equal_nan=True)


@pytest.mark.parametrize("change", ["a chart renamed", "a dimension added", "dimensions swapped", "a chart less"])
def test_an_answer_of_other_ids_is_refused(body: bytes, change: str) -> None:
    _, _, shape = _reference(body)
    keys = nj.shape_keys(shape)
    other = [list(x) for x in shape]
    if change == "a chart renamed":
        other[3][0] = other[3][0] + "x"
    elif change == "a dimension added":
        other[3][1] = other[3][1] + ["extra"]
    elif change == "dimensions swapped":
        other[3][1] = other[3][1][::-1]
    else:
        other = other[:-1]
    assert nj.shape_keys([tuple(x) for x in other]) != keys
    assert nj.decode_value_arrays(body, nj.shape_keys([tuple(x) for x in other])) is None


NUMBERS = ["0", "-0", "1", "-17", "143.5000000", "0.0000001", "123456789.1234567", "9007199254740993",
           "12345678901234567890", "1e3", "-2.5E-3", "1.7976931348623157e308", "4.9e-324", "0.1", "0.30000000000000004",
           "99999999999999999999.5", "1.00000000000000000000000001"]


@pytest.mark.parametrize("text", NUMBERS)
def test_numbers_read_as_python_reads_them(text: str) -> None:
    doc = f'{{"c": {{"last_updated": 5, "dimensions": {{"d": {{"name": "d", "value": {text}}}}}}}}}'.encode()
    got = _core.decode_allmetrics(doc)
    assert got is not None
    want = float(text)
    assert got[1][0] == want and math.copysign(1, got[1][0]) == math.copysign(1, want)


def test_random_decimals_read_as_python_reads_them() -> None:
    rng = np.random.default_rng(7)
    xs = np.concatenate([rng.normal(scale=10.0 ** rng.integers(-8, 12, 2000)), rng.integers(-10**15, 10**15, 500)])
    texts = [f"{x:.{rng.integers(0, 12)}f}" for x in xs] + [repr(float(x)) for x in xs]
    dims = ", ".join(f'"d{i}": {{"value": {t}}}' for i, t in enumerate(texts))
    got = _core.decode_allmetrics(f'{{"c": {{"dimensions": {{{dims}}}}}}}'.encode())
    assert got is not None
    assert np.array_equal(got[1], np.array([float(t) for t in texts]))


@pytest.mark.parametrize("doc", [
    b'{"c": {"last_updated": 1, "dimensions": {"d\\u0041": {"value": 1}}}}',   # an escape inside an id
    b'{"c": {"last_updated": 1, "dimensions": {"d": {"value": "1"}}}}',       # a string value
    b'{"c": {"last_updated": 1, "dimensions": {"d": {"value": true}}}}',
    b'{"c": {"last_updated": 1.5, "dimensions": {}}}',
    b'{"c": {"last_updated": 99999999999999999999, "dimensions": {}}}',
    b'{"c": {"last_updated": 1, "dimensions": {"d": {"value": 1e999}}}}',     # beyond a double
    b'{"c": {"last_updated": 1, "dimensions": {"d": {"value": nan}}}}',
    b'{"c": {"last_updated": 1, "dimensions": {"d": {"value": 01}}}}',
    b'{"c": {"last_updated": 1, "last_updated": 2}}',
    b'{"c": {"last_updated": 1}} x',
    b'{"c": {"last_updated": 1},}',
    b'[1, 2]',
    b'',
    b'{"c": {"x": ' + b'[' * 100 + b']' * 100 + b'}}',                    # nested deeper than the scanner goes
])
def test_what_it_cannot_read_is_left_to_the_general_decoder(doc: bytes) -> None:
    assert _core.decode_allmetrics(doc) is None


def test_skipped_members_may_hold_anything(body: bytes) -> None:
    doc = (b'{"c": {"name": "a \\"quoted\\" \\u00e9 name", "x": [1, {"y": [null, true, false, -1.5e3]}, "s"], '
           b'"last_updated": 7, "dimensions": {"d": {"name": "\\n", "value": null, "z": {}}, "e": {}}}, "f": {}}')
    got = _core.decode_allmetrics(doc)
    assert got is not None
    assert got[0].tolist() == [7, 0] and np.isnan(got[1]).all() and len(got[1]) == 2
    assert got[2] == nj.shape_keys([("c", ["d", "e"]), ("f", [])])


def test_every_truncation_of_an_answer_is_refused(body: bytes) -> None:
    small = body[:2000] if len(body) > 2000 else body
    cut = small.rfind(b"\n\t},")
    whole = small[:cut] + b"\n\t}\n}"
    assert _core.decode_allmetrics(whole) is not None
    for n in range(len(whole)):
        assert _core.decode_allmetrics(whole[:n]) is None, n


def _renumbered(body: bytes, seed: int) -> bytes:
    """``body`` one second later with other values (some null): the text between its numbers unchanged."""
    rng = np.random.default_rng(seed)
    doc = body.decode()
    doc = re.sub(r'"last_updated": (\d+)', lambda m: f'"last_updated": {int(m.group(1)) + 1}', doc)

    def value(_: re.Match[str]) -> str:
        if rng.random() < 0.05:
            return '"value": null'
        return f'"value": {rng.normal() * 10.0 ** rng.integers(-3, 9):.7f}'

    return re.sub(r'"value": (-?[0-9.eE+-]+|null)', value, doc).encode()


def test_a_source_decoder_reads_the_next_answers_against_the_learned_one(body: bytes) -> None:
    keys = _core.decode_allmetrics(body)[2]
    decoder = _core.AllmetricsDecoder()
    assert not decoder.learned
    for i in range(6):
        answer = body if i == 0 else _renumbered(body, i)
        want = _core.decode_allmetrics(answer, keys)
        got = nj.decode_value_arrays(answer, keys, decoder)
        assert want is not None and got is not None
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1], equal_nan=True)
        assert np.isnan(got[1]).any() or i == 0
    assert decoder.learned and (decoder.scanned, decoder.compared, decoder.learnings) == (1, 5, 1)


def test_an_answer_changed_between_its_numbers_is_scanned_and_learned_again(body: bytes) -> None:
    keys = _core.decode_allmetrics(body)[2]
    decoder = _core.AllmetricsDecoder()
    assert decoder.decode(body, keys) is not None
    renamed = _renumbered(body, 1).replace(b'"name": "name_d1"', b'"name": "renamed_d1"', 1)
    got = decoder.decode(renamed, keys)
    want = _core.decode_allmetrics(renamed, keys)
    assert got is not None and want is not None and np.array_equal(got[1], want[1], equal_nan=True)
    assert (decoder.scanned, decoder.compared) == (2, 0)
    assert decoder.decode(_renumbered(renamed, 2), keys) is not None       # the renamed answer, learned
    assert (decoder.scanned, decoder.compared) == (2, 1)
    # an answer of other ids: None, as decode_allmetrics says, and nothing stays learned
    _, _, shape = _reference(body)
    other = nj.shape_keys([(c + "x", dims) for c, dims in shape])
    assert decoder.decode(body, other) is None and not decoder.learned
    assert decoder.decode(b"{not json", keys) is None
    for args in (("{}", keys), (body, None)):
        with pytest.raises(TypeError, match="incompatible function arguments"):
            decoder.decode(*args)  # type: ignore[arg-type]


def test_a_source_whose_answers_change_between_their_numbers_every_time_is_learned_ever_more_rarely(
        body: bytes) -> None:
    keys = _core.decode_allmetrics(body)[2]
    decoder = _core.AllmetricsDecoder()
    for i in range(200):
        answer = body.replace(b'"name": "name_d1"', f'"name": "name_d1_{i}"'.encode(), 1)
        got, want = decoder.decode(answer, keys), _core.decode_allmetrics(answer, keys)
        assert got is not None and want is not None and np.array_equal(got[1], want[1], equal_nan=True)
    # learned at the first two answers, then after pauses of 2, 4, ... 64 plain scans
    assert (decoder.compared, decoder.scanned, decoder.learnings) == (0, 200, 9)   # 1, 2, 5, 10, 19, ... 199
