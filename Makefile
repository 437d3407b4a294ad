# tokensim build. `make demo` and `make test` install missing Debian packages first
# (scripts/deps.sh), then build; see README.md.
PREFIX ?= /usr/local
VERSION := 0.1.0

# `make MPI=1`: tokensim built with mpicc (Open MPI) so that `mpirun -np N tokensim run ...`
# spreads a run over N ranks; its objects go to build/mpi. Without it there is no MPI at all
# (sim/study/par.c makes the process rank 0 of 1). BIN names the program (the tests build
# build/mpi/tokensim beside the plain ./tokensim).
MPI ?= 0
ifeq ($(MPI),1)
BUILD := build/mpi
CC := mpicc
MPI_CFLAGS := -DTS_MPI
DEPS_FLAG := --mpi
else
BUILD := build
CC ?= cc
MPI_CFLAGS :=
DEPS_FLAG :=
endif
BIN ?= tokensim
# One short line per file (`CC sim/price/cost.c`, `AR`, `LD`), as git and the kernel print;
# `make V=1` prints every full command line.
V ?= 0
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-4s %s\n' $(1) $(2)
endif
# The program is relinked when it was last linked with or without MPI and now is not.
FLAVOUR_STAMP := build/.flavour-$(subst /,_,$(BIN))
$(shell mkdir -p build; [ "$$(cat $(FLAVOUR_STAMP) 2>/dev/null)" = "$(MPI)" ] || \
	echo "$(MPI)" >$(FLAVOUR_STAMP))
PKGS := sqlite3 gsl inih jansson
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# Recursive (=) so pkg-config runs when a recipe needs it, after scripts/deps.sh installed it.
BASE_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -g $(WARN) \
	-ffp-contract=off -MMD -MP -I. $(MPI_CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
	-DTS_VERSION='"$(VERSION)"' -DTS_DATADIR='"$(PREFIX)/share/tokensim/data"'
CFLAGS ?=
LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lm -pthread
TEST_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

# Sources are found by folder: models/ (the engine, in rooms) and sim/ (the economics and the
# program, in rooms); sim/cli/main.c alone holds main(). Objects mirror the tree under $(BUILD).
LIB_SRC := $(sort $(shell find models sim -name '*.c' ! -path sim/cli/main.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/sim/cli/main.o
# Unit tests live in tests/unit/ROOM/test_NAME.c (mirroring the rooms); each binary is
# $(BUILD)/tests/test_NAME (names are unique across rooms).
TEST_SRC := $(sort $(shell find tests/unit -name 'test_*.c'))
TEST_BIN := $(addprefix $(BUILD)/tests/,$(basename $(notdir $(TEST_SRC))))

# Test objects are kept (no `rm build/tests/unit/...` line after every build).
.SECONDARY:

.PHONY: all build deps demo test asan fuzz bench reports install clean

all: deps
	@$(MAKE) --no-print-directory build

deps:
	@sh scripts/deps.sh $(DEPS_FLAG)

build: $(BIN) $(TEST_BIN)

# The engine (models/) is built for this machine's vector units; sim/ stays portable and
# deterministic (-ffp-contract=off, no -march=native) so reports reproduce across machines.
ENGINE_CFLAGS := -O3 -march=native -pthread

$(BUILD)/models/%.o: models/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(BASE_CFLAGS) $(ENGINE_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libtokensim.a: $(LIB_OBJ)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(BUILD)/libtokensim.a $(FLAVOUR_STAMP)
	$(call say,LD,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $(MAIN_OBJ) $(BUILD)/libtokensim.a $(LIBS)

define TEST_RULE
$(BUILD)/tests/$(basename $(notdir $(1))): $(BUILD)/$(1:.c=.o) $(BUILD)/libtokensim.a
	@mkdir -p $$(dir $$@)
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(BASE_CFLAGS) $$(CFLAGS) -o $$@ $$^ $$(TEST_LIBS) $$(LIBS)
endef
$(foreach t,$(TEST_SRC),$(eval $(call TEST_RULE,$(t))))

# The demo: build, measure two engine presets here (well under a minute), price this machine
# from those measurements, price DeepSeek's published day; each run says where its report is.
demo: deps
	@$(MAKE) --no-print-directory build
	./tokensim measure --model dense-110m --model moe-110m-active --model moe-110m-total \
		--prompt 64 --gen 16 --batch 1,4 --repeat 2
	./tokensim run scenarios/this-machine.ini
	@sh scripts/demo-moe.sh
	./tokensim run scenarios/deepseek-day-margin.ini

# With Open MPI present (deps.sh --test installs it) the tests also build build/mpi/tokensim
# and tests/e2e/mpi.sh runs it under mpirun.
test: deps
	@sh scripts/deps.sh --test
	@$(MAKE) --no-print-directory build
	@if command -v mpicc >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory MPI=1 BIN=build/mpi/tokensim build/mpi/tokensim; fi
	@sh scripts/run-tests.sh

# The whole test suite under ASan + UBSan, in a copy of the tree (build/asan-tree).
asan: deps
	@sh scripts/deps.sh --test
	@sh scripts/asan.sh

# libFuzzer targets in tests/fuzz/ (clang), FUZZ_SECONDS each (default 30).
FUZZ_SECONDS ?= 30
fuzz: deps
	@sh scripts/deps.sh --fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/fuzz.sh

# The example report gallery in reports/ (deterministic: rerunning changes no text file).
reports: deps
	@$(MAKE) --no-print-directory build
	@sh scripts/make-reports.sh reports

# The engine benchmark: measures this machine's ceilings and every preset, and a llama2.c
# checkpoint of the stories15M shape (dense-15m's seeded weights written by `export`, as no
# trained checkpoint can be downloaded here), writes BENCHMARKS.md; then the Monte Carlo table
# and, with Open MPI installed, the MPI ranks table.
bench: deps
	@$(MAKE) --no-print-directory build
	@mkdir -p build/bench
	./tokensim export --model dense-15m --format llama2c --out build/bench/llama2c-15m.bin
	./tokensim bench --checkpoint build/bench/llama2c-15m.bin --commit "$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" --out BENCHMARKS.md
	sh scripts/bench-mc.sh BENCHMARKS.md
	sh scripts/bench-published.sh BENCHMARKS.md
	sh scripts/bench-calibrate.sh BENCHMARKS.md
	@{ printf "\n## The serving simulator (sim/serve): speed on one core\n\n"; sh scripts/bench-serve.sh; } >>BENCHMARKS.md
	@if command -v mpicc >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory MPI=1 BIN=build/mpi/tokensim build/mpi/tokensim && \
		sh scripts/bench-mpi.sh BENCHMARKS.md; \
	else echo "make bench: no mpicc (scripts/deps.sh --mpi): MPI table skipped" >&2; fi

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tokensim/data
	install -m 755 tokensim $(DESTDIR)$(PREFIX)/bin/tokensim
	install -m 644 data/*.csv $(DESTDIR)$(PREFIX)/share/tokensim/data/

clean:
	rm -rf build tokensim

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(TEST_SRC:%.c=$(BUILD)/%.d)
