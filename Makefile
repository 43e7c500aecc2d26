# lilm: one Makefile for the library, the program, the tests and the benches.
#
#   make              build ./lilm and liblilm.a (CUDA backend too when nvcc is found)
#   make test         run every test; ends with "N passed, N failed"
#   make asan         the C tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-cuda    the CUDA-vs-CPU checks (needs a GPU)
#   make fuzz-smoke   a short run of each fuzzer in tests/fuzz/ (needs clang)
#   make lint         project rules: module comments, banned functions, no exit() in src/,
#                     layers include only downward (scripts/lint.sh)
#   make clean
#
# Knobs: CUDA=0 forces a CPU-only build; CUDA_ARCHS="80 90"; MPI=0 builds without MPI
# (data-parallel runs need it; found through pkg-config's "mpi"); FAST=1 adds -ffast-math
# to the CPU kernels (off by default: the reference tests run with default numerics).

CC      ?= gcc
BUILD   ?= build
CUDA_HOME ?= /usr/local/cuda
NVCC    ?= $(shell command -v nvcc 2>/dev/null || { [ -x $(CUDA_HOME)/bin/nvcc ] && echo $(CUDA_HOME)/bin/nvcc; })
CUDA    ?= $(if $(NVCC),1,0)
CUDA_ARCHS ?= 80 90
MPI     ?= $(shell pkg-config --exists mpi 2>/dev/null && echo 1 || echo 0)

WARN    := -Wall -Wextra -Wstrict-prototypes -Wno-unused-parameter -Wno-format-truncation -Werror
CFLAGS  ?= -O2 -g -march=native
override CFLAGS += -std=c11 -D_GNU_SOURCE -fopenmp -Isrc -MMD -MP $(WARN)
ifeq ($(FAST),1)
override CFLAGS += -ffast-math
endif
LDLIBS  := -lopenblas -lyaml -lsqlite3 -lutf8proc -lcurl -lzstd -lsnappy -lz -lm -lpthread
override LDFLAGS += -fopenmp

ifeq ($(MPI),1)
override CFLAGS += -DLILM_USE_MPI $(shell pkg-config --cflags mpi)
LDLIBS  += $(shell pkg-config --libs mpi)
endif

ifeq ($(CUDA),1)
ifeq ($(NVCC),)
$(error CUDA=1 but nvcc was not found; set NVCC or CUDA_HOME, or build with CUDA=0)
endif
override CFLAGS += -DLILM_USE_CUDA -I$(CUDA_HOME)/include
NVFLAGS := -O3 -std=c++17 -Isrc -DLILM_USE_CUDA --expt-relaxed-constexpr -Xcompiler -Wall,-Werror \
           $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a))
LDLIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lnccl -lcudart -lstdc++
endif

LIB_SRC  := $(filter-out src/cli/%,$(wildcard src/*/*.c))
CLI_SRC  := $(wildcard src/cli/*.c)
CU_SRC   := $(if $(filter 1,$(CUDA)),$(wildcard src/cuda/*.cu))
TEST_SRC := $(wildcard tests/test_*.c)
TESTCUDA_SRC := $(wildcard tests/cuda/test_*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CU_SRC:%.cu=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TESTCUDA_BIN := $(TESTCUDA_SRC:tests/cuda/%.c=$(BUILD)/tests/cuda/%)

.PHONY: all test asan test-cuda fuzz-smoke lint clean features
all: features $(BUILD)/lilm lilm

features:
	@printf 'lilm build: CPU ✓  CUDA %s  MPI %s  OpenMP ✓  OpenBLAS ✓\n' "$(if $(filter 1,$(CUDA)),✓ ($(NVCC)),✗)" "$(if $(filter 1,$(MPI)),✓,✗)"

lilm: $(BUILD)/lilm
	@ln -sf $(BUILD)/lilm lilm

$(BUILD)/liblilm.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	ar rcs $@ $^

liblilm.a: $(BUILD)/liblilm.a
	@ln -sf $(BUILD)/liblilm.a liblilm.a
all: liblilm.a

$(BUILD)/lilm: $(CLI_OBJ) $(BUILD)/liblilm.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/liblilm.a $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVFLAGS) -c $< -o $@

$(BUILD)/tests/test.o: tests/test.c tests/test.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/tests/%: tests/%.c $(BUILD)/tests/test.o $(BUILD)/liblilm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/tests/test.o $(BUILD)/liblilm.a $(LDLIBS)

$(BUILD)/tests/cuda/%: tests/cuda/%.c $(BUILD)/tests/test.o $(BUILD)/liblilm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(BUILD)/tests/test.o $(BUILD)/liblilm.a $(LDLIBS)

# The git commit is baked into version.o; the stamp file changes only when HEAD moves.
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
$(BUILD)/git-commit.stamp: FORCE
	@mkdir -p $(@D); [ "$$(cat $@ 2>/dev/null)" = "$(GIT_COMMIT)" ] || echo "$(GIT_COMMIT)" > $@
$(BUILD)/src/core/version.o: $(BUILD)/git-commit.stamp
$(BUILD)/src/core/version.o: CFLAGS += -DLILM_GIT_COMMIT='"$(GIT_COMMIT)"'
.PHONY: FORCE
FORCE:

test: all $(TEST_BIN)
	@tests/run.sh $(BUILD)

# Sanitizer build: a separate tree so it never mixes with the optimised objects.
ASAN_PY := test_data_parquet test_faults
asan:
	$(MAKE) BUILD=build-asan CUDA=0 CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" build-asan/lilm $(TEST_SRC:tests/%.c=build-asan/tests/%)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 LILM_TEST_SKIP_PY=1 LILM_SANITIZE=1 tests/run.sh build-asan
	@# the CLI tests of the file readers (Parquet, safetensors, run dirs, datasets) against the sanitised program
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 LILM_SANITIZE=1 LILM_BIN=$(CURDIR)/build-asan/lilm \
	    LILM_SHARED=$${LILM_SHARED:-$(abspath ..)/shared} PYTHONPATH=tests/py \
	    sh -c 'for t in $(ASAN_PY); do python3 tests/py/$$t.py || exit 1; done'

test-cuda: all $(TESTCUDA_BIN)
	@for t in $(TESTCUDA_BIN); do $$t || exit 1; done

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fopenmp -Isrc -MMD -MP
# the library once, instrumented for the fuzzers (fuzzer-no-link: coverage without a main)
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_OBJ) -o $@ $(filter-out -lopenblas,$(LDLIBS)) -lopenblas
# each fuzzer for FUZZ_SECONDS (default 20) from its seed corpus; any crash, leak or timeout fails
fuzz-smoke: $(FUZZ_BIN)
	@for b in $(FUZZ_BIN); do \
	    n=$$(basename $$b); mkdir -p build-fuzz/corpus-$$n; \
	    $$b -max_total_time=$${FUZZ_SECONDS:-20} -rss_limit_mb=2048 -timeout=10 build-fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; \
	done
.SECONDARY: $(FUZZ_OBJ)
-include $(FUZZ_OBJ:.o=.d)

lint:
	@scripts/lint.sh

clean:
	rm -rf build build-asan build-fuzz lilm liblilm.a

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
