"""nbgrader's ``Execute`` preprocessor, made to survive a kernel crash inside a submission.

Stock nbgrader abandons the whole notebook when the kernel dies (``os._exit(1)``, a segfault), so
the learner would get nothing for the tasks they did solve. :class:`CrashTolerantExecute` records
an error output on the cell that killed the kernel, restarts the kernel, re-runs the cells before
it (without the ones that crashed), and carries on — later tasks are graded normally. A cell
that times out without nbgrader's interrupt catching it is recorded as a timeout, the kernel is
interrupted, and grading goes on. Everything
else (timeouts with interrupt, error outputs, allow_errors) is nbgrader's own behaviour.
"""

from __future__ import annotations

import copy

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

KERNEL_DIED = "KernelDied"


class CrashTolerantExecute(Execute):
    """``nbgrader.preprocessors.Execute`` that restarts a dead kernel and continues."""

    def preprocess(self, nb, resources=None, km=None):
        self._crashed_cells: set[int] = set()
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._crashed_cells.add(index)
            cell.outputs.append(
                NotebookNode(
                    output_type="error",
                    ename=KERNEL_DIED,
                    evalue="the kernel died while running this cell (os._exit? a crash?)",
                    traceback=[f"{KERNEL_DIED}: the kernel died while running this cell"],
                )
            )
            self._restart_and_replay(index)
            return cell, self.resources
        except CellTimeoutError as error:  # e.g. no IOPub output in time: interrupt, carry on
            cell.outputs.append(
                NotebookNode(
                    output_type="error",
                    ename="CellTimeoutError",
                    evalue=str(error).splitlines()[0],
                    traceback=[f"CellTimeoutError: {str(error).splitlines()[0]}"],
                )
            )
            run_sync(self.km.interrupt_kernel)()
            return cell, self.resources

    def _restart_and_replay(self, upto: int) -> None:
        self.log.warning("Kernel died in cell %d; restarting it and replaying cells 0..%d", upto, upto - 1)
        run_sync(self.km.restart_kernel)(now=True)
        self.wait_for_reply(self.kc.kernel_info())
        for index in range(upto):
            cell = self.nb.cells[index]
            if cell.cell_type != "code" or index in self._crashed_cells:
                continue
            try:
                super().preprocess_cell(copy.deepcopy(cell), self.resources, index)
            except DeadKernelError:  # pragma: no cover - a replayed cell that now crashes
                self._crashed_cells.add(index)
                run_sync(self.km.restart_kernel)(now=True)
                self.wait_for_reply(self.kc.kernel_info())
