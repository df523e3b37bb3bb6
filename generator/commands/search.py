"""gongshi search: query the site's whoosh index from the command line.

The index lives in the build cache (ROOT/.gongshi-cache/search/whoosh/) and is brought up
to date first: only documents whose content hash changed are re-indexed. Results are the
published villages and notices as of --today, ranked exactly as the site's search page
ranks them.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HELP = "search the published villages and notices (the same results, in the same order, as the site's search page)"


def add_arguments(parser) -> None:
    from ..cli import iso_date

    parser.add_argument("query", help="words to find, e.g. 饮水 or 危房改造")
    parser.add_argument("--root", type=Path, default=Path("."), help="the site root (default: .)")
    parser.add_argument("--today", type=iso_date, default=None, help="search the site as published on this date, YYYY-MM-DD (default: today)")
    parser.add_argument("--kind", default=None, help="only this kind: village, fund, project, beneficiaries, plan or general")
    parser.add_argument("--village", default=None, help="only this village (its id or name) and its notices")
    parser.add_argument("--township", default=None, help="only this township (its name or the slug in its address)")
    parser.add_argument("--year", default=None, help="only notices posted in this year")
    parser.add_argument("--limit", type=int, default=20, help="show at most this many results (default: 20; 0: all)")
    parser.add_argument("--json", action="store_true", help="print every result as JSON (key, url, title, score)")


def run(args, t) -> int:
    import datetime as dt

    from ..content import load_content
    from ..errors import GongshiError
    from ..i18n import Translator
    from ..media_stage import cache_dir
    from ..search import VILLAGE_KIND, documents
    from ..search_whoosh import search, update
    from ..site import Site
    from ..config import NOTICE_KINDS

    root = args.root.resolve()
    content = load_content(root)
    site = Site.from_content(content, args.today or dt.date.today())
    docs = documents(site, Translator(content.config.language))
    village, township = args.village, args.township
    if village is not None:
        matches = [v.id for v in site.villages.values() if village in (v.id, v.village.name)]
        if not matches:
            raise GongshiError(t("search.cli_bad_filter", what="village", value=village))
        village = matches[0]
    if township is not None:
        matches = [tw.slug for tw in site.townships if township in (tw.slug, tw.name)]
        if not matches:
            raise GongshiError(t("search.cli_bad_filter", what="township", value=township))
        township = matches[0]
    if args.kind is not None and args.kind not in (VILLAGE_KIND, *NOTICE_KINDS):
        raise GongshiError(t("search.cli_bad_filter", what="kind", value=args.kind))
    folder = cache_dir(root) / "search" / "whoosh"
    update(folder, docs, on_change=lambda changed, total: print(t("search.cli_indexing", changed=changed, total=total), file=sys.stderr))
    results = search(folder, docs, args.query, kind=args.kind, village=village, township=township, year=args.year)
    if args.json:
        print(json.dumps([{"key": d.key, "url": d.url, "title": d.title, "score": score} for d, score in results], ensure_ascii=False, indent=1))
        return 0
    print(t("search.cli_results", query=args.query, count=len(results)) if results else t("search.cli_none", query=args.query))
    shown = results if args.limit == 0 else results[:args.limit]
    for rank, (doc, score) in enumerate(shown, 1):
        details = " · ".join(x for x in (doc.village_name, doc.date) if x)
        print(f"{rank:3d}. {doc.title}  [{details}]  {doc.url}  ({score:.3f})")
    return 0
