"""Run student code in a sandboxed kernel while nbgrader autogrades.

``Sandbox`` covers one grading run of a course root. ``KernelSlot`` covers
one grading worker: a temporary Jupyter data folder with the
``course-sandbox`` kernelspec and an nbgrader configuration that selects it
with ``Execute.kernel_name``, which nbclient uses in place of the
notebook's kernelspec. It runs the notebooks with
``execute.LimitedExecute``, which caps the output of each cell. The
kernelspec starts ``sandbox_kernel.py``, which sets resource limits, copies
the one submission into a private working folder and, when the grader runs
as root, switches to the slot's system account before it starts ipykernel.

Each slot of a machine has its own account (``course-sandbox``,
``course-sandbox-1``, ...), chosen with a lock file per slot, so that
parallel workers never share a process limit and each worker's
``clean_up`` kills only its own kernels.

While a sandbox is open as root, the course files that student code must
not see lose their permissions for "others" (``protect``): the gradebook,
source/, submitted/, autograded/, feedback/, .git and every other entry of
the course root except the ones the kernel needs (.venv, helpers/, data/,
course_tools/). Their modes are restored when the sandbox closes. After
each submission, ``clean_up`` kills every process left by the slot's
account and deletes its working folders.

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
SANDBOX_USER = "course-sandbox"
# Lock files in the temporary folder: one per kernel slot, and two that
# count the grading runs sharing the search permissions of
# ``_open_interpreter_path``, recorded in PATHS_STATE.
SLOT_LOCK = "course-sandbox-slot-{}.lock"
MAX_SLOTS = 64
PATHS_MUTEX = "course-sandbox-paths.lock"
PATHS_USERS = "course-sandbox.lock"
PATHS_STATE = "course-sandbox-paths.json"
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


def _open_lock(name):
    path = Path(tempfile.gettempdir()) / name
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise SandboxError(
            f"Cannot open the sandbox lock file {path}: {error}. Delete it "
            "if no grading runs, then grade again."
        ) from error


def _acquire_slot():
    """Lock the first free kernel slot of this machine; return (index, fd).

    The lock is held until the descriptor is closed, also by the death of
    the process, so a worker that was killed frees its slot.
    """
    while True:
        for index in range(MAX_SLOTS):
            descriptor = _open_lock(SLOT_LOCK.format(index))
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                continue
            return index, descriptor
        logger.info("All %d sandbox slots are busy; waiting for one", MAX_SLOTS)
        time.sleep(1)


def slot_user(base, index):
    """Return the account of kernel slot ``index``."""
    return base if index == 0 else f"{base}-{index}"


def _exit_on_signal(signum, frame):
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
    # Two workers creating their accounts at once contend for the lock of
    # /etc/passwd, and the second useradd fails at once: try again.
    for attempt in range(10):
        completed = subprocess.run(command, capture_output=True, text=True)
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            time.sleep(0.5 * (attempt + 1))
            continue
        logger.info("Created the system account %s for sandboxed grading", name)
        return account
    raise SandboxError(
        f"Could not create the sandbox account {name!r} with "
        f"'{' '.join(command)}': {completed.stderr.strip()}. Create it "
        "by hand, or autograde as a user other than root, which runs "
        "the kernels without the switch of account."
    )


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


def kill_account_processes(uid, user):
    """SIGKILL every process of ``uid`` until none is left."""
    # Killed processes stay zombies, and count against the process limit,
    # until their new parent reaps them.
    for _ in range(100):
        pids = account_processes(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    logger.warning("Processes of %s survived SIGKILL: %s", user, pids)


_ACCOUNTS_CHECKED = set()


def check_account_can_run_python(user):
    """Raise SandboxError unless the account ``user`` can start this Python.

    Each account is checked once per process: a Dask worker opens a slot
    for every student it grades.
    """
    if user in _ACCOUNTS_CHECKED:
        return
    account = pwd.getpwnam(user)
    completed = subprocess.run(
        [PYTHON, "-c", "import ipykernel, numpy"],
        user=account.pw_uid, group=account.pw_gid, extra_groups=[],
        cwd="/", capture_output=True, text=True,
    )
    if completed.returncode != 0:
        raise SandboxError(
            f"The sandbox account {user!r} cannot run "
            f"{PYTHON} ({completed.stderr.strip()[-300:]}). Make "
            "the virtual environment and the folders above it readable "
            "and searchable by others, e.g. chmod o+rx on each, or set "
            "COURSE_SANDBOX=0 to grade without the sandbox."
        )
    _ACCOUNTS_CHECKED.add(user)


class KernelSlot:
    """The sandboxed kernels of one grading worker, one submission at a time.

    Opening a slot locks a free slot number of this machine. As root, it
    creates the slot's account and kills what an earlier holder of the slot,
    killed before its clean-up, left running. It then writes the kernelspec
    and the nbgrader configuration into a temporary folder, which
    ``environment`` adds to Jupyter's paths. Use as a context manager, and
    call ``clean_up`` after each submission.
    """

    def __init__(self, limits=Limits(), user=SANDBOX_USER):
        self.limits = limits
        self.base_user = user if running_as_root() else ""
        self.user = ""
        self.uid = None
        self.index = None
        self.folder = None
        self._lock = None

    def __enter__(self):
        try:
            self.index, self._lock = _acquire_slot()
            # Folders of this slot belong to an earlier holder that was
            # killed before it could delete them.
            prefix = f"course-sandbox-{self.index}-"
            for stale in Path(tempfile.gettempdir()).glob(prefix + "*"):
                shutil.rmtree(stale, ignore_errors=True)
            if self.base_user:
                self.user = slot_user(self.base_user, self.index)
                self.uid = ensure_user(self.user).pw_uid
                kill_account_processes(self.uid, self.user)
                check_account_can_run_python(self.user)
            self.folder = Path(tempfile.mkdtemp(prefix=prefix))
            # The working folders of the kernels go here; the sandbox
            # account may enter it but not list it.
            self.work_parent = self.folder / "work"
            self.work_parent.mkdir()
            os.chmod(self.folder, 0o711)
            os.chmod(self.work_parent, 0o711)
            self._write_kernelspec()
            self._write_config()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info):
        try:
            if self.folder is not None:
                self.clean_up()
                shutil.rmtree(self.folder, ignore_errors=True)
        finally:
            if self._lock is not None:
                os.close(self._lock)  # closing releases the lock
                self._lock = None

    def environment(self, base):
        """Return ``base`` with the slot's Jupyter paths added."""
        environment = dict(base)
        for variable, path in (("JUPYTER_PATH", self.folder / "share"),
                               ("JUPYTER_CONFIG_PATH", self.folder / "config")):
            environment[variable] = os.pathsep.join(
                part for part in (str(path), environment.get(variable, "")) if part
            )
        return environment

    def clean_up(self):
        """Kill the slot account's processes and delete its working folders."""
        if self.uid is not None:
            kill_account_processes(self.uid, self.user)
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


class Sandbox:
    """File permissions of one grading run, and its first kernel slot.

    Use as a context manager around the grading of a course root::

        with Sandbox(root, limits) as sandbox:
            course.nbgrader(..., sandbox=sandbox)
            sandbox.clean_up()

    ``environment`` and ``clean_up`` act on the run's first slot; parallel
    workers each open their own with ``slot()``.
    """

    def __init__(self, root, limits=Limits(), user=SANDBOX_USER):
        self.root = Path(root).resolve()
        self.limits = limits
        self.user = user if running_as_root() else ""
        self._modes = {}
        self._paths_users = None
        self._slot = None

    def __enter__(self):
        # Turn SIGTERM and SIGHUP into SystemExit, so that __exit__ restores
        # the file modes when the grading is stopped with kill or its
        # terminal closes.
        self._previous_handlers = {}
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGHUP):
                self._previous_handlers[number] = signal.signal(number, _exit_on_signal)
        try:
            if self.user:
                ensure_user(self.user)
                self._open_interpreter_path()
                self._protect()
            self._slot = self.slot().__enter__()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info):
        try:
            if self._slot is not None:
                self._slot.__exit__(None, None, None)
                self._slot = None
        finally:
            self._restore()
            self._close_interpreter_path()
            for number, handler in self._previous_handlers.items():
                signal.signal(number, handler)

    def slot(self):
        """Return a new, unopened KernelSlot with the run's limits."""
        return KernelSlot(self.limits, self.user or SANDBOX_USER)

    def environment(self, base):
        return self._slot.environment(base)

    def clean_up(self):
        self._slot.clean_up()

    def _open_interpreter_path(self):
        """Let others search the folders above the Python installation.

        A Python installed under a private home folder (pyenv in /root, mode
        700) cannot start as the sandbox account otherwise. Only the search
        bit is added, so names in those folders cannot be listed. Runs at
        the same time share the change: the first one records the modes in
        PATHS_STATE, and the last one to close restores them.
        """
        mutex = _open_lock(PATHS_MUTEX)
        try:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            self._paths_users = _open_lock(PATHS_USERS)
            fcntl.flock(self._paths_users, fcntl.LOCK_SH)
            state_path = Path(tempfile.gettempdir()) / PATHS_STATE
            state = json.loads(state_path.read_text()) if state_path.is_file() else {}
            targets = {Path(PYTHON).resolve(), Path(sys.prefix).resolve(),
                       Path(sys.base_prefix).resolve()}
            for target in targets:
                for folder in reversed(target.parents):
                    mode = stat.S_IMODE(folder.stat().st_mode)
                    if mode & stat.S_IXOTH:
                        continue
                    logger.warning(
                        "Adding search permission for others to %s while grading, "
                        "so that the sandbox account can start %s", folder, PYTHON,
                    )
                    state.setdefault(str(folder), mode)
                    os.chmod(folder, mode | stat.S_IXOTH)
            state_path.write_text(json.dumps(state))
        finally:
            os.close(mutex)

    def _close_interpreter_path(self):
        if self._paths_users is None:
            return
        mutex = _open_lock(PATHS_MUTEX)
        try:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            try:
                # Succeeds only when no other run holds its shared lock.
                fcntl.flock(self._paths_users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            state_path = Path(tempfile.gettempdir()) / PATHS_STATE
            if state_path.is_file():
                for folder, mode in json.loads(state_path.read_text()).items():
                    try:
                        os.chmod(folder, mode)
                    except FileNotFoundError:
                        pass
                state_path.unlink()
        finally:
            os.close(self._paths_users)
            self._paths_users = None
            os.close(mutex)

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


def sandbox_disabled():
    """True when COURSE_SANDBOX=0 (or false, no) turns the sandbox off."""
    return os.environ.get("COURSE_SANDBOX", "1").strip().lower() in {"0", "false", "no"}


def course_limits(root):
    """Return the Limits of the course's nbgrader_config.py."""
    from .validate import load_config

    return Limits.from_config(load_config(Path(root) / "nbgrader_config.py"))


def open_sandbox(root):
    """Return the course's Sandbox, or a context of None when disabled.

    COURSE_SANDBOX=0 in the environment grades without the sandbox, for a
    machine where it cannot work; the limits come from the course's
    nbgrader_config.py.
    """
    if sandbox_disabled():
        logger.warning("COURSE_SANDBOX=0: student code runs without the sandbox")
        return contextlib.nullcontext()
    return Sandbox(root, course_limits(root))
