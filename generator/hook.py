"""The commit hook: every commit to the content repository rebuilds the site, then deploys it.

`gongshi hook install` writes a git post-commit hook into the repository that holds the site
root (into `core.hooksPath` when that is set). The hook runs `gongshi hook run` for each
site it knows, which runs `python -m generator build --root ROOT` with the interpreter that
installed it, and then the `deploy:` command of site_config.yaml, only if the build
succeeded. Everything goes to ROOT/.gongshi-cache/hook.log; the clerk sees one line.

A post-commit hook cannot undo a commit, and this one never reports failure to git either:
a broken notice must not make a clerk think the commit was lost. The published site is
left as it was by a failed build (the build's own guarantee), so nothing half-done is
deployed.

The hook is a small shell script that lists its sites in comment lines, so installing is
idempotent, a second site root in the same repository (a province's counties) is added to
the same hook, and uninstalling removes one site and the hook with the last one. A hook
that gongshi did not write is never overwritten: with `--force` it is kept as
`post-commit.orig` and still runs first.
"""
from __future__ import annotations

import datetime as dt
import os
import shlex
import site
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import GongshiError

HOOK_NAME = "post-commit"
MARKER = "# gongshi post-commit hook"
SITE_LINE = "# gongshi-site: "
MODES = ("foreground", "background")
LOG_NAME = "hook.log"
LOG_KEEP_BYTES = 256 * 1024  # the log keeps the latest runs, not every run since the start
# Variables git sets for a hook's own repository; a deploy command that runs git (a push to
# a pages repository) must find its repository by itself, as in a terminal.
GIT_LOCATION_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_COMMON_DIR",
                          "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE")


@dataclass(frozen=True)
class HookSite:
    path: str  # the site root relative to the repository's top folder, with forward slashes
    mode: str  # foreground: the commit command waits for the build; background: it does not


@dataclass(frozen=True)
class Repository:
    top: Path  # the working tree's top folder
    hooks: Path  # the folder git runs hooks from (core.hooksPath or .git/hooks)

    @property
    def hook(self) -> Path:
        return self.hooks / HOOK_NAME

    @property
    def orig(self) -> Path:
        return self.hooks / (HOOK_NAME + ".orig")


def repository(root: Path, t) -> Repository:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, env=clean_env(), capture_output=True, text=True)
        if result.returncode != 0:
            raise GongshiError(t("hook.not_git", root=str(root)))
        return result.stdout.strip()

    top = Path(git("rev-parse", "--show-toplevel")).resolve()
    # --git-path answers core.hooksPath when it is set, relative to where git ran.
    hooks = (root / git("rev-parse", "--git-path", "hooks")).resolve()
    return Repository(top=top, hooks=hooks)


def clean_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in GIT_LOCATION_VARIABLES}
    env.update(extra or {})
    return env


# -- the hook script ------------------------------------------------------------------------

def hook_script(sites: list[HookSite]) -> str:
    python = shlex.quote(sys.executable)
    path = python_path()
    prefix = f"PYTHONPATH={shlex.quote(path)}${{PYTHONPATH:+:$PYTHONPATH}} " if path else ""
    lines = [
        "#!/bin/sh",
        MARKER + ": rebuilds the site after every commit, then runs its `deploy:` command.",
        "# Written by `gongshi hook install`; `gongshi hook uninstall` removes it. It never fails a",
        "# commit: each site's log is <site>/.gongshi-cache/hook.log. The sites it rebuilds:",
        *(f"{SITE_LINE}{s.mode} {s.path}" for s in sites),
        'cd "$(git rev-parse --show-toplevel)" || exit 0',
        f'if [ -x "$(dirname "$0")/{HOOK_NAME}.orig" ]; then "$(dirname "$0")/{HOOK_NAME}.orig" "$@"; fi',
    ]
    for s in sites:
        background = " --background" if s.mode == "background" else ""
        # A hooks folder can be shared by several repositories (core.hooksPath): only a
        # repository that holds the site rebuilds it.
        lines.append(f"if [ -f {shlex.quote(s.path + '/site_config.yaml')} ]; then "
                     f"{prefix}{python} -m generator hook run --root {shlex.quote(s.path)}{background} || true; fi")
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


def python_path() -> str | None:
    """Where `generator` comes from, when the interpreter would not find it by itself."""
    here = Path(__file__).resolve().parent.parent
    known = [Path(p).resolve() for p in site.getsitepackages() + [site.getusersitepackages()]]
    return None if here in known else str(here)


def read_sites(hook: Path) -> list[HookSite] | None:
    """The sites a gongshi hook rebuilds; None when the file is not a gongshi hook."""
    text = hook.read_text(encoding="utf-8", errors="replace")
    if MARKER not in text:
        return None
    sites = []
    for line in text.splitlines():
        if line.startswith(SITE_LINE):
            mode, _, path = line[len(SITE_LINE):].partition(" ")
            sites.append(HookSite(path=path, mode=mode if mode in MODES else "foreground"))
    return sites


def write_hook(hook: Path, sites: list[HookSite]) -> None:
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(hook_script(sorted(sites, key=lambda s: s.path)), encoding="utf-8", newline="\n")
    hook.chmod(0o755)


def site_path(repo: Repository, root: Path) -> str:
    return root.relative_to(repo.top).as_posix() or "."


# -- install / uninstall --------------------------------------------------------------------

def install(root: Path, t, *, force: bool = False, background: bool = False) -> list[str]:
    """Add ROOT to the repository's post-commit hook; returns the messages to print."""
    from .config import load_config

    root = Path(root).resolve()
    load_config(root)  # a hook for a folder that is not a site root would fail on every commit
    repo = repository(root, t)
    wanted = HookSite(path=site_path(repo, root), mode="background" if background else "foreground")
    names = dict(hook=display(repo.hook), root=wanted.path, orig=display(repo.orig))
    messages = []
    sites: list[HookSite] = []
    if repo.hook.exists():
        found = read_sites(repo.hook)
        if found is None:
            if not force:
                raise GongshiError(t("hook.foreign", **names))
            if repo.orig.exists():
                raise GongshiError(t("hook.orig_exists", **names))
            os.replace(repo.hook, repo.orig)
            messages.append(t("hook.kept_original", **names))
        else:
            sites = found
    if wanted in sites and repo.hook.read_text(encoding="utf-8") == hook_script(sorted(sites, key=lambda s: s.path)):
        return [t("hook.unchanged", **names)]
    write_hook(repo.hook, [s for s in sites if s.path != wanted.path] + [wanted])
    return [t("hook.installed", **names)] + messages


def uninstall(root: Path, t) -> list[str]:
    root = Path(root).resolve()
    repo = repository(root, t)
    names = dict(hook=display(repo.hook), root=site_path(repo, root), orig=display(repo.orig))
    if not repo.hook.exists():
        return [t("hook.not_installed", **names)]
    sites = read_sites(repo.hook)
    if sites is None:
        raise GongshiError(t("hook.not_ours", **names))
    remaining = [s for s in sites if s.path != names["root"]]
    if len(remaining) == len(sites):
        return [t("hook.not_installed", **names)]
    if remaining:
        write_hook(repo.hook, remaining)
        return [t("hook.removed_site", **names)]
    repo.hook.unlink()
    messages = [t("hook.removed", **names)]
    if repo.orig.exists():
        os.replace(repo.orig, repo.hook)
        messages.append(t("hook.restored", **names))
    return messages


def display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


# -- what the hook runs ---------------------------------------------------------------------

def run(root: Path, t, *, background: bool = False) -> int:
    """Build ROOT, then deploy it if the build succeeded; prints one line, logs the rest."""
    root = Path(root).resolve()
    log_path = root / ".gongshi-cache" / LOG_NAME
    shown_log = display(log_path)
    if background:
        spawn_detached([sys.executable, "-m", "generator", "hook", "run", "--root", str(root)], root)
        print(t("hook.background", log=shown_log), flush=True)
        return 0
    with locked(root), open_log(log_path) as log:
        log.write(f"== {dt.datetime.now().isoformat(timespec='seconds')} commit {head_commit(root)}\n")
        log.flush()
        built = subprocess.run([sys.executable, "-m", "generator", "build", "--root", str(root)],
                               cwd=root, env=clean_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        if built.returncode != 0:
            print(t("hook.build_failed", log=shown_log), flush=True)
            return 1
        from .config import load_config

        deploy = load_config(root).deploy
        if not deploy:
            print(t("hook.built", root=str(root)), flush=True)
            return 0
        log.write(f"$ {deploy}\n")
        log.flush()
        out = root / "build"
        deployed = subprocess.run(deploy, shell=True, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  env=clean_env({"GONGSHI_ROOT": str(root), "GONGSHI_OUT": str(out)}))
        log.write(f"exit code {deployed.returncode}\n")
        if deployed.returncode != 0:
            print(t("hook.deploy_failed", code=deployed.returncode, log=shown_log), flush=True)
            return 1
        print(t("hook.deployed", root=str(root)), flush=True)
        return 0


def head_commit(root: Path) -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, env=clean_env(), capture_output=True, text=True)
    return result.stdout.strip() or "?"


def spawn_detached(command: list[str], root: Path) -> None:
    """Start `command` so that it outlives the hook and keeps no terminal or pipe of git's open."""
    options = {"start_new_session": True} if os.name == "posix" else {"creationflags": getattr(subprocess, "DETACHED_PROCESS", 0)}
    subprocess.Popen(command, cwd=root, env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, close_fds=True, **options)


@contextmanager
def open_log(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > 2 * LOG_KEEP_BYTES:
        tail = path.read_bytes()[-LOG_KEEP_BYTES:]
        path.write_bytes(tail[tail.find(b"\n") + 1:])
    with open(path, "a", encoding="utf-8") as log:
        yield log


@contextmanager
def locked(root: Path):
    """One hook run per site at a time: two quick commits must not build into one folder at once."""
    lock_path = root / ".gongshi-cache" / "hook.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: commits from one clerk's machine rarely overlap
        yield
        return
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
