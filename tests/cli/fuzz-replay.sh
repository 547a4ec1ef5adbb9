#!/bin/bash
# The fuzz targets' seed corpus and every crash fuzzing once found
# (fuzz/regressions/TARGET/), replayed through the same target functions
# built with the ordinary compiler (and the sanitizers under SANITIZE=1).
# `make fuzz` does the fuzzing itself; see fuzz/fuzz.mk.
. "$(dirname "$0")/../lib.sh"

# libjq's own parser leaks, and one false positive (fuzz/lsan.supp)
export LSAN_OPTIONS=suppressions=$ROOT/fuzz/lsan.supp:print_suppressions=0
export ASAN_OPTIONS=fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
for t in id time cgi map queue; do
	bin=$ROOT/fuzz/build/replay-$t
	if [ ! -x "$bin" ]; then
		LAST="replay-$t"
		fail "fuzz/build/replay-$t not built (make check builds it)"
		continue
	fi
	run "$bin" "$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/regressions/$t"
	expect_rc 0
	expect_err_empty
	expect "replay-$t ran the corpus" grep -Eq '^replayed [1-9][0-9]* inputs$' "$T/out"
done

finish
