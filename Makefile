# ovsct -- build, run and test.
#
#   make run        build, then replay the bundled capture and dump conntrack
#   make test       build + C checks (check-ext, tsa, asan, tsan, and from
#                   mk/fuzz.mk asan-clang and fuzz) + flake8 + pytest
#   make check-ext  ext/, dpio/ and bench/ build without Python; Python.h
#                   appears only under binding/
#   make tsa        clang -Wthread-safety -Werror on ext/, dpio/, bench/
#   make asan       tests/c drivers + engine + dpio under ASan/UBSan, run them
#   make tsan       stress driver + engine under TSan, run it
#   make bench      C benchmark driver (ovsct bench, module ovsct._bench)
#   make asan-clang the tests/c drivers under clang's ASan+UBSan (mk/fuzz.mk)
#   make fuzz       each libFuzzer/atheris harness for FUZZ_SECONDS (8)
#
# Layout: ext/ the engine (plain C), dpio/ frame I/O around it (captures,
# AF_PACKET, ctnetlink), bench/ the benchmark driver and the one C frame
# builder (framegen.h), binding/ the Python extensions (the only files with
# Python.h).  docs/architecture.md has the whole map.
#
# The C checks write stamp files under build/c/ and only rerun when a source
# changed, so tests/test_native.py (which calls them) costs nothing after
# `make test` has run them.

PYTHON ?= python3
CC ?= cc
CLANG ?= clang
JOBS ?= 2

# Engine sources: every ext/*.c; frame I/O: every dpio/*.c.
EXT_SRCS := $(wildcard ext/*.c)
DPIO_SRCS := $(wildcard dpio/*.c)
BENCH_SRCS := $(wildcard bench/*.c)
EXT_HDRS := $(wildcard ext/*.h dpio/*.h bench/*.h)
C_TESTS := $(wildcard tests/c/*.c)
SAMPLE := $(firstword $(wildcard data/sample.pcap) tests/data/sample.pcap)

# `ovsct` from PATH when installed, else the module itself.
OVSCT ?= $(shell command -v ovsct 2>/dev/null || \
	echo "$(PYTHON) -c 'import sys; from ovsct.cli import main; \
	sys.exit(main())'")

CFLAGS_C := -std=gnu11 -D_GNU_SOURCE -pthread -Iext -Idpio -Ibench -Wall -Wextra
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer
ASAN_FLAGS := $(SAN_FLAGS) -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
TSAN_FLAGS := $(SAN_FLAGS) -fsanitize=thread

# TSan needs a predictable address space on some kernels: run under
# `setarch -R` (ASLR off for that process) when available.
SETARCH := $(shell command -v setarch >/dev/null 2>&1 && \
	setarch $$(uname -m) -R true 2>/dev/null && echo "setarch $$(uname -m) -R")
export ASAN_OPTIONS ?= abort_on_error=0:detect_leaks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS ?= halt_on_error=1:second_deadlock_stack=1

# Keep the objects and binaries (they are intermediate to the stamps).
.SECONDARY:

.PHONY: all build run test system-deps lint pytest check-ext tsa asan tsan c-checks bench \
	clean

all: build

# build_ext --inplace puts ovsct/_engine*.so next to the sources, which is
# what `python -m pytest` (cwd first on sys.path) and an editable install
# both import.  The editable install (entry points `ovsct`, `ovsctd`) is
# made once, or again if `ovsct` resolves outside this tree.
build:
	@sh tools/bootstrap.sh python $(PYTHON)
	$(PYTHON) setup.py -q build_ext --inplace -j $(JOBS)
	@(cd / && $(PYTHON) -c "import sys, ovsct; \
	sys.exit(not ovsct.__file__.startswith('$(CURDIR)/'))") 2>/dev/null || \
	{ echo "pip install -e . (entry points)"; \
	  $(PYTHON) -m pip install -q --no-deps --no-build-isolation -e . && \
	  { command -v pyenv >/dev/null 2>&1 && pyenv rehash || true; }; }

run: build
	@test -f $(SAMPLE) || { echo "missing $(SAMPLE)" >&2; exit 1; }
	$(OVSCT) -r $(SAMPLE) dump-conntrack

# pytest's own status is make's: 5 (no tests collected) fails too.
test: system-deps build c-checks lint
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m flake8 ovsct unixctl tests benchmarks man setup.py

system-deps:
	@sh tools/bootstrap.sh system

pytest: build
	$(PYTHON) -m pytest -q

c-checks: check-ext tsa asan tsan

check-ext: build/c/check-ext.stamp
build/c/check-ext.stamp: $(EXT_SRCS) $(DPIO_SRCS) $(BENCH_SRCS) $(EXT_HDRS) \
		benchmarks/floor.c
	@mkdir -p build/c/obj
	@bad=$$(grep -rl --include='*.[ch]' 'Python\.h' ext dpio bench tests/c \
		benchmarks || true); \
	if [ -n "$$bad" ]; then \
		echo "Python.h outside binding/: $$bad" >&2; exit 1; fi
	@for f in $(EXT_SRCS) $(DPIO_SRCS) $(BENCH_SRCS); do \
		echo "  CC $$f"; \
		$(CC) $(CFLAGS_C) -Werror -O2 -c $$f \
			-o build/c/obj/$$(basename $$f .c).o \
			|| exit 1; \
	done
	@echo "  LD bench_main (engine + bench, no Python)"
	@$(CC) $(CFLAGS_C) -Werror -O2 benchmarks/bench_main.c \
		$(patsubst %.c,build/c/obj/%.o,$(notdir $(EXT_SRCS) $(BENCH_SRCS))) \
		-o build/c/bench_main -lm
	@echo "  LD floor (the bare hash+insert+lookup floor)"
	@$(CC) $(CFLAGS_C) -Werror -O2 benchmarks/floor.c \
		$(patsubst %.c,build/c/obj/%.o,$(notdir $(EXT_SRCS))) \
		-o build/c/floor -lm
	@touch $@

tsa: build/c/tsa.stamp
build/c/tsa.stamp: $(EXT_SRCS) $(DPIO_SRCS) $(BENCH_SRCS) $(EXT_HDRS)
	@mkdir -p build/c
	@for f in $(EXT_SRCS) $(DPIO_SRCS) $(BENCH_SRCS); do \
		echo "  TSA $$f"; \
		$(CLANG) -std=gnu11 -D_GNU_SOURCE -Iext -Idpio -Ibench \
			-Wthread-safety -Werror -fsyntax-only $$f || exit 1; \
	done
	@touch $@

# Engine (+ dpio) objects per sanitizer, then one binary per tests/c
# driver.
SAN_SRCS := $(EXT_SRCS) $(DPIO_SRCS)
ASAN_OBJS := $(patsubst %.c,build/c/asan/obj/%.o,$(SAN_SRCS))
TSAN_OBJS := $(patsubst %.c,build/c/tsan/obj/%.o,$(SAN_SRCS))
C_TEST_HDRS := $(wildcard tests/c/*.h) bench/framegen.h

build/c/asan/obj/%.o: %.c $(EXT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_C) $(ASAN_FLAGS) -c $< -o $@

build/c/tsan/obj/%.o: %.c $(EXT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_C) $(TSAN_FLAGS) -c $< -o $@

build/c/asan/%: tests/c/%.c $(C_TEST_HDRS) $(ASAN_OBJS)
	$(CC) $(CFLAGS_C) $(ASAN_FLAGS) $< $(ASAN_OBJS) -o $@ -lm

build/c/tsan/%: tests/c/%.c $(C_TEST_HDRS) $(TSAN_OBJS)
	$(CC) $(CFLAGS_C) $(TSAN_FLAGS) $< $(TSAN_OBJS) -o $@ -lm

ASAN_BINS := $(patsubst tests/c/%.c,build/c/asan/%,$(C_TESTS))

asan: build/c/asan.stamp
build/c/asan.stamp: $(ASAN_BINS)
	@for t in $(ASAN_BINS); do \
		echo "  RUN $$t"; ./$$t || { echo "FAILED: $$t" >&2; exit 1; }; \
	done
	@touch $@

tsan: build/c/tsan.stamp
build/c/tsan.stamp: build/c/tsan/stress
	@echo "  RUN $< (TSan$(if $(SETARCH), via $(SETARCH)))"
	@$(SETARCH) ./$< || { echo "FAILED: $<" >&2; exit 1; }
	@touch $@

bench: build
	$(OVSCT) bench $(BENCH_ARGS)

clean:
	rm -rf build ovsct/_engine*.so ovsct/_bench*.so

include mk/fuzz.mk
