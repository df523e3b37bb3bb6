"""gongshi check: scan a built site for personal data (the same gate every build runs)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import GongshiError

HELP = "scan a built site for ID, bank card and private phone numbers, unmasked names and photo metadata"


def add_arguments(parser) -> None:
    parser.add_argument("site_dir", nargs="?", type=Path, default=None, help="the built site (default: ROOT/build)")
    parser.add_argument("--root", type=Path, default=Path("."), help="the site root; its content tells which names are private and which phones are public (default: .)")


def run(args, t) -> int:
    from ..content import load_content
    from ..leakcheck import scan_site
    from ..leakgate import allowed_numbers, private_names, public_names

    site_dir = args.site_dir or args.root / "build"
    allowed, names, public = frozenset(), set(), set()
    if (args.root / "site_config.yaml").is_file():
        content = load_content(args.root)
        allowed, names, public = allowed_numbers(content), private_names(content), public_names(content)
    if not site_dir.is_dir():
        raise GongshiError(f"{site_dir} is not a folder: build the site first, or name the built site's folder")
    files = sum(1 for p in site_dir.rglob("*") if p.is_file())
    leaks = scan_site(site_dir, allowed_numbers=allowed, private_names=names, public_names=public)
    if leaks:
        print(t("cli.leaks_found", count=len(leaks)), file=sys.stderr)
        for leak in leaks:
            print(leak, file=sys.stderr)
        return 1
    print(t("cli.no_leaks", files=files))
    return 0
