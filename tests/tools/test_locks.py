"""The hash locks are installed exactly (--require-hashes --no-deps) and checked to be complete.

images/check-closure.py runs on real ``*.dist-info`` directories (written here, read by
importlib.metadata as pip's would be), and every install recipe in the tree is read for the flags.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "images" / "check-closure.py"


def dist(target: Path, name: str, version: str, *requires: str) -> None:
    info = target / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def check(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), *map(str, args)], capture_output=True, text=True, check=False
    )


def test_closed_install_passes(tmp_path: Path) -> None:
    dist(tmp_path, "weasel", "1.0.1", "smart-open[http]>=5.2.1", 'pywin32; sys_platform == "win32"')
    dist(tmp_path, "smart-open", "9.0.2", 'requests; extra == "http"')
    dist(tmp_path, "requests", "2.34.2")
    result = check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 distributions, every requirement pinned" in result.stdout


def test_missing_package_fails_naming_it(tmp_path: Path) -> None:
    dist(tmp_path, "weasel", "1.0.1", "smart-open[http]>=5.2.1")
    result = check(tmp_path)
    assert result.returncode == 1
    assert "weasel==1.0.1 requires smart-open[http]>=5.2.1, which the lock does not pin" in (
        result.stderr
    )
    assert "make lock" in result.stderr


def test_requirement_of_a_requested_extra_is_checked(tmp_path: Path) -> None:
    # smart-open's http extra needs requests only because weasel asks for smart-open[http]
    dist(tmp_path, "weasel", "1.0.1", "smart-open[http]>=5.2.1")
    dist(tmp_path, "smart-open", "9.0.2", 'requests; extra == "http"', 'boto3; extra == "s3"')
    result = check(tmp_path)
    assert result.returncode == 1
    assert "smart-open==9.0.2 requires requests" in result.stderr
    assert "boto3" not in result.stderr  # no one asks for the s3 extra


def test_version_outside_the_requirement_fails(tmp_path: Path) -> None:
    dist(tmp_path, "spacy", "3.8.18", "thinc<8.4.0,>=8.3.4")
    dist(tmp_path, "thinc", "8.4.1")
    result = check(tmp_path)
    assert result.returncode == 1
    assert "but the lock pins thinc==8.4.1" in result.stderr


def test_build_only_requirement_and_empty_dir(tmp_path: Path) -> None:
    dist(tmp_path / "task", "gluonnlp", "0.10.0", "cython", "numpy>=1.16.0")
    dist(tmp_path / "task", "numpy", "1.23.5")
    assert check(tmp_path / "task").returncode == 1
    assert check(tmp_path / "task", "--build-only", "Cython").returncode == 0
    (tmp_path / "empty").mkdir()
    empty = check(tmp_path / "empty")
    assert empty.returncode == 1 and "no distribution installed" in empty.stderr


def install_commands() -> list[tuple[str, str]]:
    """Every ``pip install`` command in the Makefiles, scripts and Dockerfiles (joined lines)."""
    files = [
        ROOT / "Makefile",
        *ROOT.glob("mk/*.mk"),
        *ROOT.glob("scripts/*.sh"),
        *ROOT.glob("images/*/Dockerfile"),
        *ROOT.glob("images/base/*.Dockerfile"),
        ROOT / ".ci" / "run",
    ]
    found = []
    for path in files:
        lines = [
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
        ]
        text = "\n".join(lines).replace("\\\n", " ")
        for command in re.findall(r"pip install[^&;\n|]*", text):
            found.append((path.relative_to(ROOT).as_posix(), command))
    return found


def test_every_install_takes_exactly_a_hash_lock() -> None:
    commands = install_commands()
    assert len(commands) >= 12, commands
    for where, command in commands:
        assert "--require-hashes" in command and "-r " in command, (where, command)
        assert "--no-deps" in command, (where, command)


@pytest.mark.parametrize(
    ("where", "stamp"),
    [
        ("Makefile", "$(VENV)/.installed"),
        ("Makefile", "$(LOCK_VENV)/.installed"),
        ("mk/deploy.mk", "$(SAM_VENV)/.installed"),
        ("mk/bench.mk", "$(MKL_VENV)/.installed"),
    ],
)
def test_every_venv_is_made_from_nothing_and_checked(where: str, stamp: str) -> None:
    text = (ROOT / where).read_text()
    recipe = re.search(rf"^{re.escape(stamp)}:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe, (where, stamp)
    lines = recipe.group(1).splitlines()
    assert any("-m venv --clear" in line for line in lines), lines  # a half-made venv is redone
    assert "pip check" in lines[-2], lines
    assert lines[-1].strip() == "@touch $@", lines  # the stamp last, after the check


def test_every_lock_pins_every_file_with_a_hash() -> None:
    ins = [*ROOT.glob("requirements/*.in"), *ROOT.glob("images/*/*.in")]
    assert len(ins) >= 10
    for source in ins:
        lock = source.with_suffix(".txt")
        assert lock.is_file(), f"{source} has no lock {lock.name}"
        text = lock.read_text()
        pins = [line for line in text.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
        assert pins, lock
        for pin in pins:
            assert re.match(r"^[A-Za-z0-9._-]+(\[[a-z0-9,_-]+\])?==\S+ \\$", pin), (lock, pin)
        assert text.count("--hash=sha256:") >= len(pins), lock


def test_models_targets_gate_on_the_stamp_not_the_interpreter() -> None:
    for where in ("mk/models.mk", "mk/accuracy.mk"):
        text = (ROOT / where).read_text()
        assert "wildcard $(PY)" not in text and "-x $(PY)" not in text, where
