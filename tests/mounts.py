"""Real file-system faults for a command in a subprocess: a tiny tmpfs that fills up, a read-only mount, a
mount point, made in a private mount namespace (`unshare`), so nothing outside the test sees them.

Tests that need one skip cleanly where the machine does not allow private mounts.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from functools import cache

import pytest

from tests.conftest import REPO_ROOT, cli_env


@cache
def unshare_prefix() -> tuple[str, ...] | None:
    """The `unshare` invocation that gives this user a private mount namespace, or None."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (("unshare", "--mount"), ("unshare", "--user", "--map-root-user", "--mount")):
        probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs none /mnt 2>/dev/null || exit 1"], check=False)
        if probe.returncode == 0:
            return prefix
    return None


def in_private_mounts(setup: str, command: Sequence[str]) -> subprocess.CompletedProcess:
    """Run shell `setup` (mounts), then `command`, in a private mount namespace; skip where none is allowed."""
    prefix = unshare_prefix()
    if prefix is None:
        pytest.skip("private mount namespaces are not available here (unshare)")
    script = f"set -e; {setup}; exec {shlex.join(command)}"
    return subprocess.run(
        [*prefix, "sh", "-c", script], cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, check=False
    )


def report_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "bench.report", *arguments]
