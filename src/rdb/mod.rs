//! The RDB format (versions 9 to 11 read, 10 written), as redis-server 7.0 reads and
//! writes it: see ../shared/specs/replication.md §10.
