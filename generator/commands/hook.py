"""gongshi hook: rebuild (and deploy) the site on every commit to its git repository."""
from __future__ import annotations

from pathlib import Path

HELP = "install or remove the git post-commit hook that rebuilds the site (and runs `deploy:`) after every commit"


def add_arguments(parser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    install = actions.add_parser("install", help="add the post-commit hook to the git repository holding ROOT",
                                 description="Add a post-commit hook to the git repository holding ROOT (core.hooksPath is respected). "
                                             "After every commit it builds the site and, if the build succeeded, runs `deploy:` from "
                                             "site_config.yaml. Running it again changes nothing.")
    install.add_argument("--root", type=Path, default=Path("."), help="the site root holding site_config.yaml (default: .)")
    install.add_argument("--force", action="store_true", help="keep an existing hook not written by gongshi as post-commit.orig; it still runs first")
    install.add_argument("--background", action="store_true", help="let `git commit` return at once and build in the background (the result is in the log only)")
    uninstall = actions.add_parser("uninstall", help="stop rebuilding ROOT on commit (restores a hook kept as post-commit.orig)")
    uninstall.add_argument("--root", type=Path, default=Path("."), help="the site root holding site_config.yaml (default: .)")
    run = actions.add_parser("run", help="what the hook runs: build ROOT, then deploy it if the build succeeded (logs to ROOT/.gongshi-cache/hook.log)")
    run.add_argument("--root", type=Path, default=Path("."), help="the site root holding site_config.yaml (default: .)")
    run.add_argument("--background", action="store_true", help="do it in a detached process and return at once")


def run(args, t) -> int:
    from .. import hook

    if args.action == "run":
        return hook.run(args.root, t, background=args.background)
    if args.action == "install":
        messages = hook.install(args.root, t, force=args.force, background=args.background)
    else:
        messages = hook.uninstall(args.root, t)
    for message in messages:
        print(message)
    return 0
