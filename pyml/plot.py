"""PNG report of a demo run (matplotlib, imported lazily, Agg backend).

Three rows share the time axis, with the injected incidents shaded across
all of them:

- the host anomaly rate per tick (the fraction of modelled dimensions whose
  anomaly bit is set) and its 1-minute mean, with the detector's threshold
  (profiles that have one);
- the detector's anomaly events, in a lane of their own (they are intervals,
  not values: drawn on the rate axis they would read as a rate);
- a heat strip: per minute, the anomaly rate of each row of charts (the
  cores, the system charts, memory, each disk, each interface), as the
  host's ``anomaly-bit`` queries return it. Its colour scale is fixed, from 0
  to :data:`HEAT_FULL_SCALE` percent and saturated above: a few-second burst
  on one interface (a few percent of its minute) then stays visible beside a
  noise burst across the whole host (tens of percent), instead of the largest
  incident setting the scale for all.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .demo import DemoResult

__all__ = ["HEAT_FULL_SCALE", "import_pyplot", "plot_demo"]

#: The heat strip's darkest colour: this anomaly rate (%) of a row's points in a minute, or more.
HEAT_FULL_SCALE = 10.0

_INCIDENT_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def import_pyplot(missing: str) -> Any:
    """``matplotlib.pyplot`` on the Agg backend; ``ImportError(missing)`` when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(missing) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _pyplot() -> Any:
    return import_pyplot("the demo's PNG report needs matplotlib: pip install 'pyml-anomaly[demo]' "
                         "(or run pyml demo --no-plot)")


def plot_demo(result: "DemoResult", path: str | Path, dpi: int = 110) -> Path:
    """Draw ``result`` into a PNG at ``path`` and return the path (parent directories are created)."""
    plt = _pyplot()
    import matplotlib.dates as mdates

    out = Path(path)
    if out.suffix.lower() != ".png":
        raise ValueError(f"the report is a PNG; give a path ending in .png, got {str(path)!r}")
    out.parent.mkdir(parents=True, exist_ok=True)

    def when(t: Any) -> Any:
        return np.asarray(t, dtype="datetime64[s]").astype(object) if np.ndim(t) else \
            _dt.datetime.fromtimestamp(int(t), _dt.timezone.utc).replace(tzinfo=None)

    gen = result.generated
    times = when(result.times)
    rows = len(result.group_rates)
    heights = (3.2, 0.3) + ((0.14 * rows + 0.2,) if rows else ())
    fig, axes = plt.subplots(len(heights), 1, figsize=(13, 1.5 * sum(heights) + 0.8), sharex=True,
                             layout="constrained", gridspec_kw={"height_ratios": heights}, squeeze=False)
    ax, lane = axes[0, 0], axes[1, 0]
    rate = 100.0 * result.host_rate
    ax.plot(times, rate, color="#9a9a9a", linewidth=0.5, label="host anomaly rate (per tick)")
    window = min(60, max(1, rate.size))
    smooth = np.convolve(rate, np.ones(window) / window, mode="same")
    ax.plot(times, smooth, color="#222222", linewidth=1.0, label="host anomaly rate (1-minute mean)")
    peak = float(np.nanmax(rate)) if rate.size else 0.0
    # A short burst must not flatten the rest: the scale follows the bulk, higher peaks are annotated.
    top = max(3.0, min(peak * 1.3, 3.0 * float(np.percentile(rate, 99.5)) if rate.size else 0.0))
    ax.set_ylim(0, top)
    if peak > top:
        k = int(np.nanargmax(rate))
        ax.annotate(f"peak {peak:.0f}%", (times[k], top * 0.62), xytext=(-4, 0), textcoords="offset points",
                    fontsize=8, va="center", ha="right", color="#333333")
    threshold = result.config.host_rate_threshold_fraction
    if threshold is not None:  # the pyml profile's events have no host-rate threshold
        ax.axhline(100.0 * threshold, color="#999999", linewidth=0.8, linestyle=":",
                   label="host anomaly rate threshold")
    if result.first_trained is not None:
        ax.axvline(times[result.first_trained], color="#2a9d8f", linewidth=1.0, linestyle="--",
                   label="first models trained")
    for j, o in enumerate(result.outcomes):
        a, b = o.incident.times(gen.t0)
        colour = _INCIDENT_COLOURS[j % len(_INCIDENT_COLOURS)]
        for axis in axes[:, 0]:
            axis.axvspan(when(a), when(b), color=colour, alpha=0.22, linewidth=0)
        mark = "caught" if o.caught else ("bits only" if o.flagged else "missed")
        right = a > gen.t0 + 0.85 * gen.ticks
        ax.text(when(b if right else a), top * (0.97 - 0.08 * (j % 2)), f" {o.incident.kind} ({mark}) ",
                fontsize=8, color=colour, va="top", ha="right" if right else "left", fontweight="bold")
    for ev in result.events:
        # At least a pixel or two wide: a 30-second event is 1/720 of a 6-hour axis.
        lane.axvspan(when(ev.after), when(max(ev.before, ev.after + gen.ticks // 400)), ymin=0.15, ymax=0.85,
                     color="#c0392b", linewidth=0)
    lane.set_yticks([])
    lane.set_ylim(0, 1)
    lane.set_ylabel(f"{len(result.events)} events", rotation=0, ha="right", va="center", fontsize=8)
    ax.set_ylabel("anomalous dimensions (%)")
    ax.set_title(f"pyml demo: {len(gen.dimension_ids)} dimensions over {gen.ticks / 3600:g} h; "
                 f"{len(result.events)} anomaly events, {result.caught} of {len(result.outcomes)} injected "
                 f"incidents caught by an event (shaded); profile {result.config.profile}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.grid(axis="y", alpha=0.3)

    if result.group_rates:
        hx = axes[2, 0]
        names = list(result.group_rates)
        stamps = next(iter(result.group_rates.values()))[0]
        grid = np.vstack([result.group_rates[g][1] for g in names])
        edges = np.concatenate([stamps - 60, stamps[-1:]]).astype(np.int64)
        image = hx.pcolormesh(when(edges), np.arange(len(names) + 1), grid, cmap="Reds", vmin=0,
                              vmax=HEAT_FULL_SCALE, shading="flat")
        hx.set_yticks(np.arange(len(names)) + 0.5)
        hx.set_yticklabels(names, fontsize=8)
        hx.invert_yaxis()
        hx.set_ylabel("per minute", fontsize=8)
        bar = fig.colorbar(image, ax=hx, pad=0.01, fraction=0.03, extend="max")
        bar.set_label("anomalous points (%)", fontsize=8)
    last = axes[-1, 0]
    last.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    last.set_xlabel("time (UTC)")
    last.set_xlim(times[0], times[-1])
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
