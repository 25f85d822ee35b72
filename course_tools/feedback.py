"""Feedback preprocessor that explains failures caused by stderr output.

nbgrader scores a test cell that wrote to stderr as failed, even when its
checks passed and it printed "Your implementation is correct!". The
feedback then shows the success message next to a score of 0 without a
reason. ``ExplainStderr`` runs after nbgrader's ``GetGrades`` in
``c.GenerateFeedback.preprocessors`` and adds the reason below the output.
"""

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

EXPLANATION = (
    "Feedback: this test cell wrote to stderr (a warning, logging output or "
    "print(..., file=sys.stderr)), and the autograder scores any stderr "
    "output in a test cell as a failure, even after 'Your implementation is "
    "correct!'. Remove what writes to stderr: make check shows the cause.\n"
)


def _wrote_stderr(cell):
    return any(
        output.get("output_type") == "stream" and output.get("name") == "stderr"
        for output in cell.get("outputs", [])
    )


class ExplainStderr(NbGraderPreprocessor):
    """Append an explanation to test cells that lost points to stderr."""

    def preprocess_cell(self, cell, resources, index):
        grading = cell.metadata.get("nbgrader", {})
        is_test = grading.get("grade") and not grading.get("solution")
        score, points = grading.get("score"), grading.get("points")
        lost = score is not None and points is not None and score < points
        if cell.cell_type == "code" and is_test and lost and _wrote_stderr(cell):
            cell.outputs.append(new_output("stream", name="stdout", text=EXPLANATION))
        return cell, resources
