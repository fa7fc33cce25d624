# pved: one Makefile for the daemons, the client, the tests, the fuzz targets and the benchmarks.
# `make` builds build/bin/{pved,pved-api,pvectl}; `make SANITIZE=address,undefined` builds the same into
# build/san/; `make check` runs every test tier this machine supports; `make run` starts a node.

CC ?= gcc
PKG_CONFIG ?= pkg-config
WERROR ?= 1
SANITIZE ?=
PREFIX ?= /usr/local
DESTDIR ?=

# O: where objects, libraries and binaries go. A sanitizer build goes to build/san; O=DIR overrides.
ifeq ($(SANITIZE),)
O ?= build
else
O ?= build/san
endif

PKGS := libevent libevent_openssl openssl libcjson libseccomp libcap zlib uuid libpcre2-8

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef \
	-Wwrite-strings -Werror=implicit-function-declaration
ifeq ($(WERROR),1)
WARN += -Werror
endif
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu17 -D_GNU_SOURCE $(WARN) $(HARDEN) $(CFLAGS) -I. -MMD -MP \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
ALL_LDFLAGS := -pie -Wl,-z,relro,-z,now $(LDFLAGS)
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -DPVE_SANITIZE=1
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif
LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lhttp_parser -lwslay -lpam -lcrypt -loath -lm -lpthread -lldap -llber

# Each subsystem folder is a static library; files named *-main.c hold a main() and stay out of it.
# front/ is pved-api's own library; daemon/ (pved) is one folder per API area, linked as objects.
SUBSYS := api access cluster kvm lxc net storage common
lib_srcs = $(filter-out %-main.c,$(wildcard $(1)/*.c))
objs = $(patsubst %.c,$(O)/obj/%.o,$(1))
LIBFILES := $(foreach d,$(SUBSYS),$(O)/lib/lib$(d).a)
LINK_LIBS := -Wl,--start-group $(LIBFILES) -Wl,--end-group $(LIBS)

define subsys_lib
$(O)/lib/lib$(1).a: $(call objs,$(call lib_srcs,$(1)))
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach d,$(SUBSYS) front,$(eval $(call subsys_lib,$(d))))

# The route table is data (api/routes/AREA/NN-NAME.json), embedded into the binaries that need it, in
# the order of the NN prefixes across areas (directory indexes list children in table order).
ROUTE_JSON := $(shell ls api/routes/*/*.json | awk -F/ '{ print $$NF " " $$0 }' | sort | cut -d' ' -f2)
$(O)/gen/routes-data.c: $(ROUTE_JSON) tools/embed-json
	@mkdir -p $(@D)
	tools/embed-json pve_routes_json $(ROUTE_JSON) >$@.tmp && mv $@.tmp $@
$(O)/obj/gen/routes-data.o: $(O)/gen/routes-data.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

DAEMON_OBJS := $(call objs,$(filter-out %-main.c,$(wildcard daemon/*/*.c)))
BINS := $(O)/bin/pved $(O)/bin/pved-api $(O)/bin/pvectl

all: $(BINS)

$(O)/bin/pved: $(O)/obj/daemon/core/pved-main.o $(DAEMON_OBJS) $(O)/obj/gen/routes-data.o $(LIBFILES)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(O)/obj/daemon/core/pved-main.o $(DAEMON_OBJS) \
		$(O)/obj/gen/routes-data.o $(LINK_LIBS)
# The front needs only its own, the api and the common libraries: the less it links, the less it maps.
$(O)/bin/pved-api: $(O)/obj/front/pved-api-main.o $(O)/lib/libfront.a $(O)/lib/libapi.a $(O)/lib/libcommon.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
$(O)/bin/pvectl: $(call objs,$(wildcard tools/*.c)) $(O)/obj/gen/routes-data.o $(LIBFILES)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(call objs,$(wildcard tools/*.c)) \
		$(O)/obj/gen/routes-data.o $(LINK_LIBS)

# Unit tests: tests/unit/test-SUBSYS-NAME.c, each one program linked with its subsystem's library, common
# and the route data (test-daemon-*: with pved's objects and every library), so a half-written folder
# does not stop the tests of another.
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))
HARNESS := $(O)/obj/tests/unit/harness.o
subsys_of = $(word 2,$(subst -, ,$(notdir $(1))))
# The libraries a subsystem's tests link: its own, what it builds on, common.
sub_libs = $(O)/lib/lib$(1).a $(if $(filter front,$(1)),$(O)/lib/libapi.a) $(O)/lib/libcommon.a
unit_deps = $(if $(filter daemon,$(call subsys_of,$(1))),$(DAEMON_OBJS) $(LIBFILES),\
	$(call sub_libs,$(call subsys_of,$(1))))
.SECONDEXPANSION:
$(O)/tests/test-%: $(O)/obj/tests/unit/test-%.o $(HARNESS) $(O)/obj/gen/routes-data.o $$(call unit_deps,$$@)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(HARNESS) $(O)/obj/gen/routes-data.o \
		$(if $(filter daemon,$(call subsys_of,$@)),$(DAEMON_OBJS) $(LINK_LIBS),\
		$(call sub_libs,$(call subsys_of,$@)) $(LIBS))
unit-tests: $(UNIT_BINS)

# Fuzz targets: tests/fuzz/fuzz-*.c. `make check` builds them with the standalone driver and runs each
# over its samples (tests/fuzz/samples/NAME/); `make fuzz` builds them with clang's libFuzzer.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRCS))
$(O)/fuzz/fuzz-%: $(O)/obj/tests/fuzz/fuzz-%.o $(O)/obj/tests/fuzz/driver-main.o $(O)/obj/gen/routes-data.o \
		$$(call unit_deps,$$@)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(O)/obj/tests/fuzz/driver-main.o $(O)/obj/gen/routes-data.o \
		$(call sub_libs,$(call subsys_of,$@)) $(LIBS)
fuzz-targets: $(FUZZ_BINS)

LIBFUZZER_DIR := build/libfuzzer
fuzz:
	$(MAKE) CC=clang O_OVERRIDE=1 WERROR=0 SANITIZE=address,undefined,fuzzer-no-link all-libs-fuzz
	@for f in $(FUZZ_SRCS); do \
		n=$$(basename $$f .c); \
		clang -fsanitize=fuzzer,address,undefined -I. $(shell $(PKG_CONFIG) --cflags $(PKGS)) -o $(LIBFUZZER_DIR)/$$n $$f \
			build/san/obj/gen/routes-data.o $(foreach d,front $(SUBSYS),build/san/lib/lib$(d).a) $(LIBS) || exit 1; \
		mkdir -p $(LIBFUZZER_DIR)/corpus-$$n; \
		echo "fuzzing $$n for $${FUZZ_SECONDS:-60} s"; \
		$(LIBFUZZER_DIR)/$$n -max_total_time=$${FUZZ_SECONDS:-60} $(LIBFUZZER_DIR)/corpus-$$n tests/fuzz/samples/$${n#fuzz-} || exit 1; \
	done
all-libs-fuzz: $(LIBFILES) $(O)/lib/libfront.a $(O)/obj/gen/routes-data.o
	@mkdir -p $(LIBFUZZER_DIR)

deps:
	@tools/setup-deps

check: deps
	$(MAKE) -j2 all unit-tests fuzz-targets
	$(MAKE) -j2 SANITIZE=address,undefined unit-tests
	tests/run

run: deps all
	PVED_ROOT=$${PVED_ROOT:-/} tools/run-node

# Benchmark programs: tests/bench/NAME.c, each linked with every library, run by the scripts beside them.
BENCH_BINS := $(patsubst tests/bench/%.c,$(O)/bench/%,$(wildcard tests/bench/*.c))
$(O)/bench/%: $(O)/obj/tests/bench/%.o $(O)/obj/gen/routes-data.o $(LIBFILES)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(O)/obj/gen/routes-data.o $(LINK_LIBS)
bench-programs: $(BENCH_BINS)

bench: 
	tools/setup-deps --bench
	$(MAKE) all bench-programs
	tests/bench/run

format-check:
	tools/check-format

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/pved/www \
		$(DESTDIR)/lib/systemd/system $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	cp -R www/. $(DESTDIR)$(PREFIX)/share/pved/www/
	install -m 0644 tools/systemd/pved.service $(DESTDIR)/lib/systemd/system/
	$(O)/bin/pvectl completion-script >$(DESTDIR)$(PREFIX)/share/bash-completion/completions/pvectl
	$(O)/bin/pvectl man pvectl >$(DESTDIR)$(PREFIX)/share/man/man1/pvectl.1
	$(O)/bin/pvectl man pved >$(DESTDIR)$(PREFIX)/share/man/man8/pved.8

clean:
	rm -rf build

.PHONY: all unit-tests fuzz-targets fuzz all-libs-fuzz deps check run bench bench-programs format-check install clean
.DELETE_ON_ERROR:
-include $(shell find build -name '*.d' 2>/dev/null)
