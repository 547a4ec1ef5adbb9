# fuzz/fuzz.mk — fuzz targets; included by the Makefile.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="id time cgi map queue"]
#
# Each target is built with clang's libFuzzer and ASan+UBSan and runs
# for FUZZ_SECONDS from its seed corpus fuzz/corpus/TARGET/ (inputs it
# finds go to fuzz/build/, so the committed corpus stays small).  A crash
# is saved as fuzz/build/crash-TARGET-*; copy it to fuzz/regressions/
# TARGET/ and `make check` replays it from then on, through
# fuzz/build/replay-TARGET, built with the ordinary compiler.

FUZZ_TARGETS ?= id time cgi map queue
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_CFLAGS  ?= -g -O1 -fno-omit-frame-pointer
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_OBJ := $(patsubst lib/%.c,fuzz/build/lib/%.o,$(filter-out lib/fetch.c lib/tls.c,$(LIB_SRC)))
FUZZ_BIN     := $(FUZZ_TARGETS:%=fuzz/build/fuzz_%)
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=fuzz/build/replay-%)

fuzz/build/lib/%.o: lib/%.c $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SAN) \
	    -fsanitize=fuzzer-no-link $(SQLITE_CFLAGS) $(PQ_CFLAGS) -c -o $@ $<

fuzz/build/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer \
	    -o $@ $< $(FUZZ_LIB_OBJ) $(SQLITE_LIBS) -ldl -lm -lpthread

fuzz/build/replay-%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz.h lib/librisk.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ fuzz/replay.c $< lib/librisk.a \
	    $(JQ_LIBS) $(SQLITE_LIBS) -lm $(LDFLAGS)

fuzz: $(FUZZ_BIN)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run $(FUZZ_TARGETS)

.PHONY: fuzz
