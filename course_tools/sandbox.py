"""Run student code in a sandboxed kernel while nbgrader autogrades.

``Sandbox`` prepares, for one grading run, a temporary Jupyter data folder
with the ``course-sandbox`` kernelspec. Its nbgrader configuration selects
that kernelspec with ``Execute.kernel_name``, which nbclient uses in place
of the notebook's kernelspec. It runs the notebooks with
``execute.LimitedExecute``, which caps the output of each cell. The
kernelspec starts ``sandbox_kernel.py``, which sets resource limits, copies the one
submission into a private working folder and, when the grader runs as root,
switches to the system account ``course-sandbox`` before it starts
ipykernel.

While a sandbox is open as root, the course files that student code must
not see lose their permissions for "others" (``protect``): the gradebook,
source/, submitted/, autograded/, feedback/, .git and every other entry of
the course root except the ones the kernel needs (.venv, helpers/, data/,
course_tools/). Their modes are restored when the sandbox closes. After
each submission, ``clean_up`` kills every process left by the sandbox
account and deletes the working folders.

Limits come from ``c.CourseSandbox.<name>`` in nbgrader_config.py, with
the defaults of ``Limits``.
"""

import contextlib
import fcntl
import json
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path


logger = logging.getLogger(__name__)

KERNEL_NAME = "course-sandbox"
LOCK_NAME = "course-sandbox.lock"
SANDBOX_USER = "course-sandbox"
KERNEL_LAUNCHER = Path(__file__).resolve().with_name("sandbox_kernel.py")
# The interpreter of the grader, made absolute because nbgrader and the
# kernels start in other folders. Symbolic links are kept, so that a virtual
# environment's python still finds its packages.
PYTHON = os.path.abspath(sys.executable)

# Entries of the course root that the sandboxed kernel needs to read; every
# other entry is hidden from it while grading.
READABLE_ENTRIES = (".venv", "helpers", "data", "course_tools", "pyproject.toml")


class SandboxError(RuntimeError):
    """The sandbox cannot be set up; the message names what to change."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel.

    ``memory_mb`` bounds the data segment (RLIMIT_DATA: heap and private
    memory maps, which contain NumPy and PyTorch arrays). ``processes`` counts
    the processes and threads of the sandbox account (RLIMIT_NPROC), which
    is why the kernel runs as its own account. ``cpu_seconds`` is the CPU
    time of the whole kernel, a backstop for a loop that ignores nbgrader's
    interrupt. It counts the CPU time of every thread, so PyTorch training
    on many cores uses it up several times faster than the wall clock.
    ``output_kb`` caps what one cell may print or display.
    ``submission_seconds`` is the wall time of one student's whole nbgrader
    run, after which it is stopped.
    """

    # NOTE: grading was tried on CPUs only. Whether CUDA starts under
    # RLIMIT_DATA has not been tried; raise memory_mb if it does not.
    memory_mb: int = 6144
    processes: int = 256
    file_size_mb: int = 64
    cpu_seconds: int = 8 * 3600
    output_kb: int = 1024
    submission_seconds: int = 7200

    @classmethod
    def from_config(cls, config):
        """Read ``c.CourseSandbox.<field>`` from an nbgrader Config."""
        section = config.get("CourseSandbox", {})
        unknown = sorted(set(section) - {field.name for field in fields(cls)})
        if unknown:
            raise SandboxError(
                f"Unknown setting(s) c.CourseSandbox.{', '.join(unknown)} in "
                f"nbgrader_config.py. Known ones: "
                f"{', '.join(field.name for field in fields(cls))}."
            )
        return replace(cls(), **{key: int(value) for key, value in section.items()})


def _acquire_lock():
    """Wait until no other process of this machine grades in a sandbox.

    Two sandboxes at a time would share the sandbox account, so each one's
    clean-up would kill the other's kernels, and each would restore file
    modes that the other still needs. ``make test JOBS=2`` therefore grades
    one problem set at a time. Returns the locked file descriptor.
    """
    path = Path(tempfile.gettempdir()) / LOCK_NAME
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise SandboxError(
            f"Cannot open the sandbox lock file {path}: {error}. Delete it "
            "if no grading runs, then grade again."
        ) from error
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        logger.info("Waiting for another sandboxed grading run to finish (%s)", path)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def running_as_root():
    return os.geteuid() == 0


def ensure_user(name=SANDBOX_USER):
    """Create the system account ``name`` when missing; return its pwd entry."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    command = [useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
               "--shell", "/usr/sbin/nologin", "--user-group", name]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SandboxError(
            f"Could not create the sandbox account {name!r} with "
            f"'{' '.join(command)}': {completed.stderr.strip()}. Create it "
            "by hand, or autograde as a user other than root, which runs "
            "the kernels without the switch of account."
        )
    logger.info("Created the system account %s for sandboxed grading", name)
    return pwd.getpwnam(name)


def account_processes(uid):
    """Return the ids of the running processes owned by ``uid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                pids.append(int(entry))
        except FileNotFoundError:
            continue
    return pids


class Sandbox:
    """Kernelspec, configuration and file permissions of one grading run.

    Use as a context manager around the grading of a course root::

        with Sandbox(root, limits) as sandbox:
            course.nbgrader(..., sandbox=sandbox)
            sandbox.clean_up()
    """

    def __init__(self, root, limits=Limits(), user=SANDBOX_USER):
        self.root = Path(root).resolve()
        self.limits = limits
        self.user = user if running_as_root() else ""
        self.folder = None
        self._modes = {}

    def __enter__(self):
        # Turn SIGTERM into SystemExit, so that __exit__ restores the file
        # modes when the grading is stopped with kill.
        self._previous_sigterm = None
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        self._lock = None
        self.uid = None
        try:
            self._open()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _open(self):
        if self.user:
            self._lock = _acquire_lock()
            self.uid = ensure_user(self.user).pw_uid
        self.folder = Path(tempfile.mkdtemp(prefix="course-sandbox-"))
        # The working folders of the kernels go here; the sandbox account
        # may enter it but not list it.
        self.work_parent = self.folder / "work"
        self.work_parent.mkdir()
        os.chmod(self.folder, 0o711)
        os.chmod(self.work_parent, 0o711)
        self._write_kernelspec()
        self._write_config()
        if self.user:
            self._open_interpreter_path()
            self._check_account_can_run_python()
            self._protect()

    def __exit__(self, *exc_info):
        try:
            if self.folder is not None:
                self.clean_up()
        finally:
            self._restore()
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            if self._lock is not None:
                os.close(self._lock)  # closing releases the lock

    def environment(self, base):
        """Return ``base`` with the sandbox's Jupyter paths added."""
        environment = dict(base)
        for variable, path in (("JUPYTER_PATH", self.folder / "share"),
                               ("JUPYTER_CONFIG_PATH", self.folder / "config")):
            environment[variable] = os.pathsep.join(
                part for part in (str(path), environment.get(variable, "")) if part
            )
        return environment

    def clean_up(self):
        """Kill the sandbox account's processes and delete working folders."""
        if self.uid is not None:
            # Killed processes stay zombies, and count against the
            # process limit, until their new parent reaps them.
            for _ in range(100):
                pids = account_processes(self.uid)
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.1)
            else:
                logger.warning("Processes of %s survived SIGKILL: %s", self.user, pids)
        for work in self.work_parent.iterdir():
            shutil.rmtree(work, ignore_errors=True)

    def _write_kernelspec(self):
        folder = self.folder / "share" / "kernels" / KERNEL_NAME
        folder.mkdir(parents=True)
        limits = self.limits
        argv = [
            PYTHON, str(KERNEL_LAUNCHER),
            "--memory-mb", str(limits.memory_mb),
            "--processes", str(limits.processes),
            "--file-size-mb", str(limits.file_size_mb),
            "--cpu-seconds", str(limits.cpu_seconds),
            "--work-parent", str(self.work_parent),
        ]
        if self.user:
            argv += ["--user", self.user]
        argv += ["--", PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {
            "argv": argv,
            "display_name": "Python 3 (course sandbox)",
            "language": "python",
            "metadata": {"debugger": False},
        }
        (folder / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")

    def _write_config(self):
        folder = self.folder / "config"
        folder.mkdir()
        preprocessors = [
            "course_tools.execute.LimitedExecute",
            "nbgrader.preprocessors.IgnorePattern",
            "nbconvert.preprocessors.ClearMetadataPreprocessor",
            "nbgrader.preprocessors.LimitOutput",
            "nbgrader.preprocessors.SaveAutoGrades",
            "nbgrader.preprocessors.AssignLatePenalties",
            "nbgrader.preprocessors.CheckCellMetadata",
        ]
        sanitizers = [
            "nbgrader.preprocessors.ClearOutput",
            "course_tools.execute.DropDuplicateIds",
            "nbgrader.preprocessors.OverwriteKernelspec",
            "nbgrader.preprocessors.OverwriteCells",
            "nbgrader.preprocessors.CheckCellMetadata",
        ]
        (folder / "nbgrader_config.py").write_text(
            "c = get_config()  # noqa: F821\n"
            f"c.Execute.kernel_name = {KERNEL_NAME!r}\n"
            f"c.LimitedExecute.max_output_bytes = {self.limits.output_kb * 1024}\n"
            f"c.Autograde.sanitize_preprocessors = {sanitizers!r}\n"
            f"c.Autograde.autograde_preprocessors = {preprocessors!r}\n",
            encoding="utf-8",
        )

    def _check_account_can_run_python(self):
        """Raise SandboxError unless the account can start this Python."""
        account = pwd.getpwnam(self.user)
        completed = subprocess.run(
            [PYTHON, "-c", "import ipykernel, numpy"],
            user=account.pw_uid, group=account.pw_gid, extra_groups=[],
            cwd="/", capture_output=True, text=True,
        )
        if completed.returncode != 0:
            raise SandboxError(
                f"The sandbox account {self.user!r} cannot run "
                f"{PYTHON} ({completed.stderr.strip()[-300:]}). Make "
                "the virtual environment and the folders above it readable "
                "and searchable by others, e.g. chmod o+rx on each, or set "
                "COURSE_SANDBOX=0 to grade without the sandbox."
            )

    def _open_interpreter_path(self):
        """Let others search the folders above the Python installation.

        A Python installed under a private home folder (pyenv in /root, mode
        700) cannot start as the sandbox account otherwise. Only the search
        bit is added, so names in those folders cannot be listed, and the
        modes are restored when the sandbox closes.
        """
        targets = {Path(PYTHON).resolve(), Path(sys.prefix).resolve(),
                   Path(sys.base_prefix).resolve()}
        for target in targets:
            for folder in reversed(target.parents):
                mode = stat.S_IMODE(folder.stat().st_mode)
                if mode & stat.S_IXOTH or folder in self._modes:
                    continue
                logger.warning(
                    "Adding search permission for others to %s while grading, "
                    "so that the sandbox account can start %s", folder, PYTHON,
                )
                self._modes[folder] = mode
                os.chmod(folder, mode | stat.S_IXOTH)

    def _protect(self):
        """Remove the "others" permissions of the course's private entries."""
        allowed = {self.root / name for name in READABLE_ENTRIES}
        # nbgrader creates these during grading; made now, they are hidden
        # from the start.
        for name in ("submitted", "autograded", "feedback"):
            (self.root / name).mkdir(exist_ok=True)
        prefix = Path(sys.prefix).resolve()
        for entry in sorted(self.root.iterdir()):
            if entry in allowed or entry == prefix or entry in prefix.parents:
                continue
            mode = entry.lstat().st_mode
            if stat.S_ISLNK(mode) or not mode & stat.S_IRWXO:
                continue
            self._modes[entry] = stat.S_IMODE(mode)
            os.chmod(entry, stat.S_IMODE(mode) & ~stat.S_IRWXO)

    def _restore(self):
        for entry, mode in self._modes.items():
            try:
                os.chmod(entry, mode)
            except FileNotFoundError:
                pass
        self._modes = {}


def open_sandbox(root):
    """Return the course's Sandbox, or a context of None when disabled.

    COURSE_SANDBOX=0 in the environment grades without the sandbox, for a
    machine where it cannot work; the limits come from the course's
    nbgrader_config.py.
    """
    if os.environ.get("COURSE_SANDBOX", "1").strip().lower() in {"0", "false", "no"}:
        logger.warning("COURSE_SANDBOX=0: student code runs without the sandbox")
        return contextlib.nullcontext()
    from .validate import load_config

    limits = Limits.from_config(load_config(Path(root) / "nbgrader_config.py"))
    return Sandbox(root, limits)
