"""The CI workflows in docs/ci/ parse, run daily and on push, and their build command works."""
from __future__ import annotations

import datetime as dt
import os
import shlex
import subprocess
import sys
from zoneinfo import ZoneInfo

import yaml
from conftest import REPO, make_site

GITHUB = REPO / "docs" / "ci" / "github-actions.yml"
GITLAB = REPO / "docs" / "ci" / "gitlab-ci.yml"
SHANGHAI_DATE = 'TZ=Asia/Shanghai date +%F'


def github_workflow() -> dict:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
    return workflow


def github_commands(workflow: dict) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def build_command(commands: list[str]) -> str:
    [command] = [c for c in commands if c.strip().startswith("gongshi build")]
    return command.strip()


def test_github_workflow_builds_on_push_and_daily_and_publishes_to_pages():
    workflow = github_workflow()
    assert workflow["on"]["push"]["branches"] == ["main"]
    [schedule] = workflow["on"]["schedule"]
    minute, hour, *every_day = schedule["cron"].split()
    assert every_day == ["*", "*", "*"] and (int(hour) + 8) % 24 == 0  # just after midnight in Beijing
    command = build_command(github_commands(workflow))
    assert f'--today "$({SHANGHAI_DATE})"' in command and "--out public" in command
    uploads = [s for s in workflow["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert uploads[0]["with"]["path"] == "public"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in workflow["jobs"]["deploy"]["steps"])
    assert "REPLACE-ME" in workflow["env"]["GONGSHI_PACKAGE"]  # a clearly marked placeholder


def test_gitlab_pipeline_builds_on_push_and_on_schedule_and_publishes_to_pages():
    pipeline = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    job = pipeline["pages"]
    conditions = [rule["if"] for rule in job["rules"]]
    assert '$CI_PIPELINE_SOURCE == "schedule"' in conditions
    assert any('$CI_PIPELINE_SOURCE == "push"' in c for c in conditions)
    command = build_command(job["script"])
    assert f'--today "$({SHANGHAI_DATE})"' in command and "--out public" in command
    assert job["artifacts"]["paths"] == ["public"]
    assert "REPLACE-ME" in pipeline["variables"]["GONGSHI_PACKAGE"]


def test_the_workflows_are_examples_that_never_run_on_this_repository():
    assert not (REPO / ".gitlab-ci.yml").exists()
    workflows = REPO / ".github" / "workflows"
    copies = [p for p in workflows.glob("*") if p.read_bytes() == GITHUB.read_bytes()] if workflows.is_dir() else []
    assert copies == []


def test_the_build_command_of_both_workflows_builds_as_of_the_date_in_china(tmp_path):
    root = make_site(tmp_path, files={"site_config.yaml": "title: Test County\nbase_url: https://example.gov.cn/\ncounty: Test\nlanguage: en\n"})
    expected = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    gongshi = f"{shlex.quote(sys.executable)} -m generator"
    for command in (build_command(github_commands(github_workflow())), build_command(yaml.safe_load(GITLAB.read_text(encoding="utf-8"))["pages"]["script"])):
        workdir = tmp_path / ("run-" + str(len(list(tmp_path.glob("run-*")))))
        workdir.mkdir()
        env = dict(os.environ, SITE_ROOT=str(root), PYTHONPATH=str(REPO), GONGSHI_LANG="en")
        result = subprocess.run(["sh", "-c", command.replace("gongshi ", gongshi + " ", 1)], cwd=workdir, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert f"Content as of {expected}." in (workdir / "public" / "index.html").read_text(encoding="utf-8")
