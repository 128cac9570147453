//! SHUTDOWN as in Redis 7.0: a primary waits for lagging replicas (writes
//! paused) before it saves and exits, so a replica promoted afterwards has
//! every write and the primary's file ends where its replicas are.

use super::*;
use std::process::Command;

fn signal(server: &Server, sig: &str) {
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args([sig, &pid]).status().expect("kill").success());
}

/// A write from a fresh connection that is still unanswered after `within`
/// (paused), or its reply.
fn write_within(server: &Server, key: &str, within: Duration) -> Option<redis::RedisResult<()>> {
    let mut c = server.conn();
    c.set_read_timeout(Some(within)).unwrap();
    match redis::cmd("SET").arg(key).arg("1").query::<()>(&mut c) {
        Err(e) if e.is_timeout() => None,
        r => Some(r),
    }
}

/// Sends SHUTDOWN on a connection of its own; the thread returns its reply, or
/// None when the server closed the connection without one (it exited).
fn shutdown_in_thread(server: &Server, args: &'static [&'static str]) -> std::thread::JoinHandle<Option<String>> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    std::thread::spawn(move || {
        let mut argv: Vec<&[u8]> = vec![b"SHUTDOWN"];
        argv.extend(args.iter().map(|a| a.as_bytes()));
        stream.write_all(&resp(&argv)).expect("send SHUTDOWN");
        // The reply is one line (an error), or nothing and the end of the stream.
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n") && matches!(stream.read(&mut byte), Ok(1)) {
            reply.push(byte[0]);
        }
        (!reply.is_empty()).then(|| String::from_utf8_lossy(&reply).into_owned())
    })
}

#[test]
fn shutdown_waits_for_a_lagging_replica_with_writes_paused() {
    let primary = Server::start(&["--repl-diskless-sync-delay", "0", "--save", "3600 1"]);
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    attach(&mut r, &primary);
    let mut p = primary.conn();
    write_mix(&mut p, "before");
    wait_caught_up(&mut p, &mut r);

    // A stopped replica lags: SHUTDOWN waits, and writes wait with it.
    signal(&replica, "-STOP");
    write_mix(&mut p, "lagging");
    let first = shutdown_in_thread(&primary, &[]);
    wait_for(SYNC, "the primary to wait for its replica", || primary.log().contains("Waiting for replicas"));
    assert!(write_within(&primary, "paused", Duration::from_millis(300)).is_none(), "writes are paused");
    // CLIENT UNBLOCK cannot end it (redis-server 7.0 aborts on it; later
    // versions answer 0 like this).
    let list: String = q(&mut p, &["CLIENT", "LIST"]);
    let line = list.lines().find(|l| l.contains("cmd=shutdown")).expect("the SHUTDOWN client");
    let id = line.split(' ').next().and_then(|f| f.strip_prefix("id=")).expect("id");
    for how in ["TIMEOUT", "ERROR"] {
        assert_eq!(q::<i64>(&mut p, &["CLIENT", "UNBLOCK", id, how]), 0);
    }
    assert!(primary.log().matches("User requested shutdown").count() == 1 && !first.is_finished());
    // SHUTDOWN ABORT: the waiting SHUTDOWN fails, writes flow again.
    let _: () = q(&mut primary.conn(), &["SHUTDOWN", "ABORT"]);
    assert_eq!(first.join().unwrap().as_deref(), Some("-ERR Errors trying to SHUTDOWN. Check logs.\r\n"));
    assert_eq!(primary.raw().cmd("SHUTDOWN ABORT"), b"-ERR No shutdown in progress.\r\n");
    assert!(matches!(write_within(&primary, "after abort", SYNC), Some(Ok(()))), "writes flow again");
    let want = digest(&mut primary.conn());

    // Again, and the replica resumes: it gets everything, then the primary saves
    // and exits.
    let second = shutdown_in_thread(&primary, &[]);
    wait_for(SYNC, "the primary to wait again", || primary.log().matches("Waiting for replicas").count() == 2);
    signal(&replica, "-CONT");
    assert_eq!(second.join().unwrap(), None, "the connection closed: the server exited");
    let mut primary = primary;
    wait_for(SYNC, "the primary to exit", || !primary.alive());
    assert!(primary.log().contains("Saving the final RDB snapshot"), "{}", primary.log());
    assert_eq!(digest(&mut r), want, "the replica has every write");
}

#[test]
fn shutdown_gives_up_on_a_replica_after_shutdown_timeout_and_sigterm_waits_too() {
    // Past shutdown-timeout the lagging replica is named in the log and the
    // primary exits anyway.
    let mut primary = Server::start(&["--repl-diskless-sync-delay", "0", "--shutdown-timeout", "1"]);
    let replica = Server::start(&[]);
    attach(&mut replica.conn(), &primary);
    signal(&replica, "-STOP");
    write_mix(&mut primary.conn(), "lagging");
    let started = std::time::Instant::now();
    assert_eq!(shutdown_in_thread(&primary, &[]).join().unwrap(), None);
    wait_for(SYNC, "the primary to exit", || !primary.alive());
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert!(primary.log().contains("Lagging replica"), "{}", primary.log());
    signal(&replica, "-CONT");

    // NOW does not wait.
    let mut primary = Server::start(FAST);
    let replica = Server::start(&[]);
    attach(&mut replica.conn(), &primary);
    signal(&replica, "-STOP");
    write_mix(&mut primary.conn(), "lagging");
    assert_eq!(shutdown_in_thread(&primary, &["NOW"]).join().unwrap(), None);
    wait_for(SYNC, "the primary to exit", || !primary.alive());
    assert!(!primary.log().contains("Waiting for replicas"), "{}", primary.log());
    signal(&replica, "-CONT");

    // SIGTERM waits as SHUTDOWN does: writes pause until the replica is back.
    let mut primary = Server::start(FAST);
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    attach(&mut r, &primary);
    signal(&replica, "-STOP");
    write_mix(&mut primary.conn(), "lagging");
    let want = digest(&mut primary.conn());
    signal(&primary, "-TERM");
    wait_for(SYNC, "the primary to wait for its replica", || primary.log().contains("Waiting for replicas"));
    assert!(primary.alive());
    signal(&replica, "-CONT");
    wait_for(SYNC, "the primary to exit", || !primary.alive());
    assert_eq!(digest(&mut r), want, "the replica has every write");
}

/// A primary with a replica, shut down gracefully (SHUTDOWN SAVE), and the
/// replica promoted: the old primary's port and file, the promoted replica and
/// a connection to it.
fn stop_primary_and_promote_its_replica() -> (u16, Vec<u8>, Server, redis::Connection) {
    let primary = Server::start(FAST);
    let replica = Server::start(FAST);
    let mut r = replica.conn();
    attach(&mut r, &primary);
    write_mix(&mut primary.conn(), "before");
    let old_port = primary.port;
    assert_eq!(shutdown_in_thread(&primary, &["SAVE"]).join().unwrap(), None);
    let file = file_left_by(&mut { primary });
    let _: () = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    (old_port, file, replica, r)
}

/// A primary shut down gracefully, its replica promoted meanwhile: restarted
/// from its file, the old primary continues the promoted replica's history
/// partially (its data is that history at the file's offset). Redis asks with
/// the restarted node's new id and syncs in full.
#[test]
fn a_gracefully_stopped_primary_rejoins_its_promoted_replica_partially() {
    let (old_port, file, replica, mut r) = stop_primary_and_promote_its_replica();
    write_mix(&mut r, "promoted");

    let back = Server::start_on_port_with_files(old_port, FAST, &[("dump.rdb", &file)]);
    let mut b = back.conn();
    wait_loaded(&mut b);
    // Sentinel's hellos (PUBLISH) reach it before it is made a replica: they
    // move its offset on but change no data.
    let offset = repl_field(&mut b, "master_repl_offset");
    let _: i64 = q(&mut b, &["PUBLISH", "__sentinel__:hello", "127.0.0.1,26379,…"]);
    assert_ne!(repl_field(&mut b, "master_repl_offset"), offset);
    attach(&mut b, &replica);
    wait_caught_up(&mut r, &mut b);
    assert_eq!(digest(&mut r), digest(&mut b));
    assert_eq!(stat_of(&mut r, "sync_partial_ok"), "1", "{}", info_of(&mut r, "stats"));
    assert_eq!(stat_of(&mut r, "sync_full"), "0");
    // A node that wrote after its restart has its own history: a full sync.
    let _: () = q(&mut b, &["REPLICAOF", "NO", "ONE"]);
    let _: () = q(&mut b, &["SET", "own", "1"]);
    attach(&mut b, &replica);
    wait_caught_up(&mut r, &mut b);
    assert_eq!(digest(&mut r), digest(&mut b));
    assert_eq!(stat_of(&mut r, "sync_full"), "1");
}

/// SHUTDOWN's refusals answer byte for byte as redis-server's.
#[test]
fn shutdown_refusals_answer_like_redis() {
    compare_with_redis(
        &[
            "SHUTDOWN ABORT",
            "SHUTDOWN ABORT ABORT",
            "SHUTDOWN NOW ABORT",
            "SHUTDOWN ABORT FORCE",
            "SHUTDOWN SAVE NOSAVE",
            "SHUTDOWN NOSAVE SAVE NOW",
            "SHUTDOWN NOW PLEASE",
            "MULTI",
            "SHUTDOWN",
            "SHUTDOWN NOW",
            "EXEC",
            "PING",
        ],
        |_| true,
    );
}

/// An intermediate replica shut down while its own replica lags does not
/// wait for it (its replica takes the stream from the primary again), adds
/// nothing to the stream it forwards, and restarted from its file continues
/// partially; its replica catches up through it.
#[test]
fn an_intermediate_replica_shuts_down_at_once_and_continues_from_its_file() {
    let primary = Server::start(FAST);
    let middle = Server::start(FAST);
    let leaf = Server::start(&[]);
    let mut p = primary.conn();
    attach(&mut middle.conn(), &primary);
    attach(&mut leaf.conn(), &middle);
    write_mix(&mut p, "before");
    wait_caught_up(&mut p, &mut leaf.conn());
    signal(&leaf, "-STOP");
    write_mix(&mut p, "lagging");
    wait_caught_up(&mut p, &mut middle.conn());
    assert_eq!(shutdown_in_thread(&middle, &["SAVE"]).join().unwrap(), None);
    let mut middle = middle;
    let file = file_left_by(&mut middle);
    assert!(!middle.log().contains("Waiting for replicas"), "{}", middle.log());
    signal(&leaf, "-CONT");
    let again = Server::start_with_files(
        &["--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", &primary.port.to_string()],
        &[("dump.rdb", &file)],
    );
    let mut m = again.conn();
    wait_for(SYNC, "the restarted replica's link", || repl_field(&mut m, "master_link_status") == "up");
    let mut l = leaf.conn();
    let _: () = q(&mut l, &["REPLICAOF", "127.0.0.1", &again.port.to_string()]);
    write_mix(&mut p, "after");
    wait_caught_up(&mut p, &mut m);
    wait_caught_up(&mut p, &mut l);
    assert_eq!(digest(&mut p), digest(&mut m));
    assert_eq!(digest(&mut p), digest(&mut l));
    assert!(again.log().contains("Successful partial resynchronization"), "{}", again.log());
    assert_eq!(stat_of(&mut p, "sync_full"), "1", "only the first sync was full");
}

/// The same rejoin with a replica of its own, which got a PUBLISH past the
/// point the node continues from: it is sent to ask again and ends with the
/// new primary's data.
#[test]
fn a_rejoining_primary_sends_its_own_replica_to_ask_again() {
    let (old_port, file, replica, mut r) = stop_primary_and_promote_its_replica();

    let back = Server::start_on_port_with_files(old_port, FAST, &[("dump.rdb", &file)]);
    let mut b = back.conn();
    wait_loaded(&mut b);
    let own = Server::start(&[]);
    let mut o = own.conn();
    attach(&mut o, &back);
    let _: i64 = q(&mut b, &["PUBLISH", "news", "only on the old primary's side"]);
    wait_caught_up(&mut b, &mut o);
    attach(&mut b, &replica);
    write_mix(&mut r, "promoted");
    wait_for(SYNC, "its replica's link back", || repl_field(&mut o, "master_link_status") == "up");
    wait_caught_up(&mut r, &mut b);
    wait_caught_up(&mut b, &mut o);
    assert_eq!(digest(&mut r), digest(&mut o));
    assert_eq!(stat_of(&mut r, "sync_full"), "0", "the rejoin was partial");
}

/// A replica detached (REPLICAOF NO ONE) and attached again at once wrote
/// nothing meanwhile: it continues its primary's stream partially, in the
/// database that stream had selected (the primary sends no SELECT until it
/// changes database again).
#[test]
fn a_replica_detached_and_attached_again_continues_in_the_streams_database() {
    let primary = Server::start(FAST);
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    attach(&mut r, &primary);
    let mut p = primary.conn();
    let _: () = q(&mut p, &["SELECT", "2"]);
    let _: () = q(&mut p, &["SET", "a", "1"]);
    wait_caught_up(&mut p, &mut r);
    let _: () = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    attach(&mut r, &primary);
    let _: () = q(&mut p, &["SET", "b", "2"]);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert_eq!(stat_of(&mut p, "sync_full"), "1", "the second attach continued");
}

/// The same with a change that went to no stream (DEBUG POPULATE, which Redis
/// does not propagate either): the data is no longer the primary's, so the
/// replica syncs in full and the local change is gone.
#[test]
fn a_replica_that_changed_data_unpropagated_while_detached_syncs_in_full() {
    let (primary, _replica, mut p, mut r) = synced_pair("before", &[]);
    let _: () = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    let offset = repl_field(&mut r, "master_repl_offset");
    let _: () = q(&mut r, &["DEBUG", "POPULATE", "10", "local"]);
    assert_eq!(repl_field(&mut r, "master_repl_offset"), offset, "nothing went to the stream");
    attach(&mut r, &primary);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert_eq!(stat_of(&mut p, "sync_full"), "2");
}

/// A replica saved while its link is down (here: pointed at a port nothing
/// listens on) records the database its primary's stream had selected, so
/// that, restarted from the file, it continues there.
#[test]
fn a_replica_saved_with_its_link_down_continues_in_the_streams_database() {
    let primary = Server::start(FAST);
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    attach(&mut r, &primary);
    let mut p = primary.conn();
    let _: () = q(&mut p, &["SELECT", "2"]);
    let _: () = q(&mut p, &["SET", "a", "1"]);
    wait_caught_up(&mut p, &mut r);
    let _: () = q(&mut r, &["REPLICAOF", "127.0.0.1", &CLOSED_PORT.to_string()]);
    assert_eq!(shutdown_in_thread(&replica, &["SAVE"]).join().unwrap(), None);
    let file = file_left_by(&mut { replica });
    let again =
        Server::start_with_files(&["--replicaof", "127.0.0.1", &primary.port.to_string()], &[("dump.rdb", &file)]);
    let mut r = again.conn();
    wait_for(SYNC, "the restarted replica's link", || repl_field(&mut r, "master_link_status") == "up");
    let _: () = q(&mut p, &["SET", "b", "2"]);
    wait_caught_up(&mut p, &mut r);
    assert_eq!(digest(&mut p), digest(&mut r));
    assert_eq!(stat_of(&mut p, "sync_full"), "1", "it continued");
}

#[test]
fn no_write_is_acknowledged_after_the_final_save() {
    // Writers pipeline INCRs while SHUTDOWN saves: every INCR answered must
    // be in the file (the server exits while it still holds the dataset).
    let mut server = Server::start(&["--save", ""]);
    let port = server.port;
    let writers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c =
                    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
                let mut acked = 0i64;
                loop {
                    let mut p = redis::pipe();
                    for _ in 0..50 {
                        p.cmd("INCR").arg("n");
                    }
                    match p.query::<Vec<i64>>(&mut c) {
                        Ok(v) => acked = acked.max(*v.iter().max().unwrap()),
                        Err(_) => return acked,
                    }
                }
            })
        })
        .collect();
    let mut c = server.conn();
    wait_for(SYNC, "the writers to start", || q::<Option<i64>>(&mut c, &["GET", "n"]).unwrap_or(0) > 1000);
    let file = shutdown_save(&mut server);
    let acked = writers.into_iter().map(|w| w.join().unwrap()).max().unwrap();
    let again = Server::start_with_files(&[], &[("dump.rdb", &file)]);
    let saved: i64 = q(&mut again.conn(), &["GET", "n"]);
    assert!(saved >= acked, "the file has n = {saved}, but INCR answered {acked}");
}
