# mod_memguard - see README.md. `make help` lists the targets.
#
# Two layers (mod_memguard/README.md): the core (mod_memguard/core/) is
# compiled here with plain cc and WITHOUT httpd's include path, so it cannot
# grow an httpd or APR dependency; the glue (mod_memguard/httpd/) is compiled
# and linked by apxs together with the core objects.

APXS      ?= $(shell command -v apxs 2>/dev/null || command -v apxs2 2>/dev/null)
CC        ?= cc
PYTHON    ?= /usr/bin/python3
BUILD     := build
DESTDIR   ?=
# The one place the version is written is mod_memguard/core/mg_version.h.
VERSION   := $(shell sed -n 's/^\#define MG_VERSION "\([^"]*\)"$$/\1/p' \
                 mod_memguard/core/mg_version.h)

CORE_SRC  := $(sort $(wildcard mod_memguard/core/*.c))
GLUE_SRC  := $(sort $(wildcard mod_memguard/httpd/*.c))
HDRS      := $(wildcard mod_memguard/core/*.h mod_memguard/httpd/*.h)
CORE_OBJ  := $(patsubst mod_memguard/core/%.c,$(BUILD)/core/%.o,$(CORE_SRC))
ASAN_OBJ  := $(patsubst mod_memguard/core/%.c,$(BUILD)/asan/%.o,$(CORE_SRC))
UNIT_SRC  := $(sort $(wildcard t/unit/test_*.c))
UNIT_BIN  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
ASAN_BIN  := $(patsubst t/unit/%.c,$(BUILD)/asan/%,$(UNIT_SRC))
TOOL_SRC  := $(sort $(wildcard tools/*.c))
TOOL_BIN  := $(patsubst tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

MODULE    := mod_memguard/.libs/mod_memguard.so
MGTEST    := t/modules/.libs/mod_mgtest.so

# Recursive (=) on purpose: these run xml2-config, which may only exist
# after `make deps` has installed libxml2's headers.
XML_CFLAGS = $(shell xml2-config --cflags 2>/dev/null)
XML_LIBS   = $(shell xml2-config --libs 2>/dev/null)

WARN_CORE := -Wall -Wextra -Wshadow -Wconversion -Wformat=2 -Werror
# CPPFLAGS, CFLAGS and LDFLAGS (empty unless given) carry a distribution's
# build flags (dpkg-buildflags, %set_build_flags) into every compile and
# link; the project's warnings come after them and win.
# Link-time optimisation. A request passes through many small helpers
# (memguard_req(), memguard_engine(), the board's getters) that live in
# other files than their callers: LTO inlines them (about 1 k
# instructions fewer on a small XML-RPC call, t/bench/README.md; on a
# busy server, where the application evicts the module from the caches
# between two hooks, every scattered line costs more than its
# instructions). gcc only: apxs compiles the glue with
# the compiler APR was built with (gcc on Debian and Fedora), and the two
# halves' objects must be of one kind. The core's objects are fat (LTO
# and plain code): the unit tests and the tools link them without LTO.
# `make LTO=` builds without.
LTO        ?= $(if $(findstring Free Software Foundation,$(shell \
                 $(CC) --version 2>/dev/null)),-flto=auto)
# Calls into APR, httpd and libxml2 through the GOT, without a PLT stub:
# one cache line fewer per function called, on a path that runs cold
# (about 15 fewer code lines missed per call in callgrind's cache
# simulation, t/bench/README.md). gcc and clang.
NOPLT      := -fno-plt
CORE_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g -fPIC -fvisibility=hidden \
              $(NOPLT) $(CPPFLAGS) $(CFLAGS) \
              $(WARN_CORE) $(XML_CFLAGS)
APXS_FLAGS  = $(foreach f,$(LTO) $(NOPLT) $(CPPFLAGS) $(CFLAGS),-Wc,$(f)) \
              $(foreach f,$(if $(LTO),$(LTO) -O2) $(LDFLAGS),-Wl,$(f))
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all
TEST_CFLAGS = $(CORE_CFLAGS) -Imod_memguard/core \
              -DMG_FIXTURE_DIR='"$(CURDIR)/t/unit/fixtures"'

.PHONY: all module mgtest tools unit check-asan integration test run stop \
        install deps lint layers format format-check clean help bench fuzz \
        bench-headline version tarball deb srpm rpm

all: module tools ## build the module (and the tools)

module: $(MODULE) ## build mod_memguard.so with apxs

$(BUILD)/core/%.o: mod_memguard/core/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) $(if $(LTO),$(LTO) -ffat-lto-objects) -c -o $@ $<

$(BUILD)/asan/%.o: mod_memguard/core/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

$(MODULE): $(GLUE_SRC) $(CORE_OBJ) $(HDRS)
	$(APXS) -c -o mod_memguard/mod_memguard.la $(APXS_FLAGS) \
	    -Wc,-Wall -Wc,-Wextra -Wc,-Werror -Wc,-std=gnu11 \
	    -Wc,-fvisibility=hidden -Imod_memguard/core \
	    $(GLUE_SRC) $(CORE_OBJ) $(XML_LIBS) >$(BUILD)/apxs.log 2>&1 \
	    || { cat $(BUILD)/apxs.log; exit 1; }
	@grep -E ': (warning|error):|not portable' $(BUILD)/apxs.log \
	    | grep -v 'is not portable' || true

mgtest: $(MGTEST) ## build the test-only module mod_mgtest (never installed)

$(MGTEST): t/modules/mod_mgtest.c
	@mkdir -p $(BUILD)
	$(APXS) -c -o t/modules/mod_mgtest.la -Wc,-Wall -Wc,-Wextra -Wc,-Werror \
	    $< >$(BUILD)/apxs-mgtest.log 2>&1 || { cat $(BUILD)/apxs-mgtest.log; exit 1; }

tools: $(TOOL_BIN)

$(BUILD)/tools/%: tools/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) -Imod_memguard/core $(LDFLAGS) -o $@ $< $(CORE_OBJ) \
	    $(XML_LIBS)

$(BUILD)/unit/%: t/unit/%.c $(CORE_OBJ) t/unit/mg_test.h t/unit/mg_xmlmem.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Wno-conversion -o $@ $< $(CORE_OBJ) -lcmocka $(XML_LIBS)

$(BUILD)/asan/%: t/unit/%.c $(ASAN_OBJ) t/unit/mg_test.h t/unit/mg_xmlmem.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Wno-conversion $(ASAN_FLAGS) -o $@ $< $(ASAN_OBJ) \
	    -lcmocka $(XML_LIBS)

unit: $(UNIT_BIN) ## build and run the cmocka unit tests
	@fail=0; for t in $(UNIT_BIN); do \
	    echo "== $$t"; $$t || fail=1; done; \
	    if [ $$fail -ne 0 ]; then echo "unit tests FAILED"; exit 1; fi

check-asan: $(ASAN_BIN) ## unit tests under AddressSanitizer + UBSan
	@fail=0; for t in $(ASAN_BIN); do \
	    echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t || fail=1; done; \
	    if [ $$fail -ne 0 ]; then echo "asan unit tests FAILED"; exit 1; fi

integration: module mgtest tools ## run the pytest integration tests against a real httpd
	MG_MODULE=$(CURDIR)/$(MODULE) MG_MGTEST=$(CURDIR)/$(MGTEST) \
	    $(PYTHON) -m pytest -ra -q t/integration $(PYTEST_ARGS)

deps: ## install missing build and test dependencies (apt-get or dnf)
	@sh tools/install-deps.sh

test: deps ## install what is missing, then unit + integration tests
	@$(MAKE) --no-print-directory all mgtest bench-build
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration

run: deps ## build and start a private httpd with the demo hub on 127.0.0.1
	@$(MAKE) --no-print-directory all
	@$(PYTHON) -m t.harness.run start --module $(CURDIR)/$(MODULE) $(if $(PORT),--port $(PORT))

stop: ## stop the httpd started by `make run`
	@$(PYTHON) -m t.harness.run stop

install: module ## install the module (and conf snippets) with apxs; honours DESTDIR
	@sh tools/install.sh "$(APXS)" "$(DESTDIR)"

# Packages (README, "Packages"): tools/package.sh makes the source tarball
# from the tree (git archive of the tracked files as they are now), then
# the package in a directory of its own under build/, from tools/debian
# and tools/rpm with the version above.
version: ## print the version (mod_memguard/core/mg_version.h)
	@echo $(VERSION)

tarball: ## build/pkg/mod_memguard-VERSION.tar.gz from the tree
	@VERSION=$(VERSION) sh tools/package.sh tarball

deb: ## the Debian package libapache2-mod-memguard, in build/deb/
	@VERSION=$(VERSION) sh tools/package.sh deb

srpm: ## the source RPM (Fedora/RHEL spec), in build/rpm/SRPMS/
	@VERSION=$(VERSION) sh tools/package.sh srpm

rpm: ## the binary RPM, on Fedora/RHEL with httpd-devel, in build/rpm/RPMS/
	@VERSION=$(VERSION) sh tools/package.sh rpm

bench: deps ## benchmarks (ratios against a baseline measured in the same run)
	@$(MAKE) --no-print-directory all mgtest bench-build
	@$(PYTHON) -m t.bench

# The headline benchmark: the hub's bad night in a memory cgroup, without
# the module (A) and with conf/memguard.conf (B), plus the slab variant.
# Needs root and the cgroup v1 memory controller; about 6 minutes. Not part
# of `make test` nor of `make bench`. HEADLINE_ARGS, e.g.
# --update-readme-assets (copy the plots to tools/screenshots/).
# The plots need gnuplot (gnuplot-nox); without it the run says so and
# writes everything else.
bench-headline: deps ## the bad night with the module off and on, side by side (root)
	@$(MAKE) --no-print-directory all mgtest
	@$(PYTHON) -m t.bench.headline $(HEADLINE_ARGS)

lint: ## cppcheck, format check, log-number uniqueness, the layers, the docs' citations
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --suppress=missingIncludeSystem --inline-suppr \
	    -I mod_memguard/core $(CORE_SRC) $(TOOL_SRC)
	@$(MAKE) --no-print-directory format-check
	@$(PYTHON) tools/lognos.py --check
	@$(PYTHON) tools/doccheck.py
	@$(MAKE) --no-print-directory layers

# Calls and includes run down the layers (mod_memguard/README.md), read
# from the objects' symbols: the layer list is in tools/layers.py.
layers: module ## fail when a file calls up a layer (or sideways)
	@$(PYTHON) tools/layers.py

FORMAT_SRC = $(wildcard mod_memguard/core/*.[ch] mod_memguard/httpd/*.[ch] \
                        t/unit/*.[ch] t/modules/*.c \
                        t/fuzz/*.c t/bench/*.c tools/*.c)

format: ## reformat the C sources with clang-format
	clang-format -i $(FORMAT_SRC)

format-check: ## fail if clang-format would change the C sources
	@clang-format --dry-run --Werror $(FORMAT_SRC)

clean: ## remove every build output
	rm -rf $(BUILD) mod_memguard/.libs t/modules/.libs
	rm -f mod_memguard/*.la mod_memguard/httpd/*.o mod_memguard/httpd/*.lo \
	    mod_memguard/httpd/*.slo
	rm -rf mod_memguard/httpd/.libs
	rm -f t/modules/*.o t/modules/*.lo t/modules/*.la t/modules/*.slo

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
	    awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# Fuzzing: the core sources compiled again with clang and libFuzzer's
# coverage instrumentation into build/fuzz/. Seeds are copied into a work
# directory so that what the fuzzer finds never lands in the source tree.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -g -O1 $(WARN_CORE) $(XML_CFLAGS) \
                $(FUZZ_SAN)
FUZZ_OBJ     := $(patsubst mod_memguard/core/%.c,$(BUILD)/fuzz/%.o,$(CORE_SRC))

$(BUILD)/fuzz/%.o: mod_memguard/core/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(BUILD)/fuzz/fuzz_xmlrpc: t/fuzz/fuzz_xmlrpc.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Imod_memguard/core -o $@ $< \
	    $(FUZZ_OBJ) $(XML_LIBS)

fuzz: $(BUILD)/fuzz/fuzz_xmlrpc ## fuzz the XML-RPC inspector for FUZZ_SECONDS
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/artifacts
	cp t/unit/fixtures/xmlrpc/* $(BUILD)/fuzz/corpus/
	$(BUILD)/fuzz/fuzz_xmlrpc -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/artifacts/ $(BUILD)/fuzz/corpus

# Benchmarks of core parts: t/bench/*.c, one program each, built against
# the core objects. `make bench` runs them through t/bench/__main__.py.
BENCH_SRC := $(sort $(wildcard t/bench/*.c))
BENCH_BIN := $(patsubst t/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

$(BUILD)/bench/%: t/bench/%.c $(CORE_OBJ) t/unit/mg_xmlmem.h
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) -Imod_memguard/core -o $@ $< $(CORE_OBJ) $(XML_LIBS)

bench-build: $(BENCH_BIN)

bench-xmlrpc: $(BUILD)/bench/bench_xmlrpc ## XML-RPC inspector vs raw libxml2
	$(BUILD)/bench/bench_xmlrpc $(BENCH_ARGS)
