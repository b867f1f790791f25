"""Profiles as the lab uses them: a profile name and training sizes in, an :class:`~pyml.MLConfig` out.

Every comparison of the evaluation protocol runs profiles side by side on the
same data with the same training sizes, so the lab needs exactly one thing from
a profile: its configuration with the training windows set to sizes the lab
chooses. :func:`profile_config` is that one function; nothing else in the lab
builds a profile's configuration.

Training sizes (:class:`TrainingSizing`) are in points (ticks): the least
history a dimension needs before its first training, the most history one
training uses, and the ticks between two trainings of a dimension. Two sizing
conventions exist for NAB (:func:`nab_sizing`):

- ``"nab"``: sizes derived from the file's length, as the lab has always done
  and NAB's rules allow (the detector may know the probationary period):
  ``min`` = NAB's probationary period (``floor(0.15 n)``, at most 750
  points), ``max`` = 4 x ``min``, ``every`` = ``min``;
- ``"strict"``: streaming as a live agent would, nothing derived from a
  file's length, minimum or maximum: :data:`STRICT_NAB_SIZING`, fixed once
  for the corpus' cadence (48 of NAB's 58 series are sampled every 5 minutes):
  ``min`` = 576 points (two days at 5 minutes, the shortest span that shows a
  daily cycle twice), ``max`` = 2304 (8 days: Netdata's 4:1 ratio of maximum
  to minimum), ``every`` = 576 (Netdata's ``train every`` = minimum).

Either way the minimum is raised to what two feature vectors need, when a
profile's features need more.

How a name becomes a configuration:

- ``MLConfig(profile=name, clamp=False, ...)`` with the sizes written into the
  keys the profile uses (points keys ``min_train_samples``/
  ``max_train_samples``/``train_every``, or duration keys
  ``min_training_window``/``training_window``/``train_every`` in seconds),
  checked against the profile's own ``training_points(update_every)`` and
  ``train_every_ticks(update_every)``, so a profile whose keys the lab does
  not know fails loudly instead of training on other sizes;
- without a ``profile`` field (older pyml), ``"netdata-1.33"`` is the engine
  with Netdata's defaults (unclamped), and only it is available;
- a lab formulation other than ``reference`` (``"peaks"``,
  :mod:`pyml.lab.formulations`) is ``netdata-1.33`` with the formulation's
  settings: a candidate compared like a profile until it becomes one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .._arrays import as_count
from ..config import MLConfig
from .formulations import DEFAULT_FORMULATION, FORMULATIONS, formulation_settings
from .scoring import DEFAULT_PROBATIONARY_PERCENT, probationary_length

__all__ = [
    "CONVENTIONS",
    "NAB_TRAIN_FACTOR",
    "PROFILES",
    "REFERENCE_PROFILE",
    "STRICT_NAB_SIZING",
    "TrainingSizing",
    "available_profiles",
    "check_profile",
    "describe_convention",
    "nab_sizing",
    "profile_config",
    "profiles_in_config",
    "training_points",
]

#: The product's profiles (DESIGN §9).
PROFILES = ("netdata-1.33", "netdata-2", "pyml")
#: The profile today's engine is.
REFERENCE_PROFILE = "netdata-1.33"
#: The NAB sizing conventions: sizes derived from the file's length, or fixed.
CONVENTIONS = ("nab", "strict")
#: ``"nab"`` convention: maximum = this many times the minimum (Netdata's 14400 / 3600).
NAB_TRAIN_FACTOR = 4


@dataclass(frozen=True)
class TrainingSizing:
    """Training windows in points (ticks).

    ``min_points``: history a dimension needs before it trains; ``max_points``:
    the most history one training uses; ``train_every``: ticks between two
    trainings of a dimension.
    """

    min_points: int
    max_points: int
    train_every: int

    def __post_init__(self) -> None:
        for name in ("min_points", "max_points", "train_every"):
            object.__setattr__(self, name, as_count(name, getattr(self, name), 1, "a positive number of points"))
        if self.max_points < self.min_points:
            raise ValueError(f"max_points ({self.max_points}) is below min_points ({self.min_points})")

    def describe(self) -> str:
        """``min 576 / max 2304 / every 576 points``."""
        return f"min {self.min_points} / max {self.max_points} / every {self.train_every} points"


#: ``"strict"`` convention on NAB: fixed for the corpus' 5-minute cadence (see the module's text).
STRICT_NAB_SIZING = TrainingSizing(min_points=576, max_points=2304, train_every=576)


def nab_sizing(convention: str, n_points: int,
               probationary_percent: float = DEFAULT_PROBATIONARY_PERCENT) -> TrainingSizing:
    """Training sizes of a NAB file of ``n_points`` points under ``convention`` (``"nab"`` or ``"strict"``).

    ``"strict"`` ignores ``n_points``: it is :data:`STRICT_NAB_SIZING` for
    every file.
    """
    if convention == "strict":
        return STRICT_NAB_SIZING
    if convention != "nab":
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    n = as_count("n_points", n_points, 1, "a positive integer")
    minimum = max(1, probationary_length(n, probationary_percent))
    return TrainingSizing(minimum, NAB_TRAIN_FACTOR * minimum, minimum)


def describe_convention(convention: str) -> str:
    """One line saying how ``convention`` sizes training (tables print it)."""
    if convention == "nab":
        return (f"NAB convention: training sized per file from its length (min = NAB probationary period, "
                f"floor(0.15 n) <= 750 points; max = {NAB_TRAIN_FACTOR} x min; every = min)")
    if convention == "strict":
        return (f"strict streaming: nothing derived from a file's length; fixed {STRICT_NAB_SIZING.describe()} "
                "for NAB's 5-minute cadence")
    raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")


def profiles_in_config() -> bool:
    """Whether this :class:`~pyml.MLConfig` knows profiles (has a ``profile`` field)."""
    return any(f.name == "profile" for f in dataclasses.fields(MLConfig))


def available_profiles() -> list[str]:
    """Names :func:`profile_config` accepts here: the product's profiles it can build, then lab formulations."""
    product = list(PROFILES) if profiles_in_config() else [REFERENCE_PROFILE]
    return product + sorted(name for name in FORMULATIONS if name != DEFAULT_FORMULATION)


def check_profile(name: object) -> str:
    """``name`` when :func:`profile_config` can build it; else ``ValueError`` naming it and what is available."""
    if isinstance(name, str) and name in available_profiles():
        return name
    known = ", ".join(available_profiles())
    if isinstance(name, str) and name in PROFILES:
        raise ValueError(f"profile {name!r} is not available in this pyml (its MLConfig has no profile field "
                         f"yet); available: {known}")
    raise ValueError(f"unknown profile {name!r}; available: {known}")


def _smallest_history(cfg: MLConfig) -> int:
    """Points two feature vectors need with ``cfg``'s features."""
    return int(cfg.diff_n) + max(int(cfg.smooth_n), 1) - 1 + int(cfg.lag_n) + 2


def training_points(cfg: MLConfig, update_every: int = 1) -> tuple[int, int]:
    """``(min, max)`` history points per training of ``cfg`` at ``update_every`` seconds per tick."""
    derived = getattr(cfg, "training_points", None)
    if callable(derived):
        low, high = derived(update_every)
        return int(low), int(high)
    return int(cfg.min_train_samples), int(cfg.max_train_samples)


def _train_every_ticks(cfg: MLConfig, update_every: int) -> int:
    derived = getattr(cfg, "train_every_ticks", None)
    return int(derived(update_every)) if callable(derived) else int(cfg.train_every)


def _with_sizing(profile: str, cfg: MLConfig, sizing: TrainingSizing, update_every: int) -> MLConfig:
    """``cfg`` with its training windows set to ``sizing``, in the keys its profile uses; checked."""
    minimum = max(sizing.min_points, _smallest_history(cfg))
    maximum = max(sizing.max_points, minimum)
    if getattr(cfg, "min_train_samples", None) is not None:
        cfg = dataclasses.replace(cfg, min_train_samples=minimum, max_train_samples=maximum,
                                  train_every=sizing.train_every)
    elif getattr(cfg, "training_window", None) is not None:
        cfg = dataclasses.replace(cfg, min_training_window=minimum * update_every,
                                  training_window=maximum * update_every,
                                  train_every=sizing.train_every * update_every)
    got = (training_points(cfg, update_every), _train_every_ticks(cfg, update_every))
    if got != ((minimum, maximum), sizing.train_every):
        raise ValueError(f"profile {profile!r}: the lab asked for training on {minimum}..{maximum} points every "
                         f"{sizing.train_every} ticks, its configuration gives {got[0][0]}..{got[0][1]} every "
                         f"{got[1]}; pyml.lab.profiles must learn this profile's training keys")
    return cfg


def profile_config(profile: str, sizing: TrainingSizing, update_every: int = 1, **overrides: Any) -> MLConfig:
    """The configuration of ``profile`` with training sized by ``sizing``, unclamped.

    ``profile`` is a name of :func:`available_profiles`; ``sizing`` the
    training windows in points at ``update_every`` seconds per tick;
    ``overrides`` further :class:`~pyml.MLConfig` fields, applied before the
    sizing. The result is unclamped (``clamp=False``): the lab's sizes lie
    outside Netdata's ranges. Raises ``ValueError`` naming an unknown or
    unavailable profile.
    """
    check_profile(profile)
    if not isinstance(sizing, TrainingSizing):
        raise TypeError(f"sizing must be a TrainingSizing, got {type(sizing).__name__}: {sizing!r}")
    update_every = as_count("update_every", update_every, 1, "a positive integer")
    formulation = profile if profile in FORMULATIONS else None
    base = REFERENCE_PROFILE if formulation is not None else profile
    settings: dict[str, Any] = {}
    if formulation is not None:
        # the formulation sizes itself on the training minimum (e.g. the peak window)
        settings.update(formulation_settings(formulation, sizing.min_points))
    settings.update(overrides)
    settings.setdefault("clamp", False)
    if profiles_in_config():
        cfg = MLConfig(profile=base, **settings)  # type: ignore[call-arg]
    else:
        cfg = MLConfig(**settings)
    return _with_sizing(profile, cfg, sizing, update_every)
