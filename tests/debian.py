"""Programs the tests need from Debian's packages, installed when missing (tests run as root)."""

from __future__ import annotations

import shutil

from flowsight.devtools.local.debian import apt_install, can_install


def ensure_program(program: str, package: str) -> str:
    """The path of `program`, installing `package` with apt-get if needed; RuntimeError if not."""
    found = shutil.which(program)
    if found:
        return found
    if not can_install():
        raise RuntimeError(f"{program} is missing: apt-get install {package}")
    apt_install(package)
    found = shutil.which(program)
    if found is None:
        raise RuntimeError(f"installed {package} but {program} is still not on PATH")
    return found
