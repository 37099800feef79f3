//! The toolkit's only read of the wall clock.
//!
//! Every timing goes through `tokio::time` (so a simulation can pause it); the wall clock names
//! report directories, gives the mock its `created` base, and dates the proxy's rebuilt answers
//! (`created`) and seeds its request ids, and nothing else.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch now (0 on a clock set before 1970).
pub fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Nanoseconds since the Unix epoch now (0 on a clock set before 1970), for what must differ
/// between two processes started in the same second: replicas in containers all run as pid 1.
pub fn epoch_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
