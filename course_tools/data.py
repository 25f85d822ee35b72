"""Fetch, ahead of time, the data sets that the problem sets load.

Notebooks fetch their data through ``helpers`` on first use as well; running
this first keeps downloads out of grading runs and shows which source (the
real download or the offline copy) is in use.
"""

import importlib
import logging

logger = logging.getLogger(__name__)

# Problem set -> the helpers functions that fetch and validate its data.
FETCHERS = {
    "ex10": ["helpers.movielens:fetch_movielens"],
    "ex13": ["helpers.mnist:fetch_mnist"],
}


def fetch(problem_sets):
    """Run the fetchers of ``problem_sets``; log one line per data set."""
    for problem_set in problem_sets:
        for target in FETCHERS.get(problem_set, ()):
            module_name, function_name = target.split(":")
            function = getattr(importlib.import_module(module_name), function_name)
            logger.info("Fetching the data of %s with %s", problem_set, target)
            function()
