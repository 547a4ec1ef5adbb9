# risk — see README.md.  `make`, `make check`, `make bench`, `make demo`,
# `make install PREFIX=/usr/local DESTDIR=`.

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
DATADIR  ?= $(PREFIX)/share/risk
# where bash-completion looks for a command's completion
COMPDIR  ?= $(PREFIX)/share/bash-completion/completions
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     ?= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -D_GNU_SOURCE -Ilib
PKG_CONFIG ?= pkg-config

SQLITE_CFLAGS := $(shell $(PKG_CONFIG) --cflags sqlite3 2>/dev/null)
SQLITE_LIBS   := $(shell $(PKG_CONFIG) --libs sqlite3 2>/dev/null || echo -lsqlite3)
# SQLite is linked statically where the archive exists: every process
# starts faster (risk-get answers in about a millisecond, and most of
# that is process start).  SQLITE_STATIC=0 links the shared library.
SQLITE_STATIC ?= 1
SQLITE_A      := $(shell $(CC) -print-file-name=libsqlite3.a)
ifeq ($(SQLITE_STATIC),1)
ifneq ($(SQLITE_A),libsqlite3.a)
SQLITE_LIBS   := $(SQLITE_A) -lm -ldl -lpthread
endif
endif
CURL_CFLAGS   := $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null)
CURL_LIBS     := $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null || echo -lcurl)
# lib/tls.c reads the TLS files and watches handshakes with OpenSSL, which
# libcurl loads anyway.
CURL_LIBS     += $(shell $(PKG_CONFIG) --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)
# libjq is opened with dlopen on first use (lib/json.c): a program that
# prints records without a jq filter never pays for loading it.
JQ_LIBS       ?= -ldl
# libpq too (lib/pg.c), and only by a program opening a PostgreSQL
# database: its headers at build time, nothing at link time.
PQ_CFLAGS     := $(shell $(PKG_CONFIG) --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)

ifeq ($(WERROR),1)
WARN += -Werror
endif
# Not added to CFLAGS: a CFLAGS given on the command line (as .ci/run
# does) would drop them from the compiles and keep them in the links.
ifeq ($(SANITIZE),1)
SAN_CFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
# A sanitizer report stops the program with a status no program of ours
# uses (1 would read as "not cached"): 86 for ASan, 87 for UBSan.
SAN_ENV = ASAN_OPTIONS="$${ASAN_OPTIONS:+$$ASAN_OPTIONS:}halt_on_error=1:exitcode=86" \
	UBSAN_OPTIONS="$${UBSAN_OPTIONS:+$$UBSAN_OPTIONS:}halt_on_error=1:exitcode=87:print_stacktrace=1"
endif

ALL_CFLAGS = $(WARN) $(CFLAGS) $(SAN_CFLAGS) $(SQLITE_CFLAGS) $(CURL_CFLAGS) $(PQ_CFLAGS)

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:.c=.o)
CMD_SRC  := $(wildcard cmd/risk-*.c)
PROGS    := $(patsubst cmd/%.c,bin/%,$(CMD_SRC))
CMD_OBJ  := cmd/util.o cmd/progress.o
# Only the programs that talk to the legacy service link libcurl: it
# costs every process about 5 ms to load.
FETCH_PROGS := bin/risk-fetch bin/risk-drain

all: $(PROGS) bin/risk.bash

# Made from each program's --help, itself made from the table getopt reads.
bin/risk.bash: $(PROGS) scripts/risk-completion
	scripts/risk-completion $(PROGS) >$@.tmp && mv $@.tmp $@

# Made afresh: ar keeps members whose source is gone (a function moved
# to another file would then be defined twice).
lib/librisk.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# Each object depends on the headers it includes, as the compiler found
# them (-MMD); -MP keeps a removed header from breaking the build.
%.o: %.c
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(wildcard lib/*.d cmd/*.d tests/unit/*.d)

bin/%: cmd/%.o $(CMD_OBJ) cmd/fetchutil.o lib/librisk.a
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $< $(CMD_OBJ) \
	    $(if $(filter $@,$(FETCH_PROGS)),cmd/fetchutil.o) lib/librisk.a \
	    $(if $(filter $@,$(FETCH_PROGS)),$(CURL_LIBS)) $(JQ_LIBS) \
	    $(SQLITE_LIBS) -lm $(LDLIBS)

# ---- tests ----------------------------------------------------------------

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:.c=)

tests/unit/test_%: tests/unit/test_%.c lib/librisk.a
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -o $@ $< lib/librisk.a \
	    $(CURL_LIBS) $(JQ_LIBS) $(SQLITE_LIBS) -lm -lcmocka $(LDFLAGS)

include fuzz/fuzz.mk

check: all $(UNIT_BIN) $(FUZZ_REPLAY)
	@$(SAN_ENV) tests/run

lint-man:
	@bash tests/cli/man.sh

bench: all bench-bin
	@bench/run

# The C baselines link SQLite exactly as the programs do (statically
# where the archive exists): a fair comparison.
BENCH_BIN := $(patsubst bench/%.c,bench/bin/%,$(wildcard bench/*.c))
bench-bin: $(BENCH_BIN)
# The PostgreSQL baselines link libpq as a plain C client would.
bench/bin/pg-%: bench/pg-%.c Makefile
	@mkdir -p bench/bin
	$(CC) -O2 -Wall -Wextra $(PQ_CFLAGS) -o $@ $< -lpq $(LDLIBS)
bench/bin/%: bench/%.c Makefile
	@mkdir -p bench/bin
	$(CC) -O2 -Wall -Wextra $(SQLITE_CFLAGS) -o $@ $< $(SQLITE_LIBS) $(LDLIBS)

# From a clean clone on a fresh Debian machine: install, build, walk through.
demo:
	@scripts/install-deps
	@$(MAKE) --no-print-directory all >/dev/null
	@scripts/demo

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(wildcard man/*.7) $(DESTDIR)$(MANDIR)/man7
	install -d $(DESTDIR)$(DATADIR)/monitoring
	install -m 644 $(wildcard scripts/monitoring/*) $(DESTDIR)$(DATADIR)/monitoring
	install -m 755 scripts/risk-pg-roles $(DESTDIR)$(DATADIR)
	install -d $(DESTDIR)$(COMPDIR)
	install -m 644 bin/risk.bash $(DESTDIR)$(COMPDIR)/risk
	for p in $(notdir $(PROGS)); do ln -sf risk $(DESTDIR)$(COMPDIR)/$$p; done

clean:
	rm -rf bin lib/*.o lib/*.d lib/librisk.a cmd/*.o cmd/*.d $(UNIT_BIN) \
	    tests/unit/*.d bench/bin fuzz/build

.PHONY: all check lint-man bench demo install clean
.SECONDARY: $(LIB_OBJ) $(patsubst bin/%,cmd/%.o,$(PROGS)) $(CMD_OBJ) cmd/fetchutil.o
