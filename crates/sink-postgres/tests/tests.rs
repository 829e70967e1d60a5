//! PostgreSQL sink tests against a real server at `$LLMSEC_TEST_POSTGRES_URL`, started by
//! scripts/test.sh (with `$LLMSEC_TEST_POSTGRES_DATA` for the restart test).

#[cfg(feature = "integration-tests")]
mod postgres;
// Configuration errors that need no server.
mod config;
