# balloon-harness: `make bench` runs the default job, `make check` the tests. Both install what they need
# (Debian packages as root, a venv with the package) on first use.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
RESULTS := results
CHECK := $(RESULTS)/check
# Each target installs only what it uses (without Recommends): the default job needs QEMU, the guest's userland,
# the kernel source and its build tools; the tests add sshd and netns test hosts, the browser that checks the
# report, Debian's kernel configs, sparse (the static checks' third level) and QEMU's build dependencies.
BENCH_PACKAGES := qemu-system-x86 busybox-static dropbear-bin linux-source-6.1 build-essential flex bison bc \
	libelf-dev libssl-dev cpio xz-utils lz4 patch python3-venv git openssh-client dpkg-dev
CHECK_PACKAGES := $(BENCH_PACKAGES) openssh-server iproute2 chromium linux-config-6.1 meson ninja-build sparse \
	libglib2.0-dev libpixman-1-dev libslirp-dev libfdt-dev
PACKAGES := $(CHECK_PACKAGES)
bench: PACKAGES := $(BENCH_PACKAGES)
AVOCADO := $(BIN)/avocado run --max-parallel-tasks 1
AVOCADO_RUN := $(AVOCADO) --job-results-dir $(RESULTS)
# The tests' temporary files all go into one TMPDIR, removed when the recipe line ends (pass or fail); its name
# is short, as reply.txt quotes paths under it within 72 columns.
SCRATCH := export TMPDIR=$$(mktemp -d /tmp/bh.XXXX) && trap 'rm -rf "$$TMPDIR"' EXIT &&

.PHONY: bench check deps packages users rebuild sandbox unit nightly soak verdicts boot review calibration record matrix seed migration counting bisect staircase clean
bench: packages users $(VENV)/.installed
	$(BIN)/balloon-harness build configs/default.yaml
	$(AVOCADO_RUN) tests/balloon/benchmark.py -m configs/default.yaml

check: deps    # outcomes are counted from $(CHECK)/ (pytest's JUnit XML, Avocado's results.json): .ci/outcomes.py
	rm -rf $(CHECK)
	$(SCRATCH) $(BIN)/python -m pytest -q -p no:cacheprovider --durations=10 --junitxml=$(CHECK)/pytest.xml \
		tests/unit tests/integration && \
	$(AVOCADO) --job-results-dir $(CHECK) tests/balloon/benchmark.py -m configs/check.yaml && \
	$(AVOCADO) --job-results-dir $(CHECK) tests/balloon/functional.py -m configs/check.yaml \
		--filter-by-tags=-migration-cases --filter-by-tags-include-empty

unit: deps
	$(SCRATCH) $(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

NIGHTLY_RESULTS := $(RESULTS)/nightly
nightly:       # the nightly job (docs/nightly.md); make exits 2 on any failure: schedulers run contrib/nightly
	contrib/nightly configs/nightly.yaml --results-dir $(NIGHTLY_RESULTS) $(NIGHTLY_ARGS)

soak: deps     # benchmark: 1000 inflate/deflate cycles on one guest
	$(BIN)/python benchmarks/soak.py --cycles 1000

verdicts: deps # benchmark: 10 A/A + v2 jobs, verdicts counted
	$(BIN)/python benchmarks/verdicts.py --jobs 10

boot: deps     # benchmark: where a guest's boot goes, QEMU's start to SSH ready
	$(BIN)/python benchmarks/boot.py

review: deps   # benchmark: a review of batch-pfns v1 and v2 timed from start to reply.txt
	$(BIN)/python benchmarks/review.py

calibration: deps # benchmark: the job verdict, the rounds that stop, the nightly, the answers (where counted)
	for r in benchmarks/data/calibration-*.json; do $(BIN)/python benchmarks/calibration.py $$r && \
		$(BIN)/python benchmarks/sequential.py $$r && $(BIN)/python benchmarks/nightly_replay.py $$r || exit 1; \
		if grep -q guest_insns $$r; then $(BIN)/python benchmarks/answers.py $$r || exit 1; fi; done

record: deps   # a new recording for the calibration (configs/calibration.yaml), kept in benchmarks/data/
	$(AVOCADO_RUN) tests/balloon/benchmark.py -m configs/calibration.yaml
	$(BIN)/python benchmarks/record.py "$$(ls -dt $(RESULTS)/job-* | head -1)" \
		> benchmarks/data/calibration-$$(date -u +%Y%m%dT%H%M).json

matrix: deps  # the test matrix (docs/matrix.md): kernel profiles x init_on_alloc; kernels x patched QEMU builds
	$(BIN)/balloon-harness build configs/matrix-kernel.yaml
	$(BIN)/balloon-harness build configs/matrix-qemu.yaml
	$(AVOCADO_RUN) tests/balloon/benchmark.py -m configs/matrix-kernel.yaml
	$(AVOCADO_RUN) tests/balloon/benchmark.py -m configs/matrix-qemu.yaml

seed: deps    # the seed series' scenario (docs/seed.md): the timed job, then one round counting ranges and discards
	$(BIN)/balloon-harness build configs/seed.yaml
	$(AVOCADO_RUN) tests/balloon/benchmark.py -m configs/seed.yaml
	$(AVOCADO_RUN) tests/balloon/benchmark.py -m configs/seed.yaml configs/counts.yaml --mux-filter-only /run/rounds/r1

bisect: deps  # benchmark: bisect a planted history of 32 kernel commits, timed (docs/bisect.md)
	$(SCRATCH) $(BIN)/python benchmarks/bisection.py

staircase: deps # benchmark: the staircase of ranges v3, every prefix a variant, timed (docs/staircase.md)
	$(BIN)/balloon-harness build configs/staircase.yaml
	$(SCRATCH) $(BIN)/python benchmarks/staircase.py

migration: deps # live migration (docs/seed.md, "The other half"): the functional checks, then the benchmark
	$(BIN)/balloon-harness build configs/migration.yaml
	$(AVOCADO_RUN) tests/balloon/functional.py:Functional.test_migration -m configs/migration.yaml
	$(AVOCADO_RUN) tests/balloon/benchmark.py -m configs/migration-bench.yaml

counting: deps # benchmark: the counting plugin's cost on the timed inflate, its count's CV; 5 boots with, 5 without
	$(BIN)/python benchmarks/counting.py --boots 5

rebuild: deps  # benchmark: a series' rebuild with and without the static checks and the sandbox, 5 builds each
	$(BIN)/python benchmarks/rebuild.py --builds 5

sandbox: deps  # benchmark: inflates with QEMU in its sandbox as balloon-qemu, and as root unsandboxed, 5 boots each
	$(BIN)/python benchmarks/counting.py --setups plugin,root --boots 5 --config configs/check.yaml

deps: packages users $(VENV)/.installed-test

packages:
	@missing=$$(for p in $(PACKAGES); do \
		dpkg-query -W -f='$${db:Status-Status}\n' $$p 2>/dev/null | grep -qx installed || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The unprivileged users that builds of a series and guests' QEMUs run as (harness/privilege.py, docs/security.md);
# /dev/kvm as Debian's udev rule leaves it where no udev ran: group kvm, 0660.
users:
	@if [ "$$(id -u)" = 0 ]; then \
		for u in balloon-build balloon-qemu; do id -u $$u >/dev/null 2>&1 || \
			useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $$u; done; \
		if [ -c /dev/kvm ]; then getent group kvm >/dev/null || groupadd --system kvm; \
			[ "$$(stat -c %G /dev/kvm)" = kvm ] || { chgrp kvm /dev/kvm && chmod 0660 /dev/kvm; }; fi; \
		if getent group kvm >/dev/null; then usermod -a -G kvm balloon-qemu; fi; \
	fi

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/pip || python3 -m venv $(VENV)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) $(RESULTS) *.egg-info
