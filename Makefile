PYTHON ?= python3

.PHONY: install demo test benchmarks docs

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[all,test]"

demo: install
	tfprune prune

test: install
	$(PYTHON) -m pytest

docs: install
	$(PYTHON) -m mkdocs build --strict --site-dir site

benchmarks: install
	$(PYTHON) benchmarks/bench_scale.py
	$(PYTHON) benchmarks/gpu_check.py
	$(PYTHON) benchmarks/bench_lamp_allocation.py
	$(PYTHON) benchmarks/bench_export.py
	$(PYTHON) benchmarks/bench_at_init.py
	$(PYTHON) benchmarks/bench_synflow_cost.py
	$(PYTHON) benchmarks/zoo_table.py
