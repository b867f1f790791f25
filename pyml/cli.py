"""The ``pyml`` command line."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np

from . import __version__, core


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
        cfg = MLConfig() if args.config is None else MLConfig.from_netdata_conf(Path(args.config))
    except OSError as exc:
        print(f"pyml config: cannot read {args.config}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        logger.removeHandler(handler)
    sys.stdout.write(cfg.to_netdata_conf())
    return 0


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
        "config", help="print the effective [ml] configuration (every key, as netdata.conf lines)"
    )
    config.add_argument("--config", metavar="FILE", help="read the [ml] section of this netdata.conf")
    config.set_defaults(func=_cmd_config)
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
