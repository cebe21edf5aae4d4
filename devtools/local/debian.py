"""Debian packages installed when missing (as root): PostgreSQL for `flowsight run`, and the
programs the tests drive (Prometheus, Alertmanager, kcat, Chromium).

Installs take turns: the test workers are separate processes, and two `apt-get` at once fail on
dpkg's lock ("Could not get lock /var/lib/dpkg/lock-frontend"). Each install holds a file lock
of ours, and apt itself waits out another package manager's lock (`DPkg::Lock::Timeout`)
instead of failing at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404 # apt-get from argument lists built here, no shell

from flowsight.devtools.local.locks import held

#: Seconds apt-get waits for another package manager (unattended upgrades, a second install).
LOCK_WAIT_SECONDS = 600


def can_install() -> bool:
    """Whether this process may install Debian packages (root, with apt-get)."""
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def apt_install(package: str) -> None:
    """Install `package` (its index updated first); RuntimeError naming the command that failed."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}  # debconf never waits on a prompt
    wait = ["-o", f"DPkg::Lock::Timeout={LOCK_WAIT_SECONDS}"]
    commands = (
        ["apt-get", *wait, "update", "-qq"],
        ["apt-get", *wait, "install", "-y", "-qq", package],
    )
    with held("flowsight-apt.lock"):
        for command in commands:
            done = subprocess.run(  # nosec B603 # apt-get, arguments built here
                command, env=env, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                tail = done.stderr.strip()[-2000:]
                raise RuntimeError(f"`{' '.join(command)}` failed: {tail}")
