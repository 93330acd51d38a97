# errata — the two commands: `make run` and `make test`; `make install` for a systemd host.
# systemd: only for systemd-analyze, which SystemdUnitTests runs on the unit (verify, security).
# redis-server: the shared rate-limit store's tests start their own; curl: the TLS integration tests'
# client; ca-certificates: the upstream TLS system trust store.
APT_PACKAGES := libssl-dev libnghttp2-dev zlib1g-dev libhiredis-dev redis-server pkg-config openssl systemd curl ca-certificates
SWIFT ?= swift

# `make install`: DESTDIR stages into a folder (packaging, tests); PREFIX is where the binary
# lives on the target. ERRATA_BIN=path installs that binary instead of building release.
PREFIX ?= /usr/local
DESTDIR ?=
ERRATA_BIN ?=
ifeq ($(ERRATA_BIN),)
INSTALL_BIN := .build/release/errata
INSTALL_NEEDS := build
else
INSTALL_BIN := $(ERRATA_BIN)
INSTALL_NEEDS :=
endif
UNIT_DIR := $(DESTDIR)/etc/systemd/system
CONFIG := $(DESTDIR)/etc/errata/config.json
# Installed systemctl and a running systemd (sd_booted: /run/systemd/system); not in a container.
SYSTEMD_RUNNING = command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]

.PHONY: deps build run dev-tls test test-tsan fuzz clean install uninstall

# Installs the system packages that are missing (Debian), and nothing when all are present.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

# Starts the demo legacy APIs (ports 9101-9105) and errata on config.json (HTTP on 8080,
# HTTPS on 8443 with a self-signed localhost certificate made once into .build/dev-tls).
# The trap clears itself first: `kill 0` signals this shell too, and a trap that re-ran on it
# recursed until dash died of SIGSEGV (make then said "Segmentation fault" on every Ctrl-C).
run: build dev-tls
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	./.build/release/legacy-demo & \
	./.build/release/errata --config config.json

# A self-signed certificate for `make run`'s TLS listener (localhost, 127.0.0.1); never for production.
dev-tls: .build/dev-tls/localhost.pem
.build/dev-tls/localhost.pem:
	@mkdir -p .build/dev-tls
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
	  -keyout .build/dev-tls/localhost.key -out $@ -subj "/CN=localhost" \
	  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

test-tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan --filter 'LegacyDemoTests|EventLoopTests|IntegrationTests' \
	  --skip H1H1RateLimitKeyBoundTests

# libFuzzer on the error normalizer (Sources/ErrorNormalizerFuzz) for FUZZ_SECONDS (60; 600 for
# the 10-minute run), in its own scratch path so the fuzzer flags never reach the normal build.
# Seeds come from the acceptance vectors (Fuzz/seed-corpus.py); inputs that found new coverage
# stay in .build-fuzz/corpus for the next run; a finding lands in .build-fuzz/artifacts/ and
# replays without sanitizers: `swift run ErrorNormalizerFuzz .build-fuzz/artifacts/crash-…`.
FUZZ_SECONDS ?= 60
FUZZ_DIR := .build-fuzz
fuzz:
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	@echo "$(SWIFT) build -c debug --product ErrorNormalizerFuzz --scratch-path $(FUZZ_DIR) -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING"
	@$(SWIFT) build -c debug --product ErrorNormalizerFuzz --scratch-path $(FUZZ_DIR) \
	  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING >$(FUZZ_DIR)/build.log 2>&1; \
	  status=$$?; grep -v 'Cannot export local symbol' $(FUZZ_DIR)/build.log; exit $$status
	rm -rf $(FUZZ_DIR)/seeds
	python3 Fuzz/seed-corpus.py Tests/ErrorNormalizerTests/Fixtures/dialect-vectors.json $(FUZZ_DIR)/seeds
	LSAN_OPTIONS=suppressions=Fuzz/lsan.supp $(FUZZ_DIR)/debug/ErrorNormalizerFuzz $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 -dict=Fuzz/normalizer.dict \
	  -artifact_prefix=$(FUZZ_DIR)/artifacts/ -print_final_stats=1

clean:
	rm -rf .build .build-tsan .build-fuzz

# The binary, the unit (its /usr/local/bin/errata rewritten to $(PREFIX)/bin/errata), the
# sysusers.d and tmpfiles.d files, and /etc/errata/config.json unless one is already there:
# an operator's config is never overwritten. Without DESTDIR it also creates the user and
# folders and reloads systemd, skipping what the machine cannot do (a container has no
# running systemd).
install: $(INSTALL_NEEDS)
	install -D -m 0755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/errata
	install -d -m 0755 $(UNIT_DIR)
	sed 's|/usr/local/bin/errata|$(PREFIX)/bin/errata|g' systemd/errata.service > $(UNIT_DIR)/errata.service.tmp
	chmod 0644 $(UNIT_DIR)/errata.service.tmp && mv $(UNIT_DIR)/errata.service.tmp $(UNIT_DIR)/errata.service
	install -D -m 0644 systemd/errata.sysusers $(DESTDIR)/usr/lib/sysusers.d/errata.conf
	install -D -m 0644 systemd/errata.tmpfiles $(DESTDIR)/usr/lib/tmpfiles.d/errata.conf
	@if [ -e $(CONFIG) ]; then \
	  echo "kept existing $(CONFIG) (not overwritten; the new default is systemd/config.json)"; \
	else \
	  echo "install -D -m 0640 systemd/config.json $(CONFIG)"; \
	  install -D -m 0640 systemd/config.json $(CONFIG); \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
	  if command -v systemd-sysusers >/dev/null 2>&1; then \
	    echo "systemd-sysusers /usr/lib/sysusers.d/errata.conf"; systemd-sysusers /usr/lib/sysusers.d/errata.conf; \
	  else echo "no systemd-sysusers: create the system user errata yourself"; fi; \
	  if command -v systemd-tmpfiles >/dev/null 2>&1; then \
	    echo "systemd-tmpfiles --create /usr/lib/tmpfiles.d/errata.conf"; systemd-tmpfiles --create /usr/lib/tmpfiles.d/errata.conf; \
	  else echo "no systemd-tmpfiles: create /etc/errata/tls (0750 root:errata) and /var/log/errata yourself"; fi; \
	  if $(SYSTEMD_RUNNING); then \
	    echo "systemctl daemon-reload"; systemctl daemon-reload; \
	    echo "installed; start it with: sudo systemctl enable --now errata"; \
	  else echo "systemd is not running here (a container?): skipped systemctl daemon-reload"; fi; \
	fi

# Removes what install put in place except /etc/errata (config, certificates), the logs and
# the errata user, which belong to the operator.
uninstall:
	@if [ -z "$(DESTDIR)" ] && $(SYSTEMD_RUNNING); then \
	  echo "systemctl disable --now errata.service"; systemctl disable --now errata.service || true; \
	fi
	rm -f $(DESTDIR)$(PREFIX)/bin/errata $(UNIT_DIR)/errata.service \
	  $(DESTDIR)/usr/lib/sysusers.d/errata.conf $(DESTDIR)/usr/lib/tmpfiles.d/errata.conf
	@if [ -z "$(DESTDIR)" ] && $(SYSTEMD_RUNNING); then echo "systemctl daemon-reload"; systemctl daemon-reload; fi
	@echo "left in place: $(DESTDIR)/etc/errata, /var/log/errata and the errata user"
