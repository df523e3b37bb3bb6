"""generator/speed.py: the garbage collector's pauses and freezes around large loads."""
from __future__ import annotations

import gc

from generator.speed import frozen_heap, gc_paused


def test_what_is_loaded_to_be_kept_is_frozen_inside_the_frozen_heap_only():
    """`gc_paused(keep=True)` leaves what was loaded out of garbage collection when the build
    froze its heap (the parse cache, the search index's state: they live until it ends), and
    only then; the collector runs again after each pause."""
    assert gc.isenabled()
    start = gc.get_freeze_count()
    with gc_paused(keep=True):
        assert not gc.isenabled()
        outside = [[number] for number in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == start
    with frozen_heap():
        frozen = gc.get_freeze_count()
        with gc_paused():
            loose = [[number] for number in range(1000)]
        assert gc.get_freeze_count() == frozen
        with gc_paused(keep=True):
            kept = [[number] for number in range(1000)]
        assert gc.get_freeze_count() >= frozen + len(kept) + len(loose)
    assert gc.get_freeze_count() == start and gc.isenabled()
    with gc_paused(keep=True):  # out of the block again: nothing frozen
        after = [[number] for number in range(1000)]
    assert gc.get_freeze_count() == start
    assert len(outside) == len(after) == 1000


def test_a_build_pauses_the_collector_where_it_makes_only_what_lives_on(tmp_path, monkeypatch):
    """The model, the gate's rules, the page keys and the rendering's lists of files make
    tens of thousands of objects at 10,000 notices that all live on: the build pauses the
    collector there (its passes would free nothing) and only there."""
    import datetime as dt

    import generator.build as build_module
    from conftest import make_site
    from generator.output import Output
    from generator.site import Site

    seen: dict[str, list[bool]] = {}

    def watch(owner, name, label):
        original = getattr(owner, name)

        def watched(*args, **kwargs):
            seen.setdefault(label, []).append(gc.isenabled())
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, watched)

    watch(Site, "from_content", "model")
    watch(build_module, "Rules", "rules")
    watch(build_module, "assign_keys", "keys")
    watch(Output, "reuse_many", "files reused")
    watch(Output, "write_groups", "pages written")
    root = make_site(tmp_path)
    build_module.build(root, tmp_path / "out", dt.date(2026, 11, 22))
    reused = seen.pop("files reused")
    assert reused[:2] == [False, False]  # render_pages': the pages, the files made from them (features' own come after)
    assert seen == {"model": [False], "rules": [False], "keys": [False], "pages written": [True]}
    assert gc.isenabled()


def test_content_files_are_parsed_with_the_collector_paused(tmp_path, monkeypatch):
    """A cold load makes every record: they all live on (`load_content`)."""
    import generator.content as content_module
    from conftest import make_site

    seen: list[bool] = []
    original = content_module.read_notice

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(content_module, "read_notice", watched)
    content_module.load_content(make_site(tmp_path), tmp_path / "cache")
    assert seen and not any(seen)
    assert gc.isenabled()
