# moonkv — build, run, test, benchmark.
#
#   make run     build release and start a primary on configs/moonkv.conf
#   make test    install missing Debian packages, lint, run every test
#   make soak    the randomized replication soak for SOAK_SECS (default 600) seconds
#   make bench   redis-benchmark against moonkv and redis-server side by side
#   make ha-demo three moonkv nodes and three redis-sentinels (configs/ha); ha-demo-stop
#   make drill   the redis-sentinel failover drills, one report line each (drill-report.txt)

CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
REDIS_PKGS := redis-server redis-tools redis-sentinel

.PHONY: all build run deps lint test soak bench ha-demo ha-demo-stop drill clean

all: build

build:
	$(CARGO) build --release

run: build
	mkdir -p data
	./target/release/moonkv configs/moonkv.conf

# Debian packages the tests compare against (real redis-server, redis-cli,
# redis-benchmark, redis-sentinel). Installed only when missing.
deps:
	@missing=""; for p in $(REDIS_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@# The packaged services are not needed (tests start their own).
	@-$(SUDO) service redis-server stop >/dev/null 2>&1 || true
	@-$(SUDO) service redis-sentinel stop >/dev/null 2>&1 || true

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings

test: deps lint
	$(CARGO) test --release -- --test-threads=2

SOAK_SECS ?= 600
soak: deps
	SOAK_SECS=$(SOAK_SECS) $(CARGO) test --release --test replication soak -- --nocapture

bench: deps build
	./scripts/bench.sh

drill: deps
	$(CARGO) test --release --test replication drill -- --nocapture --test-threads=1 2>&1 | tee drill.log | grep -oE 'drill [0-9]+: .*' | tee drill-report.txt
	@grep -q 'test result: ok' drill.log

ha-demo: deps build
	./scripts/ha-demo.sh start

ha-demo-stop:
	./scripts/ha-demo.sh stop

clean:
	$(CARGO) clean
