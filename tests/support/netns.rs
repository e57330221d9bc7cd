//! Running a test inside a network namespace that has only loopback: the
//! test binary re-executes just that test under `unshare -n`, where real
//! agent CLIs can reach nothing but the stand-ins the test serves.

use std::future::Future;
use std::process::Command;

const IN_NETNS: &str = "SWE_SWE_TEST_IN_NETNS";

/// Runs `body` (on a 2-thread runtime) inside a loopback-only namespace.
/// Anything that needs the network (npm installs) must happen before.
pub fn run<F, Fut>(name: &str, body: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    if std::env::var_os(IN_NETNS).is_some() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        return rt.block_on(body());
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args([
            "-n",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ])
        .arg(&exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(IN_NETNS, "1")
        .status()
        .unwrap_or_else(|e| panic!("`unshare` (util-linux) is needed for these tests: {e}"));
    assert!(
        out.success(),
        "{name} failed inside its network namespace: {out}"
    );
}
