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

    seen: dict[str, list[bool]] = {}

    def watch(name):
        original = getattr(content_module, name)

        def watched(*args, **kwargs):
            seen.setdefault(name, []).append(gc.isenabled())
            return original(*args, **kwargs)

        monkeypatch.setattr(content_module, name, watched)

    watch("read_notice")
    watch("_team_numbers")  # (the villages' files, read for their phones before any record is made)
    content_module.load_content(make_site(tmp_path), tmp_path / "cache")
    assert set(seen) == {"read_notice", "_team_numbers"}
    assert not any(seen["read_notice"]) and not any(seen["_team_numbers"])
    assert gc.isenabled()


def test_a_features_process_leaves_what_each_feature_made_out_of_the_collectors_passes():
    """A features' process (background.Beside) keeps what each feature made until it ends:
    a cold build's search index is millions of objects, which the collector's full passes
    during the next feature and the gate's scan would walk again and again."""
    from types import SimpleNamespace

    from generator.background import _write_beside

    made = []

    class Feature:
        name = "feature"

        def on_write(self, site, context, output, advance):
            made.extend([number] for number in range(1000))

    output = SimpleNamespace(written={}, keys={}, sums={}, reused=set(), from_standby=set())
    before = gc.get_freeze_count()
    try:
        _write_beside([Feature()], None, SimpleNamespace(), output, (set(), set(), set(), set(), set()), None)
        assert gc.get_freeze_count() >= before + len(made)
    finally:
        gc.unfreeze()


def test_the_modules_a_rebuild_imports_leave_pillow_out():
    """Pillow (10-15 ms to import) is imported where an image is read or made (media.py,
    qr.py): a rebuild after an edit that publishes no photo, whose process imports the
    modules `gongshi build` warms up, the build's and the leak gate's, does without it."""
    import subprocess
    import sys

    from conftest import REPO

    code = (
        "import importlib, sys\n"
        "from generator.commands.build import WARM_UP\n"
        "for name in (*WARM_UP, '..build', '..leakcheck', '..leakgate', '..media_stage', '..opendata', '..feeds'):\n"
        "    importlib.import_module(name, 'generator.commands')\n"
        "print(sorted(m for m in sys.modules if m == 'PIL' or m.startswith('PIL.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    # (and the media module still reads photos: tests/test_media.py)
