# moonkv — build, run, test, benchmark.
#
#   make run     build release and start a primary on configs/moonkv.conf
#   make test    install missing Debian packages, lint, run every test
#   make soak    the randomized replication soak for SOAK_SECS (default 600) seconds
#   make bench   redis-benchmark against moonkv and redis-server side by side
#   make ha-demo three moonkv nodes and three redis-sentinels (configs/ha); ha-demo-stop
#   make drill   the redis-sentinel failover drills, longer: a table and charts in drill-report/

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

# The failover drills with DRILL_SECS of load before each failure and after
# each recovery: a summary table (drill-report/report.txt), a chart of the
# client's write latency and errors per drill (drill-report/drill-N.png) and
# the full output (drill-report/drill.log).
DRILL_SECS ?= 10
drill: deps
	rm -rf drill-report && mkdir -p drill-report
	@DRILL_OUT=$(CURDIR)/drill-report DRILL_SECS=$(DRILL_SECS) \
	  $(CARGO) test --release --test replication drills::drill_ -- --nocapture --test-threads=1 \
	  > drill-report/drill.log 2>&1; status=$$?; \
	  cat drill-report/report.txt 2>/dev/null; ls drill-report/*.png 2>/dev/null; \
	  if [ $$status -ne 0 ]; then tail -50 drill-report/drill.log; fi; exit $$status

ha-demo: deps build
	./scripts/ha-demo.sh start

ha-demo-stop:
	./scripts/ha-demo.sh stop

clean:
	$(CARGO) clean
