"""The API's JSON encoders (pyml.api.fastjson): orjson and the standard library write the same values.

"The same" is checked on parsed values with their JSON types: an int stays an int, a float a float,
the sign of a zero is kept, NaN and inf are null. Byte-level spelling of exponents may differ
(``1e-07`` and ``1e-7``); JSON readers do not tell them apart.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from pyml.api import fastjson

STD = fastjson.StdlibEncoder()
try:
    FAST: fastjson.JsonEncoder | None = fastjson.OrjsonEncoder()
except ImportError:  # without the 'fast' extra the standard library's encoder is still checked alone
    FAST = None
ENCODERS = [e for e in (STD, FAST) if e is not None]
needs_orjson = pytest.mark.skipif(FAST is None, reason="the 'fast' extra (orjson) is not installed")


def typed(value: Any) -> Any:
    """A parsed JSON value with its types made explicit (int vs float, the sign of zero)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value, math.copysign(1.0, value))
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, dict):
        return [(k, typed(v)) for k, v in value.items()]
    return value


AWKWARD = {
    "nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "neg_zero": -0.0, "zero": 0.0,
    "float_integral": 50.0, "int": 50, "huge_float": 1.7976931348623157e308, "tiny": 5e-324, "small": 1e-07,
    "1e16": 1e16, "1e15": 1e15, "int64_max": 2**63 - 1, "beyond_int64": 2**70, "negative_beyond": -(2**65),
    "np_float64": np.float64(0.1), "np_float32": np.float32(0.1), "np_int64": np.int64(-3), "np_bool": np.bool_(True),
    "none": None, "true": True, "text": "é \u2028 \"quoted\" \\ \n", "surrogate": "\ud800",
    "nested": [[1, 2.5, float("nan")], {"a": -0.0}, (1, 2)], "numbers_as_keys": {1: "one", 2.5: "x", None: 0},
}


@needs_orjson
@pytest.mark.parametrize("key", sorted(AWKWARD))
def test_both_encoders_write_the_same_value(key: str) -> None:
    value = {key: AWKWARD[key]}
    assert FAST is not None
    assert typed(json.loads(FAST.dumps(value))) == typed(json.loads(STD.dumps(value)))


def test_awkward_values_are_written_as_netdata_readers_expect() -> None:
    for encoder in ENCODERS:
        doc = json.loads(encoder.dumps(AWKWARD))
        assert doc["nan"] is None and doc["inf"] is None and doc["-inf"] is None
        assert typed(doc["neg_zero"]) == ("float", 0.0, -1.0)
        assert typed(doc["float_integral"]) == ("float", 50.0, 1.0) and typed(doc["int"]) == ("int", 50)
        assert doc["huge_float"] == 1.7976931348623157e308 and doc["tiny"] == 5e-324
        assert doc["beyond_int64"] == 2**70 and doc["negative_beyond"] == -(2**65)
        assert doc["np_float32"] == float(np.float32(0.1)) and typed(doc["np_int64"]) == ("int", -3)
        assert doc["np_bool"] is True and doc["surrogate"] == "\ud800"
        assert doc["numbers_as_keys"] == {"1": "one", "2.5": "x", "null": 0}
        assert doc["nested"][0][2] is None and typed(doc["nested"][1]["a"]) == ("float", 0.0, -1.0)


def test_standard_library_text_is_unchanged_for_finite_documents() -> None:
    doc = {"labels": ["time", "a"], "data": [[1700000000, 1.5, None], [1700000001, -0.0, 1e-07]], "x": {"y": 2**70}}
    assert STD.dumps(doc) == json.dumps(doc, separators=(",", ":")).encode()


def test_an_object_json_cannot_write_is_a_type_error_naming_it() -> None:
    for encoder in ENCODERS:
        with pytest.raises(TypeError, match="object"):
            encoder.dumps({"a": object()})


def _table(rows: int, cols: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cells = np.round(rng.normal(0, 50, (rows, cols)), 7)
    if cells.size:
        cells.flat[rng.integers(0, cells.size, max(1, cells.size // 7))] = np.nan
        cells.flat[0] = -0.0
        cells.flat[-1] = 1e300
    stamps = 1_700_000_000 + np.arange(rows, dtype=np.int64)[::-1]
    return stamps, cells


@needs_orjson
@pytest.mark.parametrize("rows,cols", [(0, 3), (1, 1), (3, 0), (10, 3), (700, 3), (3600, 10), (5000, 1)])
def test_data_rows_agree_and_keep_integer_times(rows: int, cols: int) -> None:
    stamps, cells = _table(rows, cols)
    assert FAST is not None
    fast = json.loads(FAST.data_rows(stamps, cells))
    std = json.loads(STD.data_rows(stamps, cells))
    assert typed(fast) == typed(std)
    assert len(fast) == rows and all(len(r) == cols + 1 for r in fast)
    assert all(isinstance(r[0], int) for r in fast)
    expected = [[int(t), *(None if math.isnan(v) else float(v) for v in row)] for t, row in zip(stamps, cells)]
    assert typed(fast) == typed(expected)


@needs_orjson
@pytest.mark.parametrize("stamps", [
    [0, 5, 99, 100, 999_999_999, 1_000_000_000, 1_700_000_000],  # every digit count, zero included
    [1_700_000_000_000 + i for i in range(300)],                 # milliseconds
    [10**15 + i for i in range(300)],                            # beyond the float table's range: the list path
    [-5 + i for i in range(300)],                                # negative: the list path
])
def test_data_rows_stamps_of_any_size(stamps: list[int]) -> None:
    s = np.array(stamps, dtype=np.int64)
    cells = np.tile(np.array([[1.0, np.nan, -2.5, 0.0, 7.25, 3.0, 1e-7, 123456.7654321]]), (s.size, 1))
    assert FAST is not None
    fast = json.loads(FAST.data_rows(s, cells))
    assert typed(fast) == typed(json.loads(STD.data_rows(s, cells)))
    assert [r[0] for r in fast] == stamps and all(isinstance(r[0], int) for r in fast)


def test_data_rows_refuse_shapes_that_do_not_fit() -> None:
    for encoder in ENCODERS:
        with pytest.raises(ValueError, match=r"one row per stamp \(3\), got shape \(2, 4\)"):
            encoder.data_rows(np.arange(3), np.zeros((2, 4)))
        with pytest.raises(ValueError, match="1-D integer array, got float64"):
            encoder.data_rows(np.arange(3.0), np.zeros((3, 4)))


def test_dumps_with_puts_each_table_where_its_placeholder_is() -> None:
    key = fastjson.placeholder()
    for encoder in ENCODERS:
        body = encoder.dumps_with({"a": key, "b": [key + "x"]}, {key: b"[[1,2.5]]"})
        assert json.loads(body) == {"a": [[1, 2.5]], "b": [key + "x"]}
        with pytest.raises(ValueError, match="appears 0 times"):
            encoder.dumps_with({"a": 1}, {key: b"[]"})


@needs_orjson
def test_use_switches_the_encoder_and_names_an_unknown_one() -> None:
    previous = fastjson.use("json")
    try:
        assert fastjson.BACKEND == "json" and isinstance(fastjson.ENCODER, fastjson.StdlibEncoder)
        with pytest.raises(ValueError, match="'ujson' is not available here; available: json, orjson"):
            fastjson.use("ujson")
    finally:
        fastjson.use(previous.name)
    assert fastjson.BACKEND == previous.name


@needs_orjson
def test_api_answers_are_the_same_with_either_encoder() -> None:
    import pyml
    from pyml.api.v1 import V1Api

    cfg = pyml.MLConfig(profile="netdata-1.33", min_train_samples=60, max_train_samples=120, train_every=120,
                        clamp=False)
    host = pyml.Host("enc", cfg, background=False, history=600)
    host.add_chart("system.cpu", ["user", "system", "neg"])
    rng = np.random.default_rng(4)
    for i in range(500):
        if i == 150:
            host.train_now()
        if i in (200, 201):
            continue
        host.collect_all(1_700_000_000 + i, [rng.normal(10, 3) * (9 if i % 41 == 0 else 1),
                                             np.nan if i % 13 == 0 else 0.0, -abs(rng.normal(0, 1e-7))])
    api = V1Api(host, [host], max_points=86400, clock=None)
    queries = [("data", [("chart", "system.cpu"), ("after", a), ("points", p), ("options", o), ("format", f)])
               for a in ("-60", "0") for p in ("0", "7") for f in ("json", "jsonp", "array", "datatable")
               for o in ("", "jsonwrap", "jsonwrap,jw-anomaly-rates,flip", "anomaly-bit,ms", "null2zero,objectrows",
                         "percentage,abs", "seconds,nonzero")]
    queries += [("weights", [("after", "-400")]), ("info", []), ("charts", []), ("ml_info", []), ("alarms", [])]
    previous = fastjson.ENCODER
    answers = {}
    try:
        for name in ("json", "orjson"):
            fastjson.use(name)
            answers[name] = [api.handle(endpoint, items).body for endpoint, items in queries]
    finally:
        fastjson.use(previous.name)
        host.close()

    def parsed(body: bytes | str) -> Any:
        text = body.decode() if isinstance(body, bytes) else body
        if text.startswith("callback("):
            text = text[len("callback("):-2]
        doc = json.loads(text)
        if isinstance(doc, dict):
            doc.pop("now", None)
            if isinstance(doc.get("statistics"), dict):
                doc["statistics"].pop("query_time_ms", None)
        return typed(doc)

    for (endpoint, items), std, fast in zip(queries, answers["json"], answers["orjson"]):
        assert parsed(std) == parsed(fast), (endpoint, items)
