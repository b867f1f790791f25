"""A slow, literal reference of the reference's features and k-means.

Written straight from the specification (Netdata v1.33 feature extraction;
dlib v19.10 ``pick_initial_centers`` with a linear kernel and
``find_clusters_using_kmeans``), with no attention to speed. Every
floating-point operation is the one the specification names, in its order:

* Python floats are IEEE doubles, so scalar arithmetic here is the C++
  arithmetic.
* NumPy element-wise operations (``a - b``, ``a * b``, ``a + b`` on arrays)
  round each element exactly as the scalar operation would; they are used to
  run the same per-sample sequence over many samples at once, never to
  reorder a sum within one sample.
* Sums over samples use ``numpy.cumsum``, which adds strictly left to right.
* libstdc++'s ``std::sort`` (introsort) is emulated step by step, because
  the initial pick depends on how it orders records with equal distances.

``tests/test_*`` compare ``pyml.core`` with these functions bit for bit.
"""

from __future__ import annotations

import math
import sys
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

DBL_MAX = sys.float_info.max
DBL_MIN = sys.float_info.min  # smallest positive normal, the reference's MaxDist start


# --------------------------------------------------------------------------- features


def features(x: Sequence[float], diff_n: int = 1, smooth_n: int = 3, lag_n: int = 5) -> np.ndarray:
    """Feature vectors of a raw series; smooth_n = 0 behaves as 1."""
    buf = [float(v) for v in x]
    n = len(buf)
    d, s, lag = diff_n, max(smooth_n, 1), lag_n
    dims = lag + 1
    empty = np.zeros((0, dims))
    if d >= n:
        return empty
    n1 = n - d
    if s > n1:
        return empty
    n2 = n1 - (s - 1)
    if lag >= n2:
        return empty
    rows = n2 - lag

    # Difference (skipped when diff_n = 0), newest first (the subtrahend is still raw).
    if d > 0:
        for i in range(n - 1, d - 1, -1):
            buf[i] = buf[i] - buf[i - d]

    # Trailing mean with a running sum from the newest end.
    f = 1.0 / s
    total = 0.0
    for i in range(1, s + 1):
        total = total + buf[n - i]
    mean = total * f
    k = n
    while k >= d + s:
        c = buf[k - 1]
        if k >= s + 1:
            total = (total - c) + buf[k - 1 - s]
        buf[k - 1] = mean
        mean = total * f
        k -= 1

    # Lag (newest first) and absolute value.
    out = np.empty((rows, dims))
    first = n - rows
    for r in range(rows):
        j = first + r
        for e in range(dims):
            out[r, e] = abs(buf[j - e])
    return out


# --------------------------------------------------------------------------- libstdc++ std::sort

Less = Callable[[object, object], bool]

_THRESHOLD = 16  # libstdc++'s _S_threshold


def _insertion_sort(a: list, first: int, last: int, less: Less) -> None:
    if first == last:
        return
    for i in range(first + 1, last):
        if less(a[i], a[first]):
            val = a[i]
            a[first + 1:i + 1] = a[first:i]
            a[first] = val
        else:
            _unguarded_linear_insert(a, i, less)


def _unguarded_linear_insert(a: list, last: int, less: Less) -> None:
    val = a[last]
    nxt = last - 1
    while less(val, a[nxt]):
        a[last] = a[nxt]
        last = nxt
        nxt -= 1
    a[last] = val


def _final_insertion_sort(a: list, first: int, last: int, less: Less) -> None:
    if last - first > _THRESHOLD:
        _insertion_sort(a, first, first + _THRESHOLD, less)
        for i in range(first + _THRESHOLD, last):
            _unguarded_linear_insert(a, i, less)
    else:
        _insertion_sort(a, first, last, less)


def _push_heap(a: list, base: int, hole: int, top: int, value: object, less: Less) -> None:
    parent = (hole - 1) // 2
    while hole > top and less(a[base + parent], value):
        a[base + hole] = a[base + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[base + hole] = value


def _adjust_heap(a: list, base: int, hole: int, length: int, value: object, less: Less) -> None:
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if less(a[base + child], a[base + child - 1]):
            child -= 1
        a[base + hole] = a[base + child]
        hole = child
    if (length & 1) == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        a[base + hole] = a[base + child - 1]
        hole = child - 1
    _push_heap(a, base, hole, top, value, less)


def _make_heap(a: list, first: int, last: int, less: Less) -> None:
    length = last - first
    if length < 2:
        return
    parent = (length - 2) // 2
    while True:
        _adjust_heap(a, first, parent, length, a[first + parent], less)
        if parent == 0:
            return
        parent -= 1


def _pop_heap(a: list, first: int, last: int, result: int, less: Less) -> None:
    value = a[result]
    a[result] = a[first]
    _adjust_heap(a, first, 0, last - first, value, less)


def _heap_sort(a: list, first: int, last: int, less: Less) -> None:
    # std::__partial_sort(first, last, last): heap-select (a no-op past the
    # heap when middle == last), then sort the heap.
    _make_heap(a, first, last, less)
    while last - first > 1:
        last -= 1
        _pop_heap(a, first, last, last, less)


def _move_median_to_first(a: list, result: int, x: int, y: int, z: int, less: Less) -> None:
    if less(a[x], a[y]):
        if less(a[y], a[z]):
            a[result], a[y] = a[y], a[result]
        elif less(a[x], a[z]):
            a[result], a[z] = a[z], a[result]
        else:
            a[result], a[x] = a[x], a[result]
    elif less(a[x], a[z]):
        a[result], a[x] = a[x], a[result]
    elif less(a[y], a[z]):
        a[result], a[z] = a[z], a[result]
    else:
        a[result], a[y] = a[y], a[result]


def _unguarded_partition(a: list, first: int, last: int, pivot: int, less: Less) -> int:
    while True:
        while less(a[first], a[pivot]):
            first += 1
        last -= 1
        while less(a[pivot], a[last]):
            last -= 1
        if not first < last:
            return first
        a[first], a[last] = a[last], a[first]
        first += 1


def _introsort_loop(a: list, first: int, last: int, depth: int, less: Less) -> None:
    while last - first > _THRESHOLD:
        if depth == 0:
            _heap_sort(a, first, last, less)
            return
        depth -= 1
        mid = first + (last - first) // 2
        _move_median_to_first(a, first, first + 1, mid, last - 1, less)
        cut = _unguarded_partition(a, first + 1, last, first, less)
        _introsort_loop(a, cut, last, depth, less)
        last = cut


def libstdcxx_sort(items: list, less: Less) -> None:
    """Sort ``items`` in place exactly as libstdc++'s ``std::sort`` orders them."""
    n = len(items)
    if n == 0:
        return
    _introsort_loop(items, 0, n, 2 * (n.bit_length() - 1), less)
    _final_insertion_sort(items, 0, n, less)


# --------------------------------------------------------------------------- k-means


def _seq_sum_of_products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, 0.0 + a0*b0 + a1*b1 + ... left to right (a, b: (n, f) or broadcast)."""
    total = np.zeros(np.broadcast(a, b).shape[0])
    for e in range(a.shape[1] if a.ndim == 2 else b.shape[1]):
        ae = a[:, e] if a.ndim == 2 else a[e]
        be = b[:, e] if b.ndim == 2 else b[e]
        total = total + ae * be
    return total


def best_index(n: int) -> int:
    """dlib's rank of the next centre: (long) max(0, n - n*0.01 - 1)."""
    return int(max(0.0, float(n) - float(n) * 0.01 - 1))


def kernel_distances(X: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Squared distance of every row to c through the linear kernel, as dlib
    computes it: (k(c, c) + k(x, x)) - 2 k(x, c), each k a dot product summed
    left to right from 0.0."""
    kcc = 0.0
    for e in range(len(c)):
        kcc = kcc + float(c[e]) * float(c[e])
    return (kcc + _seq_sum_of_products(X, X)) - 2.0 * _seq_sum_of_products(X, c)


def pick_initial_centers(X: np.ndarray, k: int) -> np.ndarray:
    """dlib::pick_initial_centers(k, centers, samples, linear_kernel, 0.01)."""
    X = np.asarray(X, dtype=np.float64)
    n, dims = X.shape
    centers = [X[0].copy()]
    idx = [0] * n
    dist = [math.inf] * n
    rank = best_index(n)
    for i in range(k - 1):
        d = kernel_distances(X, centers[i])
        for s in range(n):
            if d[s] < dist[s]:
                dist[s] = float(d[s])
                idx[s] = s
        records = list(zip(idx, dist))
        libstdcxx_sort(records, lambda p, q: p[1] < q[1])
        centers.append(X[records[rank][0]].copy())
    return np.array(centers)


def find_clusters(X: np.ndarray, centers: np.ndarray, max_iterations: int) -> Tuple[np.ndarray, int]:
    """dlib::find_clusters_using_kmeans; returns (centres, iterations run)."""
    X = np.asarray(X, dtype=np.float64)
    centers = np.array(centers, dtype=np.float64)
    n, dims = X.shape
    k = centers.shape[0]
    assign = np.full(n, n)
    iterations = 0
    changed = True
    while changed and iterations < max_iterations:
        iterations += 1
        # Distance of every sample to every centre: sqrt of 0.0 + t0^2 + t1^2 + ...
        dists = []
        for j in range(k):
            acc = np.zeros(n)
            for e in range(dims):
                t = centers[j, e] - X[:, e]
                acc = acc + t * t
            dists.append(np.sqrt(acc))
        new = np.zeros(n, dtype=np.int64)
        best = np.full(n, DBL_MAX)
        for j in range(k):
            closer = dists[j] < best  # strict: the lowest index wins ties
            best = np.where(closer, dists[j], best)
            new = np.where(closer, j, new)
        changed = bool(np.any(new != assign))
        assign = new
        for j in range(k):
            members = X[assign == j]
            if len(members) == 0:
                centers[j] = 0.0  # an empty cluster's centre becomes the zero vector
                continue
            # 0.0 + x_first + ... + x_last, strictly in sample order.
            total = np.cumsum(np.vstack([np.zeros((1, dims)), members]), axis=0)[-1]
            centers[j] = total * (1.0 / len(members))
    return centers, iterations


def kmeans(X: np.ndarray, k: int = 2, max_iterations: int = 1000) -> np.ndarray:
    return find_clusters(X, pick_initial_centers(X, k), max_iterations)[0]


# --------------------------------------------------------------------------- model


def mean_distance(centers: np.ndarray, x: Sequence[float]) -> float:
    total = 0.0
    for c in centers:
        acc = 0.0
        for e in range(len(c)):
            t = float(c[e]) - float(x[e])
            acc = acc + t * t
        total = total + math.sqrt(acc)
    return total / len(centers)


def fill_gaps(history: Sequence[float]) -> Tuple[List[float], int]:
    values = [float(v) for v in history]
    existing = sum(1 for v in values if not math.isnan(v))
    out: List[float] = []
    last: Optional[float] = None
    for v in values:
        if math.isnan(v):
            if last is not None:
                out.append(last)
        else:
            last = v
            out.append(v)
    return out, existing


def train(history: Sequence[float], diff_n: int = 1, smooth_n: int = 3, lag_n: int = 5,
          max_iterations: int = 1000) -> Tuple[np.ndarray, float, float]:
    """(centres, min_dist, max_dist) as the reference trains a dimension."""
    filled, _ = fill_gaps(history)
    feats = features(filled, diff_n, smooth_n, lag_n)
    centers = kmeans(feats, 2, max_iterations)
    lo, hi = DBL_MAX, DBL_MIN
    # The mean distances of all rows at once, same operations per row.
    acc = np.zeros(len(feats))
    for c in centers:
        sq = np.zeros(len(feats))
        for e in range(feats.shape[1]):
            t = c[e] - feats[:, e]
            sq = sq + t * t
        acc = acc + np.sqrt(sq)
    for md in acc / 2:
        if md < lo:
            lo = float(md)
        if md > hi:
            hi = float(md)
    return centers, lo, hi


def score(centers: np.ndarray, min_dist: float, max_dist: float, x: Sequence[float]) -> float:
    md = mean_distance(centers, x)
    if max_dist == min_dist:
        return 0.0
    s = 100.0 * abs((md - min_dist) / (max_dist - min_dist))
    return 100.0 if s > 100.0 else s
