# mandate build. Everything but src/main.c goes into build/<variant>/libmandate.a,
# which the binary, the unit tests and the fuzzers link.
#
#   make            build build/mandate
#   make run        install dependencies, build, start on 127.0.0.1:8080 with ./var/mandate.db
#   make test       install dependencies (with PostgreSQL 15), build, run every test: unit, unit
#                   under ASan+UBSan, fuzz smoke, third-party SCIM suites, the MCP conformance
#                   suite, and black-box on SQLite and on a throwaway PostgreSQL cluster
#                   (scripts/test.sh)
#   make fuzz       build the libFuzzer drivers (clang)
#   make browser    the console's browser tests (Debian's chromium, headless; scripts/browser-test.sh)
#   make install    build/mandate to $(PREFIX)/bin, the catalog and the console (web/) to
#                   $(PREFIX)/share/mandate, where the binary finds them (docs/console.md)
#
# `make it` and `make conformance` run on SQLite; MANDATE_TEST_BACKENDS="sqlite postgres" (or
# "postgres") adds PostgreSQL, on MANDATE_TEST_PG or on a cluster started for the run.

CC      ?= cc
PKGS    := libmicrohttpd jansson sqlite3 openssl libpq libcurl
WARN    := -std=c17 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Wcast-qual -Wwrite-strings -fno-common
ifdef WERROR
WARN    += -Werror
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
CFLAGS  ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -Isrc $(PKG_CFLAGS)

SRCS      := $(sort $(filter-out src/main.c,$(wildcard src/*/*.c)))
HDRS      := $(wildcard src/*/*.h)
UNIT_SRCS := $(sort $(wildcard tests/unit/*/*.c))
FUZZ_SRCS := $(sort $(wildcard fuzz/*.c))

B        := build
OBJS     := $(SRCS:src/%.c=$(B)/obj/%.o)
ASAN_DIR := $(B)/asan
ASAN_OBJS:= $(SRCS:src/%.c=$(ASAN_DIR)/obj/%.o)
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all deps deps-test run test unit unit-asan it it-asan conformance mcp-conformance fuzz \
        fuzz-smoke clean format browser install

all: $(B)/mandate

$(B)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c $< -o $@

$(B)/libmandate.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/mandate: src/main.c $(B)/libmandate.a
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $< $(B)/libmandate.a $(PKG_LIBS) -o $@

$(B)/unit_tests: $(UNIT_SRCS) $(B)/libmandate.a
	$(CC) $(CPPFLAGS) -Itests/unit $(WARN) -Wno-missing-prototypes $(CFLAGS) $(UNIT_SRCS) \
	    $(B)/libmandate.a $(PKG_LIBS) -lcriterion -o $@

# The same library and tests under AddressSanitizer and UndefinedBehaviorSanitizer.
$(ASAN_DIR)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) -O1 -g $(SAN) -c $< -o $@

$(ASAN_DIR)/libmandate.a: $(ASAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(ASAN_DIR)/unit_tests: $(UNIT_SRCS) $(ASAN_DIR)/libmandate.a
	$(CC) $(CPPFLAGS) -Itests/unit $(WARN) -Wno-missing-prototypes -O1 -g $(SAN) $(UNIT_SRCS) \
	    $(ASAN_DIR)/libmandate.a $(PKG_LIBS) -lcriterion -o $@

$(ASAN_DIR)/mandate: src/main.c $(ASAN_DIR)/libmandate.a
	$(CC) $(CPPFLAGS) $(WARN) -O1 -g $(SAN) $< $(ASAN_DIR)/libmandate.a $(PKG_LIBS) -o $@

deps:
	@scripts/install-deps.sh

deps-test:
	@scripts/install-deps.sh --test

run: deps
	@$(MAKE) --no-print-directory $(B)/mandate
	@mkdir -p var
	$(B)/mandate serve --listen $${MANDATE_LISTEN:-127.0.0.1:8080} --db $${MANDATE_DB:-./var/mandate.db}

unit: $(B)/unit_tests
	$(B)/unit_tests --jobs 2

unit-asan: $(ASAN_DIR)/unit_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(ASAN_DIR)/unit_tests --jobs 2

it: $(B)/mandate
	@scripts/it.sh

# The black-box suite against the binary built with AddressSanitizer and UBSan.
it-asan: $(ASAN_DIR)/mandate
	@MANDATE_BIN=$(ASAN_DIR)/mandate ASAN_OPTIONS=detect_leaks=1 scripts/it.sh

conformance: $(B)/mandate
	@scripts/conformance.sh

# The admin console in a real browser: playwright-core (tests/browser/package-lock.json) drives
# Debian's chromium package headless; the script installs either when missing. Screenshots of
# every page go to tests/out/browser/.
browser: $(B)/mandate
	@scripts/browser-test.sh

# An installed mandate finds its catalog and console beside it: PREFIX/share/mandate/{catalog,web}.
PREFIX  ?= /usr/local
DESTDIR ?=
install: $(B)/mandate
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/mandate
	install -m 0755 $(B)/mandate $(DESTDIR)$(PREFIX)/bin/mandate
	rm -rf $(DESTDIR)$(PREFIX)/share/mandate/catalog $(DESTDIR)$(PREFIX)/share/mandate/web
	cp -R catalog $(DESTDIR)$(PREFIX)/share/mandate/catalog
	cp -R web $(DESTDIR)$(PREFIX)/share/mandate/web

# The official MCP conformance suite (npm @modelcontextprotocol/conformance, on Node 22 from npm)
# against /mcp; tests/mcp-conformance/README.md lists the scenarios and why some do not apply.
mcp-conformance: $(B)/mandate
	@scripts/mcp-conformance.sh

# libFuzzer drivers: the library rebuilt by clang with coverage instrumentation (which also
# keeps the code clean under clang's warnings).
FUZZ_DIR  := $(B)/fuzz
FUZZ_OBJS := $(SRCS:src/%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_FLAGS:= -g -O1 -fsanitize=fuzzer-no-link,address,undefined
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_DIR)/%)

$(FUZZ_DIR)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) $(WARN) $(FUZZ_FLAGS) -c $< -o $@

$(FUZZ_DIR)/libmandate.a: $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/%: fuzz/%.c $(FUZZ_DIR)/libmandate.a
	clang $(CPPFLAGS) $(WARN) -Wno-missing-prototypes -g -O1 -fsanitize=fuzzer,address,undefined \
	    $< $(FUZZ_DIR)/libmandate.a $(PKG_LIBS) -o $@

fuzz: $(FUZZ_BINS)

# The OpenAPI document is assembled into the binary (.incbin in openapi.c).
$(B)/obj/admin/openapi.o $(ASAN_DIR)/obj/admin/openapi.o $(FUZZ_DIR)/obj/admin/openapi.o: \
    src/admin/openapi.json

# A short run of every driver over its corpus, as CI does.
fuzz-smoke: fuzz
	@scripts/fuzz-smoke.sh $(FUZZ_BINS)

# Every test; the last lines are the runners' own summaries (Criterion, then node:test).
# scripts/test.sh starts one PostgreSQL cluster for the run and removes it at the end.
test: deps-test
	@$(MAKE) --no-print-directory WERROR=1 all $(B)/unit_tests $(ASAN_DIR)/unit_tests $(ASAN_DIR)/mandate
	@scripts/test.sh

format:
	clang-format -i $(SRCS) src/main.c $(HDRS) $(UNIT_SRCS) $(FUZZ_SRCS)

clean:
	rm -rf $(B)
