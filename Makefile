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

# Number of parallel workers: pytest workers for `make test`, students
# graded at once for `make autograde`. 1 runs everything in one process.
JOBS ?= 1
# Address of a Dask scheduler for `make autograde`, e.g. tcp://10.0.0.5:8786.
SCHEDULER ?=

# Where `make grades` writes the scores.
CSV ?= grades.csv

.PHONY: course test venv data release demo validate check autograde feedback \
	grades collect publish bench clean help

help:
	@echo "make course     set up everything and grade the demo submissions"
	@echo "make test       run the test suite (unit, notebooks, grading)"
	@echo "make data       download or build the data sets"
	@echo "make demo       grade the reference and the blank release"
	@echo "make bench      run the benchmarks and print their figures"
	@echo "make clean      remove .venv, data/ and scratch folders"
	@echo
	@echo "Students:"
	@echo "make check PS=ex12          run ex12/ex12.ipynb and list each graded task"
	@echo "make validate NB=ex12/ex12.ipynb   validate one notebook"
	@echo
	@echo "Instructors:"
	@echo "make release                regenerate release/ and the student folders, check for leaks"
	@echo "make collect ZIP=subs.zip   import <student_id>_<anything>_<ps>.ipynb files into submitted/"
	@echo "make autograde PS=ex12      autograde submitted/*/ex12/ into gradebook.db"
	@echo "    JOBS=4                  grade 4 students at a time; SCHEDULER=tcp://host:8786 uses a Dask cluster"
	@echo "make feedback PS=ex12       write feedback/<student>/ex12/*.html"
	@echo "make grades [CSV=file]      export every score to grades.csv"
	@echo "make publish DEST=folder    write the student copy of the course to DEST"

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

check: venv
	@$(BIN)/python -m course_tools --quiet check $(PS)

autograde: venv
	@$(BIN)/python -m course_tools --quiet autograde $(PS) --jobs $(JOBS) \
		$(if $(SCHEDULER),--scheduler $(SCHEDULER))

feedback: venv
	@$(BIN)/python -m course_tools --quiet feedback $(PS)

grades: venv
	@$(BIN)/python -m course_tools --quiet grades --output $(CSV)

collect: venv
	@test -n "$(ZIP)" || { echo "Usage: make collect ZIP=path/to/submissions.zip [PS=ex12]"; exit 2; }
	@$(BIN)/python -m course_tools --quiet collect $(ZIP) $(if $(PS),--problem-set $(PS))

publish: venv
	@test -n "$(DEST)" || { echo "Usage: make publish DEST=path/to/empty/folder"; exit 2; }
	@$(BIN)/python -m course_tools --quiet publish $(DEST)

test: venv data
	$(BIN)/python -m pytest $(if $(filter-out 1,$(JOBS)),-n $(JOBS) --dist loadfile)

bench: venv data
	@for script in benchmarks/*.py; do \
	    echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

clean:
	rm -rf $(VENV) data .scratch .pytest_cache
