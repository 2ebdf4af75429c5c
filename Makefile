# Two entry points: `make run` (the main job) and `make test`.
# Both create .venv on first use and (re)install requirements.txt when it changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.requirements-installed
NOTEBOOKS := backpropagation.ipynb gradient_descent.ipynb

.PHONY: run test notebooks report venv release

run: notebooks report

test: $(INSTALLED)
	$(PY) -m pytest

venv: $(INSTALLED)

$(INSTALLED): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# Execute every notebook that exists, top to bottom, saving its outputs in place.
notebooks: $(INSTALLED)
	for nb in $(NOTEBOOKS); do \
		if [ -f $$nb ]; then \
			$(PY) -m jupyter nbconvert --to notebook --execute --inplace \
				--ExecutePreprocessor.timeout=1800 $$nb || exit 1; \
		fi; \
	done

report: $(INSTALLED)
	if [ -f report/build.py ]; then $(PY) report/build.py; fi

# The student version of both notebooks, with the harness and utils/ (see README, "For teachers").
OUT ?= student_version
release: $(INSTALLED)
	$(PY) tests_backpropagation.py release $(OUT)
