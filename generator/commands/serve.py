"""gongshi serve: build, serve on 127.0.0.1, rebuild when content, config or themes change."""
from __future__ import annotations

HELP = "build the site, serve it on 127.0.0.1 and rebuild and reload the browser on every change"


def add_arguments(parser) -> None:
    from ..cli import add_site_arguments

    add_site_arguments(parser)
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000; 0 picks a free one and prints it)")


def run(args, t) -> int:
    from ..serve import serve

    return serve(args.root, args.out, args.today, args.port, t, debug=args.debug)
