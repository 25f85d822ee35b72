"""Run a command that dies with its parent: ``python -m course_tools.child CMD``.

Linux sends SIGKILL to the command when the thread that started it ends,
through ``prctl(PR_SET_PDEATHSIG)``, which survives ``exec``. A grading
worker that is killed, by a person or by a cluster that lost it, then
leaves no nbgrader process writing grades behind it, while its student is
graded again elsewhere. On other systems the command just runs.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(command):
    if not command:
        raise SystemExit("usage: python -m course_tools.child COMMAND [ARGUMENT ...]")
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # The parent may have died before prctl, and then no process waits
        # for the command.
        if os.getppid() != parent:
            raise SystemExit("course_tools.child: the parent ended before the command started")
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
