# mk/fuzz.mk -- clang sanitizer builds and fuzzing (included by Makefile).
#
#   make asan-clang      the tests/c drivers + engine under clang's ASan and
#                        UBSan (clang's UBSan flags what gcc's does not, e.g.
#                        pointer arithmetic on NULL), run them
#   make fuzz            every harness of tests/fuzz/ for FUZZ_SECONDS each
#                        under ASan+UBSan: the C ones with libFuzzer
#                        (clang -fsanitize=fuzzer), the Python text parsers
#                        with atheris (libFuzzer for Python)
#   make fuzz-NAME       one harness (NAME: see FUZZ_C and FUZZ_PY below)
#   make fuzz FUZZ_SECONDS=300        a longer run (docs/reliability.md)
#
# Each harness starts from its seed corpus, tests/fuzz/corpus/NAME/ (kept
# in the repository, with every crash ever found as a regression input);
# what a run discovers goes to build/fuzz/corpus/NAME/ and a crash to
# build/fuzz/crash-NAME-*, and the run fails.  `make test` runs both
# targets (c-checks) with the short default budget.  docs/reliability.md
# has the figures.

FUZZ_SECONDS ?= 8
FUZZ_FLAGS ?=
FUZZ_PYTHON ?= $(PYTHON)

# Engine and I/O sources: the Makefile's lists (ext/, dpio/); the harnesses
# build their frames with bench/framegen.h.
FUZZ_ENGINE_SRCS := $(EXT_SRCS) $(DPIO_SRCS)
FUZZ_ENGINE_HDRS := $(EXT_HDRS)
FUZZ_INC := -Iext -Idpio -Ibench

CLANG_SAN_FLAGS := -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all
CLANG_CFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread $(FUZZ_INC) -Wall -Wextra

# --- ASan + UBSan with clang: every tests/c driver. ---

ASAN_CLANG_OBJS := $(patsubst %.c,build/c/asan-clang/obj/%.o,\
	$(notdir $(FUZZ_ENGINE_SRCS)))
ASAN_CLANG_BINS := $(patsubst tests/c/%.c,build/c/asan-clang/%,$(C_TESTS))

vpath %.c ext dpio

build/c/asan-clang/obj/%.o: %.c $(FUZZ_ENGINE_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(CLANG_CFLAGS) $(CLANG_SAN_FLAGS) -c $< -o $@

build/c/asan-clang/%: tests/c/%.c $(C_TEST_HDRS) $(ASAN_CLANG_OBJS)
	$(CLANG) $(CLANG_CFLAGS) $(CLANG_SAN_FLAGS) $< $(ASAN_CLANG_OBJS) \
		-o $@ -lm

.PHONY: asan-clang fuzz fuzz-build
asan-clang: build/c/asan-clang.stamp
build/c/asan-clang.stamp: $(ASAN_CLANG_BINS)
	@for t in $(ASAN_CLANG_BINS); do \
		echo "  RUN $$t"; ./$$t || { echo "FAILED: $$t" >&2; exit 1; }; \
	done
	@touch $@

# --- libFuzzer harnesses (C) and atheris harnesses (Python). ---

FUZZ_C := packet_path pcap_reader
FUZZ_PY := flush_tuple ct_limits ct_action tp_args jsonrpc_framing
FUZZ_ALL := $(FUZZ_C) $(FUZZ_PY)

# Engine objects for the harnesses: instrumented for coverage too.
FUZZ_CFLAGS := $(CLANG_CFLAGS) $(CLANG_SAN_FLAGS) \
	-fsanitize=fuzzer-no-link
FUZZ_OBJS := $(patsubst %.c,build/fuzz/obj/%.o,$(notdir $(FUZZ_ENGINE_SRCS)))

build/fuzz/obj/%.o: %.c $(FUZZ_ENGINE_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzzlib.h bench/framegen.h $(FUZZ_OBJS)
	$(CLANG) $(CLANG_CFLAGS) $(CLANG_SAN_FLAGS) -fsanitize=fuzzer \
		$< $(FUZZ_OBJS) -o $@ -lm

fuzz-build: $(addprefix build/fuzz/,$(FUZZ_C))

# libFuzzer writes what it finds to the first corpus directory: a scratch
# one, so that the repository's seeds only change by hand.
# Longest input per harness (default: libFuzzer's, 4096 or the largest
# seed).
FUZZ_MAXLEN_packet_path := 2048 -len_control=0
FUZZ_RUN = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	$(if $(FUZZ_MAXLEN_$*),-max_len=$(FUZZ_MAXLEN_$*)) \
	-print_final_stats=1 -artifact_prefix=build/fuzz/crash-$*- $(FUZZ_FLAGS) \
	build/fuzz/corpus/$* tests/fuzz/corpus/$*

$(addprefix fuzz-,$(FUZZ_C)): fuzz-%: build/fuzz/%
	@mkdir -p build/fuzz/corpus/$*
	@echo "  FUZZ $* ($(FUZZ_SECONDS) s, libFuzzer)"
	@./build/fuzz/$* $(FUZZ_RUN) > build/fuzz/$*.log 2>&1 || \
		{ tail -n 60 build/fuzz/$*.log >&2; echo "FAILED: fuzz-$*" >&2; \
		  exit 1; }
	@grep -E '^stat::(number_of_executed_units|peak_rss_mb)' \
		build/fuzz/$*.log | tr '\n' ' '; echo

$(addprefix fuzz-,$(FUZZ_PY)): fuzz-%:
	@mkdir -p build/fuzz/corpus/$*
	@echo "  FUZZ $* ($(FUZZ_SECONDS) s, atheris)"
	@$(FUZZ_PYTHON) tests/fuzz/fuzz_text.py $* $(FUZZ_RUN) \
		> build/fuzz/$*.log 2>&1 || \
		{ tail -n 60 build/fuzz/$*.log >&2; echo "FAILED: fuzz-$*" >&2; \
		  exit 1; }
	@grep -E '^stat::(number_of_executed_units|peak_rss_mb)' \
		build/fuzz/$*.log | tr '\n' ' '; echo

fuzz: $(addprefix fuzz-,$(FUZZ_ALL))

# `make test` runs them with the C checks.
c-checks: asan-clang fuzz
