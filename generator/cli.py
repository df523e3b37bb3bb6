"""The `gongshi` command: parses arguments and prints every error in one place.

Each verb lives in `generator/commands/<verb>.py` with `add_arguments(parser)` and
`run(args, t) -> int`. Errors of the GongshiError family are printed without a traceback
(with `--debug`, the traceback too) and give exit code 1; bad arguments give 2.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from . import __version__
from .commands import build as build_cmd
from .commands import check as check_cmd
from .commands import serve as serve_cmd
from .commands import search as search_cmd
from .commands import hook as hook_cmd
from .errors import failure_lines
from .i18n import Translator, cli_language

COMMANDS = {"build": build_cmd, "serve": serve_cmd, "check": check_cmd, "search": search_cmd, "hook": hook_cmd}


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date in the form YYYY-MM-DD") from None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gongshi", description="Build a village transparency portal (公示) from YAML.")
    top.add_argument("--version", action="version", version=f"gongshi {__version__}")
    verbs = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        sub = verbs.add_parser(name, help=module.HELP, description=module.HELP)
        sub.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
        module.add_arguments(sub)
    return top


def add_site_arguments(sub: argparse.ArgumentParser) -> None:
    """Options shared by the verbs that build: where the site is, where it goes, which day it is."""
    sub.add_argument("--root", type=Path, default=Path("."), help="the site root holding site_config.yaml and content/ (default: .)")
    sub.add_argument("--out", type=Path, default=None, help="output folder (default: ROOT/build)")
    sub.add_argument("--today", type=iso_date, default=None, help="build as of this date, YYYY-MM-DD (default: today); decides embargoes and posting status")


_leave_at_once = False  # set by a command whose process need not be torn down (see `console`)


def main(argv: list[str] | None = None) -> int:
    global _leave_at_once
    args = parser().parse_args(argv)
    t = Translator(cli_language())
    command = COMMANDS[args.command]
    _leave_at_once = getattr(command, "LEAVE_AT_ONCE", False)
    try:
        return command.run(args, t)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        for line in failure_lines(exc, t, debug=args.debug):
            print(line, file=sys.stderr)
        return 1


_STOPPING_SIGNALS = ("SIGTERM", "SIGHUP")  # a CI job cancelled, a service stopped, a terminal closed


def stop_like_ctrl_c() -> None:
    """SIGTERM and SIGHUP end the program as Ctrl+C does, not on the spot: a build under
    way removes its temporary folder and leaves the published site as it was, and the exit
    status is 128 + the signal's number, as a shell reports. A signal the program was started
    with ignored (nohup) stays ignored. Processes forked from here get the default back (a
    worker pool stops its workers with SIGTERM)."""
    import signal

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    handled = []
    for name in _STOPPING_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is None or signal.getsignal(signum) is not signal.SIG_DFL:
            continue  # ignored on purpose (`nohup gongshi build &`: a closed terminal must not stop it)
        try:
            signal.signal(signum, stop)
        except (ValueError, OSError):  # not the main thread
            continue
        handled.append(signum)
    if handled and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: [signal.signal(signum, signal.SIG_DFL) for signum in handled])


def console() -> None:
    """The `gongshi` program: `main()`, then exit. After a build everything is written,
    closed and flushed, and freeing a large site's model object by object took longer than
    a one-notice rebuild's rendering (0.6 s at 10,000 notices): such a command leaves at
    once. Calling `main()` from Python never does that."""
    stop_like_ctrl_c()
    code = main()
    # Not under a profiler or a tracer (coverage): they write their results at exit.
    if _leave_at_once and sys.getprofile() is None and sys.gettrace() is None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
