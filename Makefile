# Two commands on a fresh Debian machine (as root): `make run` and `make test`.
# Each installs what is missing (Debian packages with apt-get, Python packages into
# .venv) and then runs.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= config/default.yaml
# Debian packages: the G.729 codec library, the SIP peers the interop tests drive
# (linphonec is the G.729-capable one), audio tools, and a C compiler for the RTP data
# plane (media/fastpath/rtpfast.c) and the benchmarks' load generator.
APT_PACKAGES := libbcg729-0 sip-tester baresip-core linphone-cli sipvicious sox espeak-ng \
                gcc libc6-dev
# Debian package -> a file it installs, to tell whether it is already there.
APT_PROBES := libbcg729-0:/usr/share/doc/libbcg729-0 sip-tester:/usr/bin/sipp \
              baresip-core:/usr/bin/baresip linphone-cli:/usr/bin/linphonec \
              sipvicious:/usr/bin/svwar sox:/usr/bin/sox espeak-ng:/usr/bin/espeak-ng \
              gcc:/usr/bin/gcc libc6-dev:/usr/include/stdio.h
DATA_PLANE := media/fastpath/_rtpfast.so

.PHONY: run test setup system-deps lint bench clean

run: setup
	$(PY) -m switch --config $(CONFIG)

test: setup
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

setup: system-deps $(VENV)/.installed $(DATA_PLANE)

system-deps:
	@missing=""; \
	for probe in $(APT_PROBES); do \
	  pkg=$${probe%%:*}; file=$${probe#*:}; \
	  [ -e "$$file" ] || dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then \
	  missing="$$missing python3 python3-venv python3-dev"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(DATA_PLANE): media/fastpath/rtpfast.c $(VENV)/.installed
	$(PY) -m media.fastpath

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: setup
	$(PY) bench/sip_parse.py
	$(PY) bench/sip_register.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis $(DATA_PLANE)
