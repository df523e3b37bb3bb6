"""gongshi build: check all content and write the site."""
from __future__ import annotations

HELP = "check the content and build the site into a folder (the old site stays until the new one is complete)"


def add_arguments(parser) -> None:
    from ..cli import add_site_arguments

    add_site_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run(args, t) -> int:
    from ..build import build
    from ..progress import Progress

    build(args.root, args.out, args.today, Progress(t, enabled=not args.quiet))
    return 0
