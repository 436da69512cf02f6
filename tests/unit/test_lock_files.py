"""The lock files pin every dependency pyproject.toml names, at a version its range admits (issue 14).

`make demo` installs requirements.lock, `make test` and CI add requirements-dev.lock; a dependency added to
pyproject.toml without `make lock` would be missing on a fresh machine, so this test names it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.MULTILINE)


def pins(lock: str) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in PIN.findall((ROOT / lock).read_text())}


def requirements(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(line) for line in listed]


def test_every_runtime_dependency_is_pinned_inside_its_range() -> None:
    locked = pins("requirements.lock")
    for requirement in requirements(None):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(locked[name]), f"{name}=={locked[name]} is outside {requirement}"


def test_the_dev_lock_adds_the_test_packages_and_keeps_the_runtime_pins() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime
    for requirement in requirements("dev"):
        name = canonicalize_name(requirement.name)
        assert name in dev, f"{requirement.name} is not in requirements-dev.lock: run `make lock`"
        assert requirement.specifier.contains(dev[name]), f"{name}=={dev[name]} is outside {requirement}"


def test_every_pin_carries_hashes() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        assert text.count("--hash=sha256:") >= len(pins(lock)), lock
