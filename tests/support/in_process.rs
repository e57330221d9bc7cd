//! Sessions run in the test's own process, without the HTTP server: for
//! tests that need a setting the command line does not offer, or the
//! store's counters.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use swe_swe::agent::{AgentSpec, ClaudeMode};
use swe_swe::process::ProcLimits;
use swe_swe::session::actor::{SessionRuntime, Stats};
use swe_swe::session::{Registry, SessionConfig};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The fake agent as Claude Code in duplex mode, keeping its state in `dir`.
pub fn duplex_fake_agent(dir: &Path) -> AgentSpec {
    std::env::set_var("FAKE_AGENT_STATE_DIR", dir);
    AgentSpec::Claude {
        bin: super::fake_agent().into(),
        mode: ClaudeMode::Duplex,
    }
}

/// A runtime storing in `dir/data`, agents started in `dir`, each turn's
/// output held up to `coalesce`.
pub fn runtime(dir: &Path, agent: &AgentSpec, coalesce: Duration) -> SessionRuntime {
    SessionRuntime {
        notices: Default::default(),
        agents: Arc::new(swe_swe::agent::catalog::AgentCatalog::only(agent.clone())),
        store: swe_swe::store::Store::open(&dir.join("data")).unwrap(),
        tail_cap: 2_000,
        bytes: Default::default(),
        coalesce,
        slots: swe_swe::session::agent_slots::AgentSlots::new(64),
        spawner: swe_swe::process::Spawner::start(dir.to_owned()).unwrap(),
        limits: ProcLimits {
            max_line_bytes: 1 << 20,
            default_grace: Duration::from_secs(1),
            output_drain: swe_swe::process::OUTPUT_DRAIN,
        },
        subscriber_queue: 100_000,
        tracker: TaskTracker::new(),
        shutdown: CancellationToken::new(),
        stats: Arc::new(Stats::default()),
    }
}

/// A registry of sessions running `agent` on `rt`.
pub fn registry(agent: AgentSpec, rt: &SessionRuntime) -> Registry {
    let cfg = SessionConfig {
        agent,
        history_cap: 10,
        tool_cache_cap: 1000,
        queue_cap: 4,
        stop_grace: Duration::from_secs(1),
        agent_start_timeout: Duration::from_secs(5),
    };
    Registry::new(cfg, rt.clone(), 100)
}

/// Shuts every session down and waits until their tasks and processes end.
pub async fn shut_down(rt: &SessionRuntime, registry: &Registry) {
    rt.shutdown.cancel();
    registry.clear();
    rt.tracker.close();
    tokio::time::timeout(super::WAIT, rt.tracker.wait())
        .await
        .expect("sessions and processes end");
}
