"""nbgrader preprocessors that keep grading going on hostile notebooks.

``LimitedExecute`` is nbgrader's Execute with a cap on each cell's output
and a notebook that goes on after its kernel dies or stops responding.
``DropDuplicateIds`` fixes nbgrader's handling of a test cell that a
student split in two. The sandboxed autograding (``sandbox.py``) and the
students' ``make check`` and ``make validate`` (``validate.py``) use them.
"""

import json

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import DeduplicateIds, Execute
from traitlets import Integer

NOT_RUN = "not run"  # starts the error of a cell after the kernel was lost

# Errors that nbclient (the time limit) or LimitedExecute put in a cell.
GRADER_ERRORS = ("CellTimeoutError", "KernelLost")


class LimitedExecute(Execute):
    """nbgrader's Execute, keeping at most ``max_output_bytes`` per cell.

    Output past the cap is dropped as it arrives, with one note per stream,
    so a cell that prints gigabytes cannot fill the grader's memory or the
    autograded notebook. Errors and execute results are always kept, cut
    to a short length, because nbgrader reads a cell's score from them. A
    stderr note replaces dropped stderr, so such a test cell still fails.
    """

    max_output_bytes = Integer(
        1024 * 1024, help="Bytes of output kept per cell; -1 for no limit."
    ).tag(config=True)

    SHORT_TEXT = 2000  # characters kept of an error or execute result

    def preprocess(self, nb, resources=None, km=None):
        self._output_bytes = {}
        self._truncated = set()
        self._kernel_lost = None  # why the kernel is gone, once it is
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        """Run one cell; after the kernel is lost, fail the remaining cells.

        nbclient raises DeadKernelError when the kernel exits or crashes,
        and CellTimeoutError when it does not respond to the interrupt
        that ends a timed-out cell. nbgrader would then grade none of the
        notebook, so the cell gets an error instead, and every later code
        cell gets an error without running: nbgrader scores a test cell
        without an error as passed.
        """
        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
        if self._kernel_lost:
            cell.outputs = [_error_output("KernelLost", f"{NOT_RUN}: {self._kernel_lost}")]
            return cell, resources
        name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"code cell {index}"
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            message = (
                "the kernel died while running this cell: it exited, crashed "
                "or ran past a resource limit (memory, CPU time, processes)"
            )
            where = f"the kernel died in {name}"
        except CellTimeoutError:
            message = (
                "the cell ran past its time limit and did not stop when "
                "interrupted, so the kernel was stopped"
            )
            where = f"the kernel was stopped in {name}"
            run_sync(self.km.shutdown_kernel)(now=True)
        self.log.warning("%s: %s", name, message)
        cell.outputs.append(_error_output("KernelLost", message))
        self._kernel_lost = where
        return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or self.max_output_bytes < 0:
            return out
        used = self._output_bytes.get(cell_index, 0)
        size = len(json.dumps(out))
        if used + size <= self.max_output_bytes:
            self._output_bytes[cell_index] = used + size
            return out

        if outs and outs[-1] is out:
            outs.pop()
        self._output_bytes[cell_index] = self.max_output_bytes
        remaining = max(0, self.max_output_bytes - used)
        if out.output_type == "stream":
            if remaining:
                outs.append(new_output("stream", name=out.name, text=out.text[:remaining]))
            self._note_truncation(outs, cell_index, out.name)
        elif out.output_type == "error":
            out.evalue = out.evalue[: self.SHORT_TEXT]
            out.traceback = [line[: self.SHORT_TEXT] for line in out.traceback[-20:]]
            outs.append(out)
        elif out.output_type == "execute_result":
            text = out.data.get("text/plain", "")
            out.data = {"text/plain": text[: self.SHORT_TEXT]}
            outs.append(out)
        else:
            self._note_truncation(outs, cell_index, "stdout")
        return None

    def _note_truncation(self, outs, cell_index, stream):
        if (cell_index, stream) in self._truncated:
            return
        self._truncated.add((cell_index, stream))
        outs.append(new_output(
            "stream",
            name=stream,
            text=(
                f"\n[output truncated: this cell wrote more than "
                f"{self.max_output_bytes // 1024} kB, the limit per cell]\n"
            ),
        ))


class DropDuplicateIds(DeduplicateIds):
    """nbgrader's DeduplicateIds, removing the repeated cell's metadata key.

    nbgrader 0.9.6 leaves an empty ``nbgrader`` dict on the repeated cell
    (a test cell split in two by the student), which its own metadata check
    then rejects, so the whole submission fails to grade. Without the key
    the repeated cell is an ordinary code cell.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


def _error_output(name, message):
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])
