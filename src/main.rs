//! The `moonkv` binary: `moonkv [config-file] [--directive value ...]`, exactly like
//! redis-server's command line, then `server::run`.

use tikv_jemallocator::Jemalloc;

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

const USAGE: &str = "Usage: ./moonkv [/path/to/moonkv.conf] [options] [-]
       ./moonkv - (read config from stdin)
       ./moonkv -v or --version
       ./moonkv -h or --help
       ./moonkv --check-rdb <file.rdb> (verify an RDB file, like redis-check-rdb)

Examples:
       ./moonkv (run the server with default conf)
       ./moonkv /etc/redis/6379.conf
       ./moonkv --port 7777
       ./moonkv --port 7777 --replicaof 127.0.0.1 8888
       ./moonkv /etc/mymoonkv.conf --loglevel verbose -

moonkv reads redis.conf syntax; every redis.conf directive is either implemented,
accepted only with the value that states what moonkv does, or refused.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(first) = args.first() {
        match first.as_str() {
            "-v" | "--version" => {
                println!(
                    "moonkv v={} (Redis-compatible v={}) bits=64 malloc=jemalloc-5.3.0",
                    env!("CARGO_PKG_VERSION"),
                    moonkv::REDIS_VERSION
                );
                return;
            }
            "--check-rdb" => {
                let Some(file) = args.get(1) else {
                    eprintln!("Usage: ./moonkv --check-rdb <rdb-file-name>");
                    std::process::exit(1);
                };
                match moonkv::engine::persist::check_rdb(std::path::Path::new(file)) {
                    Ok(report) => {
                        print!("{report}");
                        return;
                    }
                    Err(report) => {
                        print!("{report}");
                        std::process::exit(1);
                    }
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            _ => {}
        }
    }
    let config = match moonkv::config::Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    init_logging(&config);
    // One worker thread: every command runs under the engine lock anyway, and on a
    // 2-core machine shared with clients a second worker only adds cross-thread
    // wake-ups (measured: redis-benchmark -P 32 GET 2.5M ops/s with two workers,
    // 3.2M with one). It is still a multi-thread runtime so that long work can use
    // `block_in_place` while the other connections are served by a fresh worker.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_stack_size(32 << 20)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(moonkv::server::run(config)) {
        tracing::error!("{e:#}");
        std::process::exit(1);
    }
    // Connection tasks may still be running; the process ends here, as Redis does.
    std::process::exit(0);
}

fn init_logging(config: &moonkv::config::Config) {
    let level = config.loglevel.tracing_filter();
    let filter = tracing_subscriber::EnvFilter::try_from_env("MOONKV_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if config.logfile.is_empty() {
        builder.with_writer(std::io::stdout).init();
    } else {
        match std::fs::OpenOptions::new().create(true).append(true).open(&config.logfile) {
            Ok(f) => builder.with_ansi(false).with_writer(std::sync::Mutex::new(f)).init(),
            Err(e) => {
                eprintln!("Can't open the log file: {e}");
                std::process::exit(1);
            }
        }
    }
}
