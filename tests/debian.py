"""Programs the tests need from Debian's packages, installed when missing (tests run as root)."""

from __future__ import annotations

import os
import shutil
import subprocess


def ensure_program(program: str, package: str) -> str:
    """The path of `program`, installing `package` with apt-get if needed; RuntimeError if not."""
    found = shutil.which(program)
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(f"{program} is missing: apt-get install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(command)}` failed: {done.stderr.strip()[-500:]}")
    found = shutil.which(program)
    if found is None:
        raise RuntimeError(f"installed {package} but {program} is still not on PATH")
    return found
