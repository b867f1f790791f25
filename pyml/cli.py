"""The ``pyml`` command line."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np

from . import __version__, core
from .lab.formulations import DEFAULT_FORMULATION, FORMULATIONS
from .profiles import DEFAULT_PROFILE, PROFILES


def _word_table(values: np.ndarray, words: np.ndarray) -> str:
    decoded, anomalous, exists = core.unpack(words)
    lines = [f"{'value':>24}  {'word':>10}  {'unpacked':>24}  anomalous  reset  exists"]
    for value, word, back, anom, ex in zip(values, words, decoded, anomalous, exists):
        reset = bool(int(word) & core.RESET_FLAG)
        lines.append(
            f"{float(value)!r:>24}  0x{int(word):08X}  {float(back)!r:>24}  {str(bool(anom)):>9}  {str(reset):>5}  {str(bool(ex)):>6}"
        )
    return "\n".join(lines)


def _cmd_word(args: argparse.Namespace) -> int:
    values = np.array([float(v) for v in args.values], dtype=np.float64)
    words = core.pack(values, anomalous=args.anomalous, reset=args.reset)
    print(_word_table(values, np.atleast_1d(words)))
    return 0


def _cmd_unpack(args: argparse.Namespace) -> int:
    try:
        words = np.array([int(w, 0) for w in args.words], dtype=np.int64)
    except ValueError as exc:
        print(f"pyml unpack: {exc}", file=sys.stderr)
        return 2
    values, anomalous, exists = core.unpack(words)
    for word, value, anom, ex in zip(words, values, anomalous, exists):
        print(f"0x{int(word):08X}  {float(value)!r:>24}  anomalous={bool(anom)}  exists={bool(ex)}")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from .config import MLConfig

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pyml config: warning: %(message)s"))
    logger = logging.getLogger("pyml.config")
    logger.addHandler(handler)
    try:
        if args.config is None:
            cfg = MLConfig() if args.profile is None else MLConfig(profile=args.profile)
        else:
            cfg = MLConfig.from_netdata_conf(Path(args.config), profile=args.profile)
    except OSError as exc:
        print(f"pyml config: cannot read {args.config}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        logger.removeHandler(handler)
    sys.stdout.write(cfg.to_netdata_conf())
    return 0


def _cmd_agent(args: argparse.Namespace) -> int:
    import logging

    from .agent import run_agent

    if args.update_every < 1:
        raise ValueError(f"--update-every must be a positive number of seconds, got {args.update_every}")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in [0, 65535], got {args.port}")
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s pyml agent: %(levelname)s: %(message)s")
    if args.no_local and not args.netdata:
        raise ValueError("--no-local needs at least one --netdata URL")
    from .sources._http import split_base_url

    for url in args.netdata or ():
        split_base_url(url)  # a bad URL is refused here (status 2), naming it
    if args.training_threads is not None and args.training_threads < 1:
        raise ValueError(f"--training-threads must be at least 1, got {args.training_threads}")
    return run_agent(args.data_dir, args.config, update_every=args.update_every, bind=args.bind, port=args.port,
                     hostname=args.hostname, netdata=args.netdata or (), local=not args.no_local,
                     training_threads=args.training_threads, allow_hosts=args.allow_host or (),
                     event_loop=args.event_loop)


def _cmd_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import demo

    if not args.no_plot:
        try:
            import matplotlib  # noqa: F401  (checked before a replay that would be wasted)
        except ImportError:
            print("pyml demo: the PNG report needs matplotlib: pip install 'pyml-anomaly[demo]' "
                  "(or run with --no-plot)", file=sys.stderr)
            return 2
        if Path(args.out).suffix.lower() != ".png":
            print(f"pyml demo: --out must end in .png, got {args.out!r}", file=sys.stderr)
            return 2
    result = demo.run_demo(args.dims, args.hours, args.seed, progress=True, minute_rates=not args.no_plot,
                           profile=args.profile)
    print(demo.format_report(result))
    if not args.no_plot:
        from .plot import plot_demo

        path = plot_demo(result, args.out)
        print(f"report: {path.resolve()}")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from .lab.replay import run_command

    if args.jobs < 1:
        print(f"pyml replay: --jobs must be at least 1, got {args.jobs}", file=sys.stderr)
        return 2
    try:
        return run_command(args.files, config_path=args.config, unclamped=args.unclamped, out_dir=args.out,
                           labels=args.labels, detector=args.detector, jobs=args.jobs,
                           progress=False if args.quiet else None, formulation=args.formulation,
                           profile=args.profile)
    except (OSError, ValueError) as exc:
        print(f"pyml replay: {exc}", file=sys.stderr)
        return 2


def _cmd_lab_sweep(args: argparse.Namespace) -> int:
    from .lab.sweep import run_command

    try:
        return run_command(args.files, labels=args.labels, grid_items=args.grid or (), grid_file=args.grid_file,
                           jobs=args.jobs, scheduler=args.scheduler, out_dir=args.out, plots=args.plots,
                           progress=False if args.quiet else None, formulation=args.formulation,
                           half=args.half)
    except (OSError, ImportError, ValueError, TypeError, RuntimeError) as exc:  # RuntimeError: a task failed
        print(f"pyml lab sweep: {exc}", file=sys.stderr)
        return 2


def _cmd_lab_nab(args: argparse.Namespace) -> int:
    from .lab.figures import run_command

    try:
        return run_command(args.nab_dir, profiles=_names(args.profiles), half=args.half,
                           conventions=_names(args.convention), labels=args.labels, jobs=args.jobs,
                           out_dir=args.out, progress=False if args.quiet else None)
    except (OSError, ValueError, TypeError, RuntimeError) as exc:  # RuntimeError: a replay failed
        print(f"pyml lab nab: {exc}", file=sys.stderr)
        return 2


def _cmd_lab_hostcase(args: argparse.Namespace) -> int:
    from .lab.hostcase.command import run_hostcase

    try:
        return run_hostcase(args.case_dir, profile=args.profile, config_path=args.config, out_dir=args.out,
                            progress=False if args.quiet else None)
    except (OSError, ValueError, TypeError) as exc:
        print(f"pyml lab hostcase: {exc}", file=sys.stderr)
        return 2


def _cmd_lab_hostcase_import(args: argparse.Namespace) -> int:
    from .lab.hostcase.command import run_import

    try:
        return run_import(args.record_dir, args.out_dir, name=args.name, schedule=args.schedule,
                          quiet_seconds=args.quiet_seconds, notes=args.note or [])
    except (OSError, ValueError, TypeError, KeyError) as exc:
        print(f"pyml lab hostcase-import: {exc}", file=sys.stderr)
        return 2


def _names(text: str) -> list[str]:
    """A comma-separated list of names (empty items dropped)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pyml`` command."""
    parser = argparse.ArgumentParser(prog="pyml", description="Netdata-style ML anomaly detection.")
    parser.add_argument("--version", action="version", version=f"pyml {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    word = commands.add_parser("word", help="pack values into 32-bit storage words and show them")
    word.add_argument("values", nargs="+", help="sample values (nan, inf accepted)")
    word.add_argument("--anomalous", action="store_true", help="mark the samples anomalous")
    word.add_argument("--reset", action="store_true", help="set the counter-reset flag")
    word.set_defaults(func=_cmd_word)

    unpack = commands.add_parser("unpack", help="decode 32-bit storage words (0x… or decimal)")
    unpack.add_argument("words", nargs="+")
    unpack.set_defaults(func=_cmd_unpack)

    config = commands.add_parser(
        "config", help="print the effective [ml] configuration (the profile and its every key, as netdata.conf lines)"
    )
    config.add_argument("--config", metavar="FILE", help="read the [ml] section of this netdata.conf")
    config.add_argument("--profile", choices=list(PROFILES),
                        help="the profile (default: the file's 'profile' line, else %s); "
                             "given, it wins over the file's" % DEFAULT_PROFILE)
    config.set_defaults(func=_cmd_config)

    replay = commands.add_parser(
        "replay", help="replay recorded data (NAB or wide CSV, /api/v1/data JSON) through the engine; score on NAB labels"
    )
    replay.add_argument("files", nargs="+", metavar="FILE", help="files, or directories of .csv/.json files")
    replay.add_argument("--config", metavar="NETDATA_CONF",
                        help="read [ml] from this netdata.conf (default: netdata's defaults with lab-sized training)")
    replay.add_argument("--unclamped", action="store_true",
                        help="keep --config values outside netdata's ranges (the default configuration is unclamped)")
    replay.add_argument("--out", metavar="DIR", default="pyml-replay", help="output directory (default: %(default)s)")
    replay.add_argument("--labels", metavar="WINDOWS_JSON", help="NAB's combined_windows.json: score the replay")
    replay.add_argument("--detector", default="pyml", help="detector name in NAB's results layout (default: %(default)s)")
    replay.add_argument("--jobs", type=int, default=1, help="replay files in this many processes (default: 1)")
    replay.add_argument("--formulation", choices=sorted(FORMULATIONS), default=DEFAULT_FORMULATION,
                        help="the lab's configuration of the engine when no --config is given "
                             "(default: %(default)s; see pyml.lab.formulations)")
    replay.add_argument("--profile", choices=list(PROFILES), default=None,
                        help="detection profile without --config (default: %s; netdata-1.33 with a --formulation)"
                             % DEFAULT_PROFILE)
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    replay.set_defaults(func=_cmd_replay)

    lab = commands.add_parser("lab", help="experiments on labelled data (see: pyml lab sweep --help)")
    lab_commands = lab.add_subparsers(dest="lab_command", required=True)
    sweep = lab_commands.add_parser(
        "sweep", help="replay files with every configuration of a grid and rank them by NAB score "
                      "(the lab's defaults: unclamped, training sized per file)")
    sweep.add_argument("files", nargs="+", metavar="FILE_OR_DIR", help="files, or directories of .csv/.json files")
    sweep.add_argument("--labels", metavar="WINDOWS_JSON", help="NAB's combined_windows.json (required)")
    sweep.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                       help="an MLConfig field and its values, e.g. diff_n=0,1 (repeatable)")
    sweep.add_argument("--grid-file", metavar="GRID_JSON", help='a JSON object {"field": [values, ...]}')
    sweep.add_argument("--jobs", type=int, help="processes of the local pool (default: the number of CPUs)")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on a Dask cluster (e.g. tcp://host:8786; needs the 'dask' extra)")
    sweep.add_argument("--out", metavar="DIR", default="pyml-sweep", help="output directory (default: %(default)s)")
    sweep.add_argument("--plots", choices=["best", "all", "none"], default="none",
                       help="PNG per file for the best configuration, every configuration, or none "
                            "(default: none; drawn after the table, about 0.2 s a plot)")
    sweep.add_argument("--formulation", choices=sorted(FORMULATIONS), default=DEFAULT_FORMULATION,
                       help="the formulation every grid point starts from (default: %(default)s); "
                            "a grid may also vary it: --grid formulation=reference,peaks")
    sweep.add_argument("--half", choices=["tuning", "all"], default="tuning",
                       help="NAB series of the fixed split to sweep: tuning (default: the held-out half is left "
                            "out, never tuned on) or all (to reproduce figures that predate the split)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_cmd_lab_sweep)

    nab = lab_commands.add_parser(
        "nab", help="the evaluation protocol's NAB figures: profiles side by side on a half of the fixed split, "
                    "reported score and stored bit, NAB and strict sizing (see the README's evaluation protocol)")
    nab.add_argument("nab_dir", metavar="NAB_DIR", help="NAB's directory (with data/ and labels/), or its data/")
    nab.add_argument("--profiles", default=",".join(PROFILES),
                     help="comma-separated profiles, shown side by side (default: %(default)s)")
    nab.add_argument("--half", choices=["tuning", "heldout", "all"], default="tuning",
                     help="files of the fixed split to replay and report (default: tuning; held-out figures "
                          "only when asked for by name: heldout, or all)")
    nab.add_argument("--convention", default="nab,strict",
                     help="training sizing: nab (sized from each file's length), strict (fixed, streaming) "
                          "or both (default: %(default)s)")
    nab.add_argument("--labels", metavar="WINDOWS_JSON", help="default: NAB_DIR/labels/combined_windows.json")
    nab.add_argument("--jobs", type=int, default=1, help="replay in this many processes (default: 1)")
    nab.add_argument("--out", metavar="DIR", default="pyml-nab", help="output directory (default: %(default)s)")
    nab.add_argument("--quiet", action="store_true", help="no progress bar")
    nab.set_defaults(func=_cmd_lab_nab)

    hostcase = lab_commands.add_parser(
        "hostcase", help="replay a recorded host case through a synchronous host and report incidents caught, "
                         "false events per hour, noisy dimensions and the scheduled job")
    hostcase.add_argument("case_dir", metavar="CASE_DIR", help="a host case (values.csv.gz + case.json)")
    hostcase.add_argument("--profile", default=DEFAULT_PROFILE, help="profile to replay with (default: %(default)s)")
    hostcase.add_argument("--config", metavar="NETDATA_CONF",
                          help="use this netdata.conf's [ml] as given instead of the profile with the host-case "
                               "training windows")
    hostcase.add_argument("--out", metavar="DIR", default="pyml-hostcase",
                          help="where the .txt and .json reports go (default: %(default)s)")
    hostcase.add_argument("--quiet", action="store_true", help="no progress bar")
    hostcase.set_defaults(func=_cmd_lab_hostcase)

    hostcase_import = lab_commands.add_parser(
        "hostcase-import", help="convert a recording made by hostcases/record_case.py into a host case")
    hostcase_import.add_argument("record_dir", metavar="RECORD_DIR", help="the recorder's output directory")
    hostcase_import.add_argument("out_dir", metavar="CASE_DIR", help="where to write the case")
    hostcase_import.add_argument("--schedule", metavar="SCHEDULE_JSON", help="the recorder's schedule (kept in case.json)")
    hostcase_import.add_argument("--name", help="the case's name (default: RECORD_DIR's name)")
    hostcase_import.add_argument("--quiet-seconds", type=int, default=1200,
                                 help="leading seconds with nothing induced (default: %(default)s)")
    hostcase_import.add_argument("--note", action="append", help="a line for the case's notes (repeatable)")
    hostcase_import.set_defaults(func=_cmd_lab_hostcase_import)

    demo = commands.add_parser(
        "demo", help="replay a generated host with injected incidents through the engine and report what it found"
    )
    demo.add_argument("--dims", type=int, default=300, help="about how many dimensions to generate (default 300)")
    demo.add_argument("--hours", type=float, default=6.0, help="hours of 1-second data to generate (default 6)")
    demo.add_argument("--seed", type=int, default=1, help="seed of the generator (default 1)")
    demo.add_argument("--out", default="demo.png", help="where to write the PNG report (default demo.png)")
    demo.add_argument("--no-plot", action="store_true", help="print the report only, write no PNG")
    demo.add_argument("--profile", choices=list(PROFILES), default=DEFAULT_PROFILE,
                      help="the detection profile (default: %(default)s)")
    demo.set_defaults(func=_cmd_demo)

    agent = commands.add_parser(
        "agent", help="collect this machine's metrics (and those of Netdata agents, --netdata) every second, "
                      "detect anomalies and serve the HTTP API"
    )
    agent.add_argument("--data-dir", metavar="DIR",
                       help="samples, models and events (default: $XDG_STATE_HOME/pyml or ~/.local/state/pyml)")
    agent.add_argument("--port", type=int, default=19998, help="HTTP port (default 19998; 0 picks a free one)")
    agent.add_argument("--bind", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    agent.add_argument("--allow-host", action="append", metavar="NAME",
                       help="a Host header name the API answers to besides the bind address's (repeatable; "
                            "'*' for any); requests naming another host get 403")
    agent.add_argument("--config", metavar="FILE", help="read the [ml] section of this netdata.conf "
                       "(default: ML on, Netdata's defaults)")
    agent.add_argument("--update-every", type=int, default=1, metavar="SECONDS", help="collection period (default 1)")
    agent.add_argument("--hostname", help="host name (default: this machine's)")
    agent.add_argument("--netdata", action="append", metavar="URL",
                       help="a Netdata agent to mirror and run ML for, e.g. http://10.0.0.5:19999 (repeatable); "
                            "each is a host named by its hostname, served at /host/<hostname>/api/v1/...")
    agent.add_argument("--no-local", action="store_true", help="do not collect this machine's own metrics")
    agent.add_argument("--training-threads", type=int, metavar="N",
                       help="threads of the training pool all hosts share (default: min(4, CPUs))")
    agent.add_argument("--event-loop", default="auto", choices=["auto", "asyncio", "uvloop"],
                       help="the event loop polling the --netdata sources (default auto: uvloop when installed, "
                            "with the fast extra; else asyncio)")
    agent.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    agent.set_defaults(func=_cmd_agent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pyml`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError) as exc:
        print(f"pyml {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
