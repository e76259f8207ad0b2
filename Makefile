# trit: build, test and benchmark. `make` builds ./trit; `make test` runs the suite; `make demo` shows it off.
CC      ?= gcc
BLAS_INC = /usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIB = /usr/lib/x86_64-linux-gnu/openblas-openmp
HDF5_INC = /usr/include/hdf5/serial
HDF5_LIB = /usr/lib/x86_64-linux-gnu/hdf5/serial
OPT     ?= -O2 -march=native
CFLAGS  ?= $(OPT) -g
SAN     ?=
# -fno-math-errno: nothing reads errno after a math call, and without it sqrtf cannot be vectorized (the
# optimizer's update); sqrt and division round exactly either way, so no result changes.
CFLAGS  += $(SAN) -std=c11 -D_GNU_SOURCE -fopenmp -fno-math-errno -Wall -Wextra -Werror -Wno-format-truncation -I. -I$(BLAS_INC) -I$(HDF5_INC) -MMD -MP
LDFLAGS += $(SAN) -fopenmp -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB) -L$(HDF5_LIB)
LDLIBS  += -lopenblas -lhdf5 -lzstd -lpcre2-8 -lcjson -lm
BUILD   ?= build
TRIT_BIN ?= trit

# Layers, bottom up; a folder includes only folders before it in this list (tests/layers.sh checks).
LIB_DIRS = common kernels autograd model data train export eval
LIB_SRC  = $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cli/*.c))
TEST_SRC = $(wildcard tests/test_*.c)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIBTRIT  = $(BUILD)/libtrit.a

DEB_PKGS = gcc make libopenblas-openmp-dev libhdf5-dev libzstd-dev libcjson-dev libpcre2-dev pkg-config \
           python3-numpy python3-torch python3-h5py

.PHONY: all deps npm-deps test asan bench demo clean
all: $(TRIT_BIN)

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "deps: all present"; fi
	@$(MAKE) --no-print-directory npm-deps

# npm peers (llama.cpp prebuilt, the Llama 3 tokenizer.json, a second tokenizer implementation), pinned in
# tools/node/package.json (exact versions); installed once into tools/node/node_modules.
npm-deps: tools/node/node_modules/.trit-installed
tools/node/node_modules/.trit-installed: tools/node/package.json
	@command -v npm >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; }
	cd tools/node && npm install --no-package-lock --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# Objects of pattern-built binaries (tests, benchmarks) are kept, so `make test` does not recompile them.
.SECONDARY:

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBTRIT): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(TRIT_BIN): $(CLI_OBJ) $(LIBTRIT)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBTRIT) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/obj/tests/harness.o $(LIBTRIT)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/obj/tests/harness.o $(LIBTRIT) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBTRIT)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBTRIT) $(LDLIBS)

# The tokenizer tests read the Llama 3 tokenizer.json from the npm peers: installed first when missing.
test: npm-deps $(TRIT_BIN) $(TEST_BIN)
	@OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} BUILD=$(BUILD) TRIT=./$(TRIT_BIN) tests/run.sh

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build folder (build-asan/, with
# its own build-asan/trit), so it never touches the regular build.
asan:
	$(MAKE) BUILD=build-asan TRIT_BIN=build-asan/trit OPT="-O1 -march=native -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

bench: $(TRIT_BIN) $(BENCH_BIN)
	@bench/run.sh

# The demo: a byte tokenizer and shards of the bundled tinyshakespeare, then configs/shakespeare-char.json
# (nanoGPT's shakespeare-char CPU recipe with a BitNet b1.58; a few minutes on 2 cores; it writes to
# build/demo/run: checkpoints, metrics.jsonl, loss.svg), a sample from the trained model, its export to a
# self-contained GGUF (the demo model is 128 wide, so its linears go out as f16 ternary values; 256-wide
# models take i2_s / tq2_0 / tq1_0) and text generated from that GGUF by trit's own engine.
demo: deps $(TRIT_BIN)
	@mkdir -p build/demo && rm -rf build/demo/shards build/demo/run
	./trit tokenizer train --vocab 256 --out build/demo/tokenizer.json data/corpus/tinyshakespeare.txt
	./trit shard --tokenizer build/demo/tokenizer.json --out build/demo/shards --val-fraction 0.1 --doc-per-file data/corpus/tinyshakespeare.txt
	./trit train configs/shakespeare-char.json
	./trit sample build/demo/run --prompt "ROMEO:" -n 300 --temp 0.8 --seed 1
	./trit export build/demo/run -o build/demo/shakespeare.gguf --type f16
	./trit run build/demo/shakespeare.gguf -p "JULIET:" -n 300 --temp 0.8 --seed 1

clean:
	rm -rf build build-asan trit

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
