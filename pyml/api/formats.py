"""The ``format`` of ``/api/v1/data``: one query result rendered as Netdata v1.37 renders it.

Formats: ``json`` (default), ``jsonp``, ``datatable`` (Google Visualization
table JSON), ``datasource`` (the same as a Google ``setResponse`` call),
``csv``, ``tsv`` (alias ``tsv-excel``), ``markdown``, ``html``,
``csvjsonarray``, ``ssv``, ``ssvcomma`` and ``array``. Text tables carry a
header line and one row per output point, newest first (oldest first with
``flip``), times as local ``YYYY-MM-DD HH:MM:SS`` unless ``seconds`` or
``ms``; numbers are printed as Netdata prints them (at most seven decimals,
no trailing zeros). ``ssv``, ``ssvcomma`` and ``array`` give one number per
row: the sum of the row's values, or with ``min2max`` the spread between the
largest and smallest of them (0 included, as Netdata does). With ``jsonwrap``
every format is wrapped in the JSON envelope, its text as the ``result``
string. ``csvjsonarray`` prints local-time stamps unquoted, exactly as
Netdata does (valid JSON only with ``seconds`` or ``ms``).

Rendering never changes the query; it reads :class:`pyml.query.DataResult`.
``json`` (with or without ``jsonwrap``) is written from the result's arrays
(:meth:`pyml.query.DataResult.table`) by :mod:`pyml.api.fastjson`, with no
Python object per value when orjson is installed.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..query import DataResult
from . import fastjson

__all__ = ["FORMATS", "Rendered", "canonical_format", "render", "number"]

_ALIASES = {"tsv-excel": "tsv"}
#: Every accepted ``format`` name.
FORMATS: tuple[str, ...] = ("json", "jsonp", "datatable", "datasource", "csv", "tsv", "tsv-excel", "markdown",
                            "html", "csvjsonarray", "ssv", "ssvcomma", "array")
_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"
_JS = "application/x-javascript; charset=utf-8"
_MEDIA = {"json": _JSON, "jsonp": _JS, "datatable": _JSON, "datasource": _JS, "csv": _TEXT, "tsv": _TEXT,
          "markdown": _TEXT, "html": "text/html; charset=utf-8", "csvjsonarray": _JSON, "ssv": _TEXT,
          "ssvcomma": _TEXT, "array": _JSON}


@dataclass
class Rendered:
    """A rendered answer: body text and media type."""

    body: str | bytes  #: the JSON formats' bodies are UTF-8 bytes, the others text
    media_type: str


def canonical_format(name: str) -> str:
    """The format a ``format`` name stands for; ValueError naming it when unknown."""
    if name not in FORMATS:
        raise ValueError(f"format parameter {name!r} is unknown; known: {', '.join(FORMATS)}")
    return _ALIASES.get(name, name)


def number(value: float | None) -> str:
    """A number as Netdata prints it: at most seven decimals, trailing zeros dropped, ``null`` for none."""
    if value is None or not math.isfinite(value):
        return "null"
    text = f"{value:.7f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _local(t: int) -> time.struct_time:
    return time.localtime(int(t))


def _date(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", _local(t))


def _js_date(t: int) -> str:
    lt = _local(t)
    return f"Date({lt.tm_year},{lt.tm_mon - 1},{lt.tm_mday},{lt.tm_hour},{lt.tm_min},{lt.tm_sec})"


def _table(result: DataResult) -> tuple[list[str], list[tuple[int, list[float | None]]]]:
    """Names and rows (stamp, values with None for empty, 0 for empty with null2zero), in output order."""
    idx = result.visible()
    values, empty = result.presented()
    null2zero = "null2zero" in result.options
    names = [result.queried[i] for i in idx]
    stamps = result.stamps().tolist()
    cols = values[idx]
    flags = empty[idx]
    rows = []
    for p, t in enumerate(stamps):
        row = [(0.0 if null2zero else None) if flags[k, p] else float(cols[k, p]) for k in range(len(idx))]
        rows.append((t, row))
    if "flip" not in result.options:
        rows.reverse()
    return names, rows


def _time_cell(result: DataResult, t: int) -> str:
    if "ms" in result.options:
        return f"{t}000"
    if "seconds" in result.options:
        return str(t)
    return _date(t)


def _delimited(result: DataResult, fmt: str, sep: str, start: str, end: str, between: str = "",
               quotes: bool = False) -> str:
    names, rows = _table(result)
    q = '"' if quotes else ""
    out = []
    if names:
        out.append(start + sep.join(f"{q}{n}{q}" for n in ["time", *names]) + end)
        if fmt == "markdown":
            out.append(start + sep.join(":---:" for _ in range(len(names) + 1)) + end)
    head = "".join(out)
    if not names:
        return end
    body = [start + sep.join([_time_cell(result, t), *(number(v) for v in row)]) + end for t, row in rows]
    return head + between + between.join(body) if between else head + "".join(body)


def _row_values(result: DataResult) -> list[float | None]:
    """ssv/array: one value per row (sum, or spread with min2max), output order."""
    idx = result.visible()
    values, empty = result.presented()
    cols, flags = values[idx], empty[idx]
    out: list[float | None] = []
    for p in range(cols.shape[1] if cols.ndim == 2 else 0):
        present = ~flags[:, p]
        if not present.any():
            out.append(0.0 if "null2zero" in result.options else None)
            continue
        if "min2max" in result.options:
            col = np.where(flags[:, p], 0.0, cols[:, p])
            out.append(float(max(col.max(), 0.0) - min(col.min(), 0.0)))
        else:
            out.append(float(cols[present, p].sum()))
    if "flip" not in result.options:
        out.reverse()
    return out


def _datatable(result: DataResult, google: bool) -> str:
    kq, sq = ("", "'") if google else ('"', '"')
    names, rows = _table(result)
    cols = [f"{{{kq}id{kq}:{sq}{sq},{kq}label{kq}:{sq}time{sq},{kq}pattern{kq}:{sq}{sq},{kq}type{kq}:{sq}datetime{sq}}}",
            f"{{{kq}id{kq}:{sq}{sq},{kq}label{kq}:{sq}{sq},{kq}pattern{kq}:{sq}{sq},{kq}type{kq}:{sq}string{sq},"
            f"{kq}p{kq}:{{{kq}role{kq}:{sq}annotation{sq}}}}}",
            f"{{{kq}id{kq}:{sq}{sq},{kq}label{kq}:{sq}{sq},{kq}pattern{kq}:{sq}{sq},{kq}type{kq}:{sq}string{sq},"
            f"{kq}p{kq}:{{{kq}role{kq}:{sq}annotationText{sq}}}}}"]
    cols += [f"{{{kq}id{kq}:{sq}{sq},{kq}label{kq}:{sq}{n}{sq},{kq}pattern{kq}:{sq}{sq},{kq}type{kq}:{sq}number{sq}}}"
             for n in names]
    lines = []
    for t, row in rows:
        cells = [f"{{{kq}v{kq}:{sq}{_js_date(t)}{sq}}}", f"{{{kq}v{kq}:null}}", f"{{{kq}v{kq}:null}}"]
        cells += [f"{{{kq}v{kq}:{number(v)}}}" for v in row]
        lines.append(f"        {{{kq}c{kq}:[{','.join(cells)}]}}")
    return (f"{{\n {kq}cols{kq}:\n [\n        " + ",\n        ".join(cols) + f"\n  ],\n    {kq}rows{kq}:\n [\n"
            + ",\n".join(lines) + "\n]\n}")


def _json_rows(result: DataResult) -> bytes:
    """``format=json`` (with ``jsonwrap`` or not) through the encoder's table path: no Python
    object per value."""
    names, stamps, cells = result.table()
    labels = ["time", *names]
    rows = fastjson.data_rows(stamps, cells)
    if "jsonwrap" not in result.options:
        return b'{"labels":' + fastjson.dumps(labels) + b',"data":' + rows + b"}"
    data_key = fastjson.placeholder()
    raw = {data_key: rows}
    rates_key = None
    if "jw-anomaly-rates" in result.options:
        rates_key = fastjson.placeholder()
        raw[rates_key] = fastjson.data_rows(*result.rate_table())
    return fastjson.dumps_with(result.wrap({"labels": labels, "data": data_key}, "json", rates_data=rates_key), raw)


def _json_text(result: DataResult) -> str | bytes:
    if "objectrows" not in result.options and "google_json" not in result.options:
        return _json_rows(result)
    if "google_json" not in result.options:
        return fastjson.dumps(result.document())
    names, rows = _table(result)
    lines = []
    for t, row in rows:
        lt = _local(t)
        stamp = f"new Date({lt.tm_year},{lt.tm_mon - 1},{lt.tm_mday},{lt.tm_hour},{lt.tm_min},{lt.tm_sec})"
        lines.append(" [ " + ",".join([stamp, *(number(v) for v in row)]) + "]")
    labels = ",".join(json.dumps(n) for n in ["time", *names])
    return "{\n \"labels\": [" + labels + "],\n    \"data\":\n [\n" + ",\n".join(lines) + "\n]\n}"


def _plain(result: DataResult, fmt: str) -> tuple[str | bytes, bool]:
    """The unwrapped body and whether it is a string inside ``jsonwrap``."""
    if fmt in ("json", "jsonp"):
        return _json_text(result), False
    if fmt in ("datatable", "datasource"):
        return _datatable(result, "google_json" in result.options), False
    if fmt in ("ssv", "ssvcomma", "array"):
        sep = {"ssv": " ", "ssvcomma": ",", "array": ","}[fmt]
        text = sep.join(number(v) for v in _row_values(result))
        return ("[" + text + "]", False) if fmt == "array" else (text, True)
    if fmt == "csvjsonarray":
        return "[\n" + _delimited(result, fmt, ",", "[", "]", ",\n", quotes=True) + "\n]", False
    wrap = "jsonwrap" in result.options
    end = "\n" if wrap else "\r\n"
    if fmt == "csv":
        return _delimited(result, fmt, ",", "", end), True
    if fmt == "tsv":
        return _delimited(result, fmt, "\t", "", end), True
    if fmt == "markdown":
        return _delimited(result, fmt, "|", "", end), True
    if fmt == "html":
        table = _delimited(result, fmt, "</td><td>", "<tr><td>", "</td></tr>\n")
        return ('<html>\n<center>\n<table border="0" cellpadding="5" cellspacing="5">\n' + table
                + "</table>\n</center>\n</html>\n"), True
    raise ValueError(f"format {fmt!r} is unknown")  # pragma: no cover - canonical_format refused it


def _bytes(body: str | bytes) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8")


def render(result: DataResult, fmt: str = "json", *, callback: str | None = None, google: dict[str, str] | None = None,
           last_updated: int = 0) -> Rendered:
    """Render ``result`` in ``fmt`` (a name of :data:`FORMATS`).

    ``callback`` names the JavaScript function of ``jsonp`` (default
    ``callback``) and ``datasource`` (default
    ``google.visualization.Query.setResponse``); ``google`` holds the ``tqx``
    fields (``version``, ``reqId``, ``sig``); ``last_updated`` is the chart's
    newest sample (the ``sig`` of ``datasource``: a request whose ``sig`` is
    not older gets Google's "not modified" answer).
    """
    fmt = canonical_format(fmt)
    body, as_string = _plain(result, fmt)
    if fmt == "json" and "jsonwrap" not in result.options:
        return Rendered(body, _MEDIA[fmt])
    if "jsonwrap" in result.options:
        if fmt == "json":
            return Rendered(body, _JSON)
        if fmt == "jsonp":  # the json document, wrapped once, inside the callback (as Netdata answers)
            return Rendered(f"{callback or 'callback'}(".encode() + _bytes(body) + b");", _JS)
        inner: Any = body if as_string else json.loads(body) if fmt not in ("csvjsonarray",) else body
        return Rendered(fastjson.dumps(result.wrap(inner, fmt)), _JSON)
    if fmt == "jsonp":
        return Rendered(f"{callback or 'callback'}(".encode() + _bytes(body) + b");", _JS)
    if fmt == "datasource":
        g = google or {}
        handler = callback or "google.visualization.Query.setResponse"
        version, req_id = g.get("version", "0.6"), g.get("reqId", "0")
        try:
            since = int(g.get("sig", "0"), 0)
        except ValueError:
            since = 0
        if since and since >= last_updated:
            return Rendered(f"{handler}({{version:'{version}',reqId:'{req_id}',status:'error',errors:[{{reason:"
                            f"'not_modified',message:'Data not modified'}}]}});", _JS)
        return Rendered(f"{handler}({{version:'{version}',reqId:'{req_id}',status:'ok',sig:'{last_updated}',"
                        f"table:{body}}});", _JS)
    return Rendered(body, _MEDIA[fmt])
