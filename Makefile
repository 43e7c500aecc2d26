# lilm: one Makefile for the library, the program, the tests and the benches.
#
#   make              build ./lilm and liblilm.a (CUDA backend too when nvcc is found)
#   make test         run every test; ends with "N passed, N failed"
#   make asan         the C tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test-cuda    the CUDA-vs-CPU checks (needs a GPU)
#   make fuzz-smoke   a short run of each fuzzer in tests/fuzz/ (needs clang)
#   make lint         project rules: module comments, banned functions, no exit() in src/
#   make clean
#
# Knobs: CUDA=0 forces a CPU-only build; CUDA_ARCHS="80 90"; FAST=1 adds -ffast-math
# to the CPU kernels (off by default: the reference tests run with default numerics).

CC      ?= gcc
BUILD   ?= build
CUDA_HOME ?= /usr/local/cuda
NVCC    ?= $(shell command -v nvcc 2>/dev/null || { [ -x $(CUDA_HOME)/bin/nvcc ] && echo $(CUDA_HOME)/bin/nvcc; })
CUDA    ?= $(if $(NVCC),1,0)
CUDA_ARCHS ?= 80 90

WARN    := -Wall -Wextra -Wstrict-prototypes -Wno-unused-parameter -Wno-format-truncation -Werror
CFLAGS  ?= -O2 -g -march=native
override CFLAGS += -std=c11 -D_GNU_SOURCE -fopenmp -Isrc -MMD -MP $(WARN)
ifeq ($(FAST),1)
override CFLAGS += -ffast-math
endif
LDLIBS  := -lopenblas -lyaml -lsqlite3 -lutf8proc -lcurl -lzstd -lsnappy -lz -lm -lpthread
override LDFLAGS += -fopenmp

ifeq ($(CUDA),1)
ifeq ($(NVCC),)
$(error CUDA=1 but nvcc was not found; set NVCC or CUDA_HOME, or build with CUDA=0)
endif
override CFLAGS += -DLILM_USE_CUDA -I$(CUDA_HOME)/include
NVFLAGS := -O3 -std=c++17 -Isrc -DLILM_USE_CUDA --expt-relaxed-constexpr -Xcompiler -Wall,-Werror \
           $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a))
LDLIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++
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

.PHONY: all test asan test-cuda fuzz-smoke lint clean features install
all: features $(BUILD)/lilm lilm

features:
	@printf 'lilm build: CPU ✓  CUDA %s  OpenMP ✓  OpenBLAS ✓\n' "$(if $(filter 1,$(CUDA)),✓ ($(NVCC)),✗)"

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
asan:
	$(MAKE) BUILD=build-asan CUDA=0 CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" build-asan/lilm $(TEST_SRC:tests/%.c=build-asan/tests/%)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 LILM_TEST_SKIP_PY=1 LILM_SANITIZE=1 tests/run.sh build-asan

test-cuda: all $(TESTCUDA_BIN)
	@for t in $(TESTCUDA_BIN); do $$t || exit 1; done

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
fuzz-smoke:
	@for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); mkdir -p build-fuzz; \
	    clang -std=c11 -D_GNU_SOURCE -g -O1 -fopenmp -Isrc -fsanitize=fuzzer,address,undefined $$f $(LIB_SRC) -o build-fuzz/$$n $(filter-out -lopenblas,$(LDLIBS)) -lopenblas || exit 1; \
	    mkdir -p build-fuzz/corpus-$$n; \
	    build-fuzz/$$n -max_total_time=$${FUZZ_SECONDS:-20} -rss_limit_mb=2048 build-fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; \
	done

lint:
	@scripts/lint.sh

# The recipe files are compiled in (src/data/recipe_files.c includes them with .incbin).
$(BUILD)/src/data/recipe_files.o: $(wildcard recipes/*.yaml)

# `make install PREFIX=DIR`: the binary into DIR/bin, the recipes (to copy and change;
# lilm carries its own) into DIR/share/lilm/recipes.
PREFIX ?= /usr/local
install: $(BUILD)/lilm
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/lilm/recipes
	install -m 755 $(BUILD)/lilm $(DESTDIR)$(PREFIX)/bin/lilm
	install -m 644 recipes/*.yaml $(DESTDIR)$(PREFIX)/share/lilm/recipes/

clean:
	rm -rf build build-asan build-fuzz lilm liblilm.a

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
