"""gongshi build: check all content and write the site."""
from __future__ import annotations

HELP = "check the content and build the site into a folder (the old site stays until the new one is complete)"
# Everything is written and closed when run() returns: the process leaves without tearing
# down the site model (cli.console).
LEAVE_AT_ONCE = True


def add_arguments(parser) -> None:
    from ..cli import add_site_arguments

    add_site_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run(args, t) -> int:
    import datetime as dt
    import importlib
    import sys
    from pathlib import Path

    from ..inputs import Digest, manifest_path, up_to_date
    from ..media_stage import cache_dir

    root = Path(args.root).resolve()
    out_dir = Path(args.out).resolve() if args.out else root / "build"
    today = args.today or dt.date.today()
    # The inputs are hashed in a child process while this one imports what a build needs,
    # a module at a time until the hash is there, then reads the parse cache a shard at a
    # time (0.2 s at 10,000 notices, half of it done by then): a site with nothing new
    # exits as soon as its inputs are hashed, one that changed has its modules by then.
    pending = Digest(root, out_dir, today)
    for module in WARM_UP:
        if pending.ready():
            break
        importlib.import_module(module, __package__)
    else:  # still hashing: the parse cache is read meanwhile, for the build that may follow
        from ..content import ParseCache, parse_cache_folder

        ParseCache.read_ahead(parse_cache_folder(cache_dir(root)), pending.ready)
    inputs = pending.result()
    if up_to_date(manifest_path(cache_dir(root), out_dir), out_dir, inputs):
        if not args.quiet:
            print(t("progress.up_to_date", out=str(out_dir)), file=sys.stderr, flush=True)
        return 0

    from ..build import build
    from ..progress import Progress

    # The command leaves next: the features' caches are saved after it has returned (buildlock.py).
    build(root, out_dir, today, Progress(t, enabled=not args.quiet), inputs=inputs, detach=True)
    return 0


# What every build imports (10-30 ms each), a step at a time; "..x" is this package's x.
WARM_UP = ("yaml", "jinja2", "markdown_it", "..content", "..render", "..build", "..leakcheck", "..funds",
           "..supervision", "..qrpages", "..search", "..search_export")
