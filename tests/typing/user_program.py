"""A program that embeds pyml through its documented public API (README, DESIGN §4 of the design notes).

``mypy --strict`` checks it against pyml's annotations and the stubs of the
compiled core (``ci/wheel_check.sh``, on the installed wheel), so a stub or
an annotation that breaks a user's type check fails CI; ``tests/test_user_program.py``
runs it, so it stays a program that works. Nothing here reaches a private name.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

import pyml
from pyml import core

T0 = 1_700_000_000


def embed(ticks: int = 240) -> dict[str, float]:
    """Collect a small host, train it, query it; return the anomaly rates."""
    cfg: pyml.MLConfig = pyml.MLConfig(profile="netdata-1.33", min_train_samples=120, max_train_samples=120, train_every=120, clamp=False)
    from_text = pyml.MLConfig.from_netdata_conf("[ml]\n\tenabled = yes\n\ttrain every = 7200\n")
    assert from_text.train_every == 7200
    rng = np.random.default_rng(1)
    with pyml.Host("node-1", cfg, update_every=1, storage_dir=None, background=False) as host:
        host.add_chart("system.cpu", ["user", "system"])
        host.add_chart("net.eth0", ["received", "sent"], name="net.eth0")
        host.add_dimension("system.cpu", "iowait")
        ids: list[str] = host.dimension_ids()
        for k in range(ticks):
            values: npt.NDArray[np.float64] = rng.normal(50.0, 5.0, len(ids))
            host.collect_all(T0 + k, values)
            if k == ticks // 2:
                host.train_now()
        host.collect("system.cpu", T0 + ticks, [1.0, 2.0, 3.0])
        host.flush()
        rows = host.data("system.cpu", after=-60, before=0, points=6, options=["anomaly-bit"])
        assert isinstance(rows["data"], list)
        rates: dict[str, float] = host.anomaly_rates(-60, 0)
        rate: float = host.host_anomaly_rate(-60, 0)
        assert 0.0 <= rate <= 1.0
        events: list[list[int]] = host.anomaly_events(0, (T0 + ticks + 1) * 1000)
        for after, before in events:
            info = host.anomaly_event_info(after, before)
            assert info is None or all(len(pair) == 2 for pair in info)
        info_keys: dict[str, int] = host.ml_info()
        assert info_keys
        host.remove_dimension("system.cpu", "iowait")
        host.remove_chart("net.eth0")
    return rates


def primitives() -> float:
    """The compiled core's public face: storage words, features, k-means, models, the bank."""
    words: npt.NDArray[np.uint32] = core.pack([1.0, float("nan")], anomalous=[True, False])
    values, anomalous, exists = core.unpack(words)
    assert bool(anomalous[0]) and not bool(exists[1]) and float(values[0]) == 1.0
    history = np.cumsum(np.random.default_rng(0).normal(size=600))
    vectors: npt.NDArray[np.float64] = core.features(history, diff_n=1, smooth_n=3, lag_n=5)
    centres = core.kmeans(vectors, k=2, max_iterations=100)
    assert centres.shape == (2, 6)
    model: core.Model = core.train(history)
    score: float = model.score(vectors[-1])
    blob: bytes = model.to_bytes()
    assert core.Model.from_bytes(blob) == model
    bank = core.Bank(diff_n=1, smooth_n=3, lag_n=5, threshold=0.99)
    slots = [bank.add_slot() for _ in range(3)]
    report = bank.train(slots, np.vstack([history, history, history]), min_samples=300, threads=2)
    status: list[str] = report.status
    assert status == ["trained"] * 3
    tick: npt.NDArray[np.float64] = np.zeros(bank.size)
    plain: npt.NDArray[np.uint32] = bank.tick(tick)
    words2, bits, scores = bank.tick(tick, reset=False, want_bits=True, want_scores=True)
    assert plain.shape == words2.shape == bits.shape == scores.shape
    bank.set_model(slots[0], model)
    restored: core.Model | None = bank.model(slots[0])
    assert restored == model
    return score


if __name__ == "__main__":
    print(sorted(embed()), primitives())
