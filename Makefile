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

PKGS := libevent libevent_openssl openssl libcjson libseccomp libcap zlib uuid libpcre2-8 libcbor \
	sqlite3 fuse3 libcpg libquorum libvotequorum libcmap \
	libnl-route-3.0 libnftnl libmnl yaml-0.1
# Containers' rootfs: template and OCI archives.
PKGS += libarchive
# term/ (the VNC terminal): libvterm emulates it, nettle's DES answers VNC authentication.
PKGS += vterm nettle
# term/spice.c (the SPICE terminal): libspice-server speaks SPICE, pved draws and types.
PKGS += spice-server
# Libraries without a .pc file, as LIB:HEADER; tools/gen-config checks that each compiles and links.
PLAIN_LIBS := http_parser:http_parser.h wslay:wslay/wslay.h pam:security/pam_appl.h crypt:crypt.h \
	oath:liboath/oath.h ldap:ldap.h lber:lber.h m:math.h pthread:pthread.h

# The goals that only call tools/setup-deps and then make again: they must not need the libraries yet.
SETUP_GOALS := deps run check bench fuzz clean format-check deb
NEED_CONFIG := $(filter-out $(SETUP_GOALS),$(or $(MAKECMDGOALS),all))

# The library flags are asked of pkg-config once the packages are there, not while make parses: a
# missing library stops the build in tools/gen-config with its name. The file is remade when a package
# is installed or removed (dpkg's status file changes) or PKG_CONFIG_PATH changes.
CONFIG_MK := build/config.mk
# The config's rule below is the first in this file: without this, a plain `make` would only remake it.
.DEFAULT_GOAL := all
ifneq ($(NEED_CONFIG),)
include $(CONFIG_MK)
ifneq ($(CONFIG_KEY),$(PKG_CONFIG_PATH))
.PHONY: $(CONFIG_MK)
endif
endif
$(CONFIG_MK): tools/gen-config Makefile $(wildcard /var/lib/dpkg/status)
	@mkdir -p $(@D)
	CC=$(CC) PKG_CONFIG=$(PKG_CONFIG) tools/gen-config $@ $(PKGS) -- $(PLAIN_LIBS)

comma := ,
WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef \
	-Wwrite-strings -Werror=implicit-function-declaration
ifeq ($(WERROR),1)
WARN += -Werror
endif
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu17 -D_GNU_SOURCE $(WARN) $(HARDEN) $(CFLAGS) -I. -MMD -MP $(PKG_CFLAGS)
ALL_LDFLAGS := -pie -Wl,-z,relro,-z,now $(LDFLAGS)
# A sanitizer report ends the program with an error: in recover mode UBSan prints and goes on, and a
# test that exits 0 after a report would pass.
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer -DPVE_SANITIZE=1
ALL_LDFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
# gcc leaves float-to-integer overflow out of "undefined" (clang does not): a NaN or a huge double from
# a tool's output converted to an integer is undefined behaviour all the same.
ifneq ($(filter undefined,$(subst $(comma), ,$(SANITIZE))),)
ALL_CFLAGS += -fsanitize=float-cast-overflow
ALL_LDFLAGS += -fsanitize=float-cast-overflow
endif
endif
# FUZZ_ENGINE=libfuzzer (make fuzz): every object carries libFuzzer's coverage instrumentation, and the
# fuzz targets link libFuzzer's main instead of the standalone driver.
ifeq ($(FUZZ_ENGINE),libfuzzer)
ALL_CFLAGS += -fsanitize=fuzzer-no-link
FUZZ_MAIN :=
FUZZ_LDFLAGS := -fsanitize=fuzzer
else
FUZZ_MAIN := $(O)/obj/tests/fuzz/driver-main.o
FUZZ_LDFLAGS :=
endif
LIBS := $(PKG_LIBS)

# Every object and program of a build directory depends on its flags stamp, rewritten only when the
# compiler or its flags change: a build with other flags into the same directory rebuilds everything.
FLAGS_STAMP := $(O)/flags.stamp
FLAGS_TEXT := $(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(FUZZ_LDFLAGS) $(LIBS)
# (Not in a dry run, which must change nothing.)
ifneq ($(NEED_CONFIG),)
ifeq ($(findstring n,$(firstword -$(MAKEFLAGS))),)
ifneq ($(file <$(FLAGS_STAMP)),$(FLAGS_TEXT))
$(shell mkdir -p $(O))
$(file >$(FLAGS_STAMP),$(FLAGS_TEXT))
endif
endif
endif

# Each subsystem folder is a static library; files named *-main.c hold a main() and stay out of it.
# front/ is pved-api's own library; daemon/ (pved) is one folder per API area, linked as objects.
SUBSYS := api access client cluster kvm lxc net storage fw term common
lib_srcs = $(filter-out %-main.c,$(wildcard $(1)/*.c))
objs = $(patsubst %.c,$(O)/obj/%.o,$(1))
LIBFILES := $(foreach d,$(SUBSYS),$(O)/lib/lib$(d).a)
LINK_LIBS := -Wl,--start-group $(LIBFILES) -Wl,--end-group $(LIBS)

define subsys_lib
$(O)/lib/lib$(1).a: $(call objs,$(call lib_srcs,$(1))) $(FLAGS_STAMP)
	@mkdir -p $$(@D)
	rm -f $$@ && ar rcs $$@ $$(filter %.o,$$^)
endef
$(foreach d,$(SUBSYS) front,$(eval $(call subsys_lib,$(d))))

# The route table is data (api/routes/AREA/NN-NAME.json), embedded into the binaries that need it, in
# the order of the NN prefixes across areas (directory indexes list children in table order).
ROUTE_JSON := $(shell ls api/routes/*/*.json | awk -F/ '{ print $$NF " " $$0 }' | sort | cut -d' ' -f2)
$(O)/gen/routes-data.c: $(ROUTE_JSON) tools/embed-json
	@mkdir -p $(@D)
	tools/embed-json pve_routes_json $(ROUTE_JSON) >$@.tmp && mv $@.tmp $@
$(O)/obj/gen/routes-data.o: $(O)/gen/routes-data.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

DAEMON_OBJS := $(call objs,$(filter-out %-main.c,$(wildcard daemon/*/*.c)))
# What pvectl's unit tests link: the files that stand without pvectl's main.
PVECTL_OBJS := $(O)/obj/tools/pvectl-format.o
BINS := $(O)/bin/pved $(O)/bin/pved-api $(O)/bin/pvectl $(O)/bin/pvecfs $(O)/bin/pved-ctmon \
	$(O)/bin/pved-ctrun

all: $(BINS) www/index.html

# The web interface: web/ is its source, www/ what pved-api serves (pved finds www/ beside build/bin,
# installed in share/pved/www). npm ci installs exactly the lockfile's packages (scripts off: none of
# them needs one), again only when the lockfile changes; esbuild's output depends on nothing but the
# sources. Without npm (or with WEB=0, for a machine that has npm but no registry), www/ gets the page
# saying the interface is not built.
WEB_SRCS := $(wildcard web/src/*) web/build.mjs web/package.json
WEB ?= $(if $(shell command -v npm 2>/dev/null),1,0)
ifeq ($(WEB),1)
www/index.html: $(WEB_SRCS) web/node_modules/.ci-stamp
	cd web && node build.mjs ../www
web/node_modules/.ci-stamp: web/package-lock.json
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@
else
www/index.html: web/placeholder.html
	@mkdir -p $(@D)
	cp $< $@
endif

$(O)/bin/pved: $(O)/obj/daemon/core/pved-main.o $(DAEMON_OBJS) $(O)/obj/gen/routes-data.o $(LIBFILES) \
		$(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(O)/obj/daemon/core/pved-main.o $(DAEMON_OBJS) \
		$(O)/obj/gen/routes-data.o $(LINK_LIBS)
# pvecfs: the config tree's daemon (cluster/), FUSE and corosync's libraries.
$(O)/bin/pvecfs: $(O)/obj/cluster/pvecfs-main.o $(O)/lib/libcluster.a $(O)/lib/libcommon.a $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter-out $(FLAGS_STAMP),$^) $(LIBS)
# The front needs only its own, the api and the common libraries: the less it links, the less it maps.
$(O)/bin/pved-api: $(O)/obj/front/pved-api-main.o $(O)/lib/libfront.a $(O)/lib/libapi.a $(O)/lib/libcommon.a \
		$(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter-out $(FLAGS_STAMP),$^) $(LIBS)
$(O)/bin/pvectl: $(call objs,$(wildcard tools/*.c)) $(O)/obj/gen/routes-data.o $(LIBFILES) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(call objs,$(wildcard tools/*.c)) \
		$(O)/obj/gen/routes-data.o $(LINK_LIBS)

# pved-ctmon, one per running container, is a static musl binary (tens of KiB of RSS, against 0.7 MiB
# static glibc): the C library only. A sanitizer build makes it with the build's compiler.
CTMON_CC := $(if $(SANITIZE),$(CC),$(shell command -v musl-gcc 2>/dev/null))
$(O)/bin/pved-ctmon: lxc/ctmon-main.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
ifeq ($(CTMON_CC),)
	$(error pved-ctmon needs musl-gcc (Debian's musl-tools): run tools/setup-deps)
else ifneq ($(SANITIZE),)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<
else
	$(CTMON_CC) -std=gnu17 -D_GNU_SOURCE $(WARN) -Os -static -fstack-protector-strong -o $@ $<
endif
$(O)/bin/pved-ctrun: $(O)/obj/lxc/ctrun-main.o $(LIBFILES) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(O)/obj/lxc/ctrun-main.o $(LINK_LIBS)

# Unit tests: tests/unit/test-SUBSYS-NAME.c, each one program linked with its subsystem's library, common
# and the route data (test-daemon-*: with pved's objects and every library; test-pvectl-*: with
# PVECTL_OBJS and every library), so a half-written folder does not stop the tests of another.
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))
HARNESS := $(O)/obj/tests/unit/harness.o
subsys_of = $(word 2,$(subst -, ,$(notdir $(1))))
# The libraries a subsystem's tests link: its own, what it builds on, common (client's: access too, whose
# certificates its tests hash).
sub_libs = $(O)/lib/lib$(1).a $(if $(filter front,$(1)),$(O)/lib/libapi.a) \
	$(if $(filter client,$(1)),$(O)/lib/libaccess.a) $(O)/lib/libcommon.a
extra_objs = $(strip $(if $(filter pvectl,$(call subsys_of,$(1))),$(PVECTL_OBJS),\
	$(if $(filter daemon,$(call subsys_of,$(1))),$(DAEMON_OBJS))))
# What a test or fuzz target program depends on, and what its link line names.
test_deps = $(if $(call extra_objs,$(1)),$(call extra_objs,$(1)) $(LIBFILES),\
	$(call sub_libs,$(call subsys_of,$(1))))
test_link = $(if $(call extra_objs,$(1)),$(call extra_objs,$(1)) $(LINK_LIBS),\
	$(call sub_libs,$(call subsys_of,$(1))) $(LIBS))
.SECONDEXPANSION:
$(O)/tests/test-%: $(O)/obj/tests/unit/test-%.o $(HARNESS) $(O)/obj/gen/routes-data.o $$(call test_deps,$$@) \
		$(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(HARNESS) $(O)/obj/gen/routes-data.o \
		$(call test_link,$@)
unit-tests: $(UNIT_BINS)

# Fuzz targets: tests/fuzz/fuzz-SUBSYS-NAME.c, linked as the unit tests are. `make check` builds them
# with the standalone driver, plain and sanitized, and runs each over its samples
# (tests/fuzz/samples/SUBSYS-NAME/); `make fuzz` builds everything again with clang and libFuzzer's
# instrumentation into build/fuzz-clang and fuzzes each target for FUZZ_SECONDS (60).
# (WERROR=0 there: clang warns about what gcc, the build that gates, does not.)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRCS))
$(O)/fuzz/fuzz-%: $(O)/obj/tests/fuzz/fuzz-%.o $(FUZZ_MAIN) $(O)/obj/gen/routes-data.o \
		$$(call test_deps,$$@) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(FUZZ_LDFLAGS) -o $@ $< $(FUZZ_MAIN) $(O)/obj/gen/routes-data.o \
		$(call test_link,$@)
fuzz-targets: $(FUZZ_BINS)

FUZZ_O := build/fuzz-clang
FUZZ_SECONDS ?= 60
# Each target fuzzes its own corpus (kept between runs) seeded with its samples; the last line per
# target is libFuzzer's final coverage.
fuzz:
	tools/setup-deps --test
	$(MAKE) O=$(FUZZ_O) CC=clang WERROR=0 SANITIZE=address,undefined FUZZ_ENGINE=libfuzzer fuzz-targets
	@for f in $(FUZZ_SRCS); do \
		n=$$(basename $$f .c); \
		mkdir -p $(FUZZ_O)/corpus/$$n; \
		echo "fuzzing $$n for $(FUZZ_SECONDS) s"; \
		$(FUZZ_O)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(FUZZ_O)/corpus/$$n tests/fuzz/samples/$${n#fuzz-} >$(FUZZ_O)/$$n.log 2>&1 || \
			{ tail -n 40 $(FUZZ_O)/$$n.log; exit 1; }; \
		grep '^#.*DONE' $(FUZZ_O)/$$n.log | sed "s/^/$$n: /"; \
	done

deps:
	tools/setup-deps --run

# The tests run the plain build (integration, fuzz samples) and the sanitized one (unit tests, fuzz
# samples under ASan and UBSan).
check:
	tools/setup-deps --test
	$(MAKE) -j2 all unit-tests fuzz-targets
	$(MAKE) -j2 SANITIZE=address,undefined unit-tests fuzz-targets
	tools/ct/cache-templates build/ct-templates
	tests/run

# Installs what building and running need, builds on every CPU (unless -j was given), starts a node.
run:
	tools/setup-deps --run
	$(MAKE) $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc)) all
	PVED_ROOT=$${PVED_ROOT:-/} tools/run-node

# Benchmark programs: tests/bench/NAME.c, each linked with every library, run by the scripts beside them.
BENCH_BINS := $(patsubst tests/bench/%.c,$(O)/bench/%,$(wildcard tests/bench/*.c))
$(O)/bench/%: $(O)/obj/tests/bench/%.o $(O)/obj/gen/routes-data.o $(LIBFILES) $(FLAGS_STAMP)
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
	sed 's,/usr/local/bin/,$(PREFIX)/bin/,' tools/systemd/pved.service \
		>$(DESTDIR)/lib/systemd/system/pved.service
	$(O)/bin/pvectl completion-script >$(DESTDIR)$(PREFIX)/share/bash-completion/completions/pvectl
	$(O)/bin/pvectl man pvectl >$(DESTDIR)$(PREFIX)/share/man/man1/pvectl.1
	$(O)/bin/pvectl man pved >$(DESTDIR)$(PREFIX)/share/man/man8/pved.8
ifneq ($(NO_COMPAT_NAMES),1)
	# the names scripts written for a Proxmox host call; pvectl acts on the name it was run by
	for n in pvesh qm pct; do \
		ln -sfn pvectl $(DESTDIR)$(PREFIX)/bin/$$n; \
		echo '.so man1/pvectl.1' >$(DESTDIR)$(PREFIX)/share/man/man1/$$n.1; \
	done
	ln -sfn pvectl $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pvesh
endif
	echo '.so man8/pved.8' >$(DESTDIR)$(PREFIX)/share/man/man8/pved-api.8

# The Debian package, build/deb/pved_VERSION_amd64.deb, of make's own build (debian/rules), checked by
# lintian. Not through dpkg-buildpackage, which writes beside the checkout.
deb:
	tools/setup-deps --deb
	dpkg-checkbuilddeps
	rm -rf build/deb debian/pved debian/.debhelper debian/files debian/*.substvars \
		debian/*.debhelper debian/*.debhelper.log debian/debhelper-build-stamp
	debian/rules build
	fakeroot debian/rules binary
	lintian --fail-on error build/deb/pved_*_amd64.deb

clean:
	rm -rf build www web/node_modules

.PHONY: all unit-tests fuzz-targets fuzz deps check run bench bench-programs format-check install clean deb
.DELETE_ON_ERROR:
ifneq ($(NEED_CONFIG),)
-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
endif
