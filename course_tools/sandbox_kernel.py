"""Start an IPython kernel with resource limits, as an unprivileged user.

This is the ``argv`` of the ``course-sandbox`` kernelspec that
``course_tools.sandbox`` writes for autograding. nbclient starts it in the
submission's folder under autograded/; it then

1. copies that folder, which holds only the one submission, into a fresh
   working folder under ``--work-parent``;
2. copies the connection file there, so the kernel can read it after the
   switch of user;
3. sets resource limits: data segment (memory), processes, file size, CPU
   time, and no core files;
4. when started as root, switches to the ``--user`` account, which owns
   nothing of the course;
5. replaces itself with the kernel command after ``--``.

It imports only the standard library, and runs once per notebook, as root
when the grader runs as root.
"""

import argparse
import os
import pwd
import resource
import shutil
import sys
import tempfile

MEBIBYTE = 1024 * 1024

# Environment variables that would tell the kernel where the course is,
# make Python import code from there, or hold the gradebook's password.
_DROPPED_VARIABLES = (
    "PWD", "OLDPWD", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME",
    "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_CONFIG_DIR",
    "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
    "GRADEBOOK_URL", "COURSE_TEST_POSTGRES", "PGPASSWORD",
)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mb", type=int, required=True,
                        help="limit of the data segment (RLIMIT_DATA), in MiB")
    parser.add_argument("--processes", type=int, required=True,
                        help="limit of processes and threads of the user (RLIMIT_NPROC)")
    parser.add_argument("--file-size-mb", type=int, required=True,
                        help="largest file the kernel may write (RLIMIT_FSIZE), in MiB")
    parser.add_argument("--cpu-seconds", type=int, required=True,
                        help="CPU time of the kernel process (RLIMIT_CPU), in seconds")
    parser.add_argument("--user", default="",
                        help="account to run the kernel as when started as root")
    parser.add_argument("--work-parent", required=True,
                        help="folder in which to create the working folder")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="-- then the kernel command, with -f CONNECTION_FILE")
    arguments = parser.parse_args(argv)
    if arguments.command[:1] == ["--"]:
        arguments.command = arguments.command[1:]
    if not arguments.command:
        parser.error("the kernel command after -- is missing")
    return arguments


def connection_file_index(command):
    """Return the index of the connection file's path in ``command``."""
    for index, word in enumerate(command[:-1]):
        if word == "-f":
            return index + 1
    raise SystemExit(
        "sandbox_kernel: the kernel command has no '-f CONNECTION_FILE'; "
        "check the argv of the course-sandbox kernelspec."
    )


def prepare_working_folder(work_parent, submission_folder):
    """Copy the submission's folder into a new working folder; return it.

    Symbolic links are copied as links, so a link in a submission cannot
    make this step read a file on the student's behalf.
    """
    work = tempfile.mkdtemp(prefix="kernel-", dir=work_parent)
    target = os.path.join(work, os.path.basename(submission_folder) or "work")
    shutil.copytree(submission_folder, target, symlinks=True)
    for name in ("home", "tmp"):
        os.mkdir(os.path.join(work, name))
    return work, target


def kernel_environment(work):
    environment = {
        key: value for key, value in os.environ.items()
        if key not in _DROPPED_VARIABLES
    }
    home = os.path.join(work, "home")
    environment.update({
        "HOME": home,
        "IPYTHONDIR": os.path.join(home, ".ipython"),
        "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
        "JUPYTER_RUNTIME_DIR": os.path.join(home, ".runtime"),
        "TMPDIR": os.path.join(work, "tmp"),
    })
    return environment


def user_process_count(uid):
    """Return the number of processes and threads that ``uid`` runs now."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                count += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            continue
    return count


def set_limits(arguments, switching_user):
    """Set the resource limits; soft and hard limits are equal except CPU.

    RLIMIT_NPROC counts every process and thread of the user. Without a
    switch to the sandbox account, that user is the grader's own, so the
    limit is what the grader already runs plus ``--processes``.
    """
    processes = arguments.processes
    if not switching_user:
        processes += user_process_count(os.getuid())
    limits = [
        (resource.RLIMIT_DATA, arguments.memory_mb * MEBIBYTE),
        (resource.RLIMIT_FSIZE, arguments.file_size_mb * MEBIBYTE),
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_CORE, 0),
    ]
    for kind, value in limits:
        value = _within_hard_limit(kind, value)
        resource.setrlimit(kind, (value, value))
    # At the soft CPU limit the kernel gets SIGXCPU, which ends it. The hard
    # limit, 5 s later, kills it even if it handles that signal.
    cpu = _within_hard_limit(resource.RLIMIT_CPU, arguments.cpu_seconds + 5)
    resource.setrlimit(resource.RLIMIT_CPU, (min(arguments.cpu_seconds, cpu), cpu))


def _within_hard_limit(kind, value):
    """Return ``value``, lowered to the current hard limit, which only root
    may raise."""
    hard = resource.getrlimit(kind)[1]
    return value if hard == resource.RLIM_INFINITY else min(value, hard)


def switch_user(name, work):
    """Give ``work`` to the account ``name`` and become that account."""
    account = pwd.getpwnam(name)
    for folder, folders, files in os.walk(work):
        os.lchown(folder, account.pw_uid, account.pw_gid)
        for entry in folders + files:
            os.lchown(os.path.join(folder, entry), account.pw_uid, account.pw_gid)
    os.setgroups([])
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)


def main(argv=None):
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    command = list(arguments.command)
    index = connection_file_index(command)

    work, folder = prepare_working_folder(arguments.work_parent, os.getcwd())
    connection_file = os.path.join(work, "connection.json")
    shutil.copyfile(command[index], connection_file)
    os.chmod(connection_file, 0o600)
    command[index] = connection_file
    os.chmod(work, 0o700)

    as_root = os.geteuid() == 0 and bool(arguments.user)
    set_limits(arguments, switching_user=as_root)
    if as_root:
        switch_user(arguments.user, work)
    os.chdir(folder)
    os.execve(command[0], command, kernel_environment(work))


if __name__ == "__main__":
    main()
