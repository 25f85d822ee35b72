# Two commands do everything on a fresh machine:
#   make course   set up .venv, fetch the data, generate the releases and
#                 grade the two demo submissions of every problem set
#   make test     run the whole test suite (what CI runs)

# The interpreter that creates .venv: python3.11 when on PATH, else python3.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Tools of the environment (jupyter, nbgrader, alembic) come first on PATH,
# as if it were activated.
export PATH := $(abspath $(BIN)):$(PATH)

# Number of pytest workers; 1 runs the suite in this process.
JOBS ?= 1

.PHONY: course test venv data release demo validate bench clean help

help:
	@echo "make course     set up everything and grade the demo submissions"
	@echo "make test       run the test suite (unit, notebooks, grading)"
	@echo "make release    regenerate release/ and the student folders"
	@echo "make data       download or build the data sets"
	@echo "make demo       grade the reference and the blank release"
	@echo "make validate NB=ex12/ex12.ipynb   validate one notebook"
	@echo "make bench      run the benchmarks and print their figures"
	@echo "make clean      remove .venv, data/ and scratch folders"

course: venv data release demo

venv: $(STAMP)

# The stamp is rebuilt when the requirements or the package metadata change,
# so a second `make course` skips the install.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || { echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@$(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else \
	    "The course needs Python 3.11 but $(VENV) has " + sys.version.split()[0] + \
	    ": delete $(VENV) and run make again with PYTHON=/path/to/python3.11")'
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

data: venv
	$(BIN)/python -m course_tools data

release: venv
	$(BIN)/python -m course_tools release

demo: venv
	$(BIN)/python -m course_tools demo

validate: venv
	@test -n "$(NB)" || { echo "Usage: make validate NB=path/to/notebook.ipynb"; exit 2; }
	$(BIN)/python -m course_tools validate $(NB)

test: venv data
	$(BIN)/python -m pytest $(if $(filter-out 1,$(JOBS)),-n $(JOBS) --dist loadgroup)

bench: venv data
	@for script in benchmarks/*.py; do \
	    echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

clean:
	rm -rf $(VENV) data .scratch .pytest_cache
