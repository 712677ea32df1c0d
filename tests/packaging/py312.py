"""The Python 3.12 virtual environment that runs ``helmtool.py``.

helm-sdkpy needs Python 3.12 or newer, while the project and its test suite run on 3.11,
so the packaging tests keep a second environment in ``.venv312`` at the repository root
(``SERVEROPS_VENV312`` moves it). It is made on first use from
``requirements-py312.txt`` and made again when that file changes; a stamp file holds
the file's hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("requirements-py312.txt")
VENV = Path(os.environ.get("SERVEROPS_VENV312", ROOT / ".venv312"))
STAMP = VENV / ".requirements-sha256"


class InterpreterNotFound(RuntimeError):
    """No Python 3.12 or newer is installed."""


def find_interpreter() -> Path:
    """Return a Python 3.12+ interpreter: $SERVEROPS_PYTHON312, pyenv's, or one on PATH."""
    explicit = os.environ.get("SERVEROPS_PYTHON312")
    if explicit:
        return Path(explicit)
    candidates: list[Path] = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        listed = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True, check=False
        )
        for version in sorted(listed.stdout.split(), key=_version_key, reverse=True):
            if _version_key(version) >= (3, 12):
                prefix = subprocess.run(
                    [pyenv, "prefix", version], capture_output=True, text=True, check=False
                )
                if prefix.returncode == 0:
                    candidates.append(Path(prefix.stdout.strip()) / "bin" / "python3")
    for name in ("python3.13", "python3.12"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    for candidate in candidates:
        check = subprocess.run(
            [str(candidate), "-c", "import sys; sys.exit(sys.version_info < (3, 12))"],
            capture_output=True,
            check=False,
        )
        if check.returncode == 0:
            return candidate
    raise InterpreterNotFound(
        "No Python 3.12 or newer found (tried $SERVEROPS_PYTHON312, pyenv, python3.13 and "
        "python3.12 on PATH); install one or set SERVEROPS_PYTHON312 to its path."
    )


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def ensure_venv() -> Path:
    """Return the environment's python, creating or updating the environment if needed."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    python = VENV / "bin" / "python"
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == digest:
        return python
    interpreter = find_interpreter()
    subprocess.run([str(interpreter), "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    STAMP.write_text(digest + "\n")
    return python


if __name__ == "__main__":
    print(ensure_venv())
