"""`gongshi hook`: a commit rebuilds the site and deploys it, and never fails the commit."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from conftest import make_site, run_cli

NOTICE = "content/notices/xiaohe/road.yaml"
DEPLOY = 'deploy: "echo deployed >> deployed.txt"\n'


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, GONGSHI_LANG="en", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="县办文员", GIT_AUTHOR_EMAIL="clerk@example.gov.cn",
               GIT_COMMITTER_NAME="县办文员", GIT_COMMITTER_EMAIL="clerk@example.gov.cn")
    env.pop("PYTHONPATH", None)  # the hook must find gongshi by itself
    result = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def content_repo(tmp_path: Path, deploy: str = DEPLOY) -> tuple[Path, Path]:
    """A git repository holding the minimal site in a sub-folder, as a county's might."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    root = make_site(tmp_path / "made")
    root.rename(repo / "county")
    root = repo / "county"
    with open(root / "site_config.yaml", "a", encoding="utf-8") as config:
        config.write(deploy)
    (repo / ".gitignore").write_text("build/\n.gongshi-cache/\ndeployed.txt\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "县里的公示")
    return repo, root


def set_title(root: Path, title: str) -> None:
    path = root / NOTICE
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(f"title: {title}\n" if line.startswith("title:") else line for line in lines), encoding="utf-8")


def deploys(root: Path) -> int:
    marker = root / "deployed.txt"
    return len(marker.read_text(encoding="utf-8").splitlines()) if marker.exists() else 0


def test_a_commit_rebuilds_the_site_and_deploys_it_only_after_a_good_build(tmp_path):
    repo, root = content_repo(tmp_path)
    installed = run_cli("hook", "install", "--root", str(root))
    assert installed.returncode == 0, installed.stderr
    assert "every commit now rebuilds county" in installed.stdout

    set_title(root, "提交后自动更新的公示")
    commit = git(repo, "commit", "-q", "-am", "改标题")
    page = (root / "build/notices/road.html").read_text(encoding="utf-8")
    assert "<title>提交后自动更新的公示" in page
    assert deploys(root) == 1
    assert commit.stderr.strip().splitlines()[-1] == f"gongshi: site rebuilt and deployed ({root})."  # git shows hooks on stderr

    (root / NOTICE).write_text((root / NOTICE).read_text(encoding="utf-8").replace("kind: project", "kind: projekt"), encoding="utf-8")
    commit = git(repo, "commit", "-q", "-am", "写错了")
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "写错了"  # the commit stands
    assert "could not be rebuilt, the published site is unchanged" in commit.stderr
    assert deploys(root) == 1  # no deploy after a failed build
    assert "<title>提交后自动更新的公示" in (root / "build/notices/road.html").read_text(encoding="utf-8")
    log = (root / ".gongshi-cache/hook.log").read_text(encoding="utf-8")
    assert f"{NOTICE}:3:7: kind: " in log  # the build's own report, as `gongshi build` prints it


def test_a_failing_deploy_is_reported_and_the_commit_still_stands(tmp_path):
    repo, root = content_repo(tmp_path, deploy='deploy: "echo cannot reach the host >&2; exit 3"\n')
    assert run_cli("hook", "install", "--root", str(root)).returncode == 0
    set_title(root, "发布失败也不影响提交")
    commit = git(repo, "commit", "-q", "-am", "改标题")
    assert "the deploy command failed (exit code 3)" in commit.stderr
    assert "cannot reach the host" in (root / ".gongshi-cache/hook.log").read_text(encoding="utf-8")
    assert git(repo, "log", "-1", "--format=%s").stdout.strip() == "改标题"


def test_install_is_idempotent_and_goes_where_core_hookspath_points(tmp_path):
    repo, root = content_repo(tmp_path)
    git(repo, "config", "core.hooksPath", "githooks")
    first = run_cli("hook", "install", "--root", str(root))
    hook = repo / "githooks" / "post-commit"
    written = hook.read_bytes()
    second = run_cli("hook", "install", "--root", str(root))
    assert first.returncode == second.returncode == 0
    assert "already rebuilds county: nothing to do" in second.stdout
    assert hook.read_bytes() == written
    assert os.access(hook, os.X_OK)
    assert not (repo / ".git/hooks/post-commit").exists()


def test_a_hooks_folder_shared_with_another_repository_leaves_that_one_alone(tmp_path):
    repo, root = content_repo(tmp_path)
    shared = tmp_path / "shared-hooks"
    git(repo, "config", "core.hooksPath", str(shared))
    assert run_cli("hook", "install", "--root", str(root)).returncode == 0
    assert (shared / "post-commit").exists()

    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    git(other, "config", "core.hooksPath", str(shared))
    (other / "notes.txt").write_text("与公示无关\n", encoding="utf-8")
    git(other, "add", "-A")
    commit = git(other, "commit", "-q", "-m", "无关的提交")
    assert "gongshi" not in commit.stderr + commit.stdout
    assert not (other / "county").exists()


def test_a_foreign_hook_is_kept_runs_first_and_comes_back_on_uninstall(tmp_path):
    repo, root = content_repo(tmp_path)
    hook = repo / ".git/hooks/post-commit"
    foreign = "#!/bin/sh\necho notified >> \"$(git rev-parse --show-toplevel)/notified.txt\"\n"
    hook.write_text(foreign, encoding="utf-8")
    hook.chmod(0o755)

    refused = run_cli("hook", "install", "--root", str(root))
    assert refused.returncode == 1
    assert "was not written by gongshi: run again with --force" in refused.stderr
    assert hook.read_text(encoding="utf-8") == foreign

    forced = run_cli("hook", "install", "--root", str(root), "--force")
    assert forced.returncode == 0 and "still runs before each rebuild" in forced.stdout
    assert (repo / ".git/hooks/post-commit.orig").read_text(encoding="utf-8") == foreign
    set_title(root, "两个钩子都运行")
    git(repo, "commit", "-q", "-am", "改标题")
    assert (repo / "notified.txt").exists()
    assert "<title>两个钩子都运行" in (root / "build/notices/road.html").read_text(encoding="utf-8")

    removed = run_cli("hook", "uninstall", "--root", str(root))
    assert removed.returncode == 0 and "Restored the earlier hook" in removed.stdout
    assert hook.read_text(encoding="utf-8") == foreign
    assert not (repo / ".git/hooks/post-commit.orig").exists()


def test_two_sites_in_one_repository_share_the_hook(tmp_path):
    repo, root = content_repo(tmp_path)
    other = repo / "other-county"
    other.mkdir()
    (other / "site_config.yaml").write_text((root / "site_config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert run_cli("hook", "install", "--root", str(root)).returncode == 0
    assert run_cli("hook", "install", "--root", str(other)).returncode == 0
    hook = repo / ".git/hooks/post-commit"
    assert "--root county " in hook.read_text(encoding="utf-8") and "--root other-county " in hook.read_text(encoding="utf-8")

    assert "no longer rebuilds county" in run_cli("hook", "uninstall", "--root", str(root)).stdout
    assert "--root county " not in hook.read_text(encoding="utf-8") and "--root other-county " in hook.read_text(encoding="utf-8")
    assert "Removed the post-commit hook" in run_cli("hook", "uninstall", "--root", str(other)).stdout
    assert not hook.exists()


def test_background_mode_returns_at_once_and_builds_anyway(tmp_path):
    repo, root = content_repo(tmp_path)
    assert run_cli("hook", "install", "--root", str(root), "--background").returncode == 0
    set_title(root, "后台生成的公示")
    commit = git(repo, "commit", "-q", "-am", "改标题")
    assert "rebuilding the site in the background" in commit.stderr
    deadline = time.monotonic() + 60
    while deploys(root) == 0:
        assert time.monotonic() < deadline, (root / ".gongshi-cache/hook.log").read_text(encoding="utf-8")
        time.sleep(0.1)
    assert "<title>后台生成的公示" in (root / "build/notices/road.html").read_text(encoding="utf-8")


def test_install_refuses_a_folder_outside_git_or_without_a_site(tmp_path):
    root = make_site(tmp_path)
    result = run_cli("hook", "install", "--root", str(root))
    assert result.returncode == 1 and "is not inside a git repository" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("hook", "install", "--root", str(empty))
    assert result.returncode == 1 and "site_config.yaml:1:1: file not found" in result.stderr
