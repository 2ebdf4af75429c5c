# Two entry points: `make run` (the main job) and `make test`.
# Both create .venv on first use and (re)install requirements.txt when it changes.
# `make run EDITION=2023` runs the course's 2023 edition instead, into report/editions/2023/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.requirements-installed
NOTEBOOKS := backpropagation.ipynb gradient_descent.ipynb backward_rules.ipynb
EDITION ?= default
EDITION_DIR := report/editions/$(EDITION)

.PHONY: run test notebooks report venv release grade

run: notebooks report

test: $(INSTALLED)
	$(PY) -m pytest

venv: $(INSTALLED)

$(INSTALLED): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# Execute every notebook top to bottom: in place for this project's edition (the committed outputs),
# into the edition's folder for another one.
notebooks: $(INSTALLED)
	for nb in $(NOTEBOOKS); do \
		if [ "$(EDITION)" = default ]; then \
			$(PY) -m jupyter nbconvert --to notebook --execute --inplace \
				--ExecutePreprocessor.timeout=1800 $$nb || exit 1; \
		else \
			mkdir -p $(EDITION_DIR) && INF265_EDITION=$(EDITION) INF265_RESULTS_DIR=$(EDITION_DIR) \
			$(PY) -m jupyter nbconvert --to notebook --execute --output-dir $(EDITION_DIR) \
				--ExecutePreprocessor.timeout=1800 $$nb || exit 1; \
		fi; \
	done

report: $(INSTALLED)
	if [ "$(EDITION)" = default ]; then $(PY) report/build.py; else $(PY) report/build.py $(EDITION_DIR); fi

# The student version of both notebooks, with the harness and utils/ (see README, "For teachers").
OUT ?= student_version
release: $(INSTALLED)
	$(PY) tests_backpropagation.py release $(OUT) --edition $(EDITION)

# Grade SUBMISSIONS (Canvas's "Download Submissions" as it comes, folder or .zip; or one sub-folder or .zip
# per submission): the table on stdout, and in GRADED/ the gradebooks (detailed, and Canvas's import file),
# one feedback file per student (and canvas_reupload.zip), the full verdicts, marks.csv for the TA's marks (a
# template the first time; fill it in and grade again to merge them), the class overview, the similarity report,
# and run.json (grading again says whose points changed and why, and keeps the previous gradebooks).
# GRADE_OPTIONS: more options of grade, for example "--groups groups.csv --roster roster.csv
# --deadline 2026-02-20T23:59+01:00 --times times.json --assignment 'Project 1 (123456)'" (a deadline without its
# offset needs --timezone Europe/Oslo). Add --check-inputs to read and cross-check everything without grading.
SUBMISSIONS ?= submissions
GRADED ?= graded
grade: $(INSTALLED)
	$(PY) tests_backpropagation.py grade $(SUBMISSIONS) --csv $(GRADED)/gradebook.csv --canvas-csv $(GRADED)/canvas.csv \
		--feedback $(GRADED)/feedback --json $(GRADED)/verdicts.json --marks $(GRADED)/marks.csv \
		--overview $(GRADED)/overview.html --similarity $(GRADED)/similarity.html --record $(GRADED)/run.json $(GRADE_OPTIONS)
