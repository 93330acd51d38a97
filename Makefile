# errata — the two commands: `make run` and `make test`.
APT_PACKAGES := libssl-dev libnghttp2-dev zlib1g-dev libhiredis-dev pkg-config openssl
SWIFT ?= swift

.PHONY: deps build run test test-tsan clean

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

# Starts the demo legacy APIs (ports 9101-9105) and errata on config.json.
run: build
	@trap 'kill 0' INT TERM EXIT; \
	./.build/release/legacy-demo & \
	./.build/release/errata --config config.json

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

test-tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan --filter 'LegacyDemoTests|EventLoopTests|IntegrationTests'

clean:
	rm -rf .build .build-tsan
