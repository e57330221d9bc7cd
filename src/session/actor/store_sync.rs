//! Keeping a session and its store in step: loading at start, handing
//! events to the writer, and releasing them to tabs once they are durable.

use super::*;

impl Actor {
    /// Continues the session from the store, if it was there before.
    pub(super) async fn load(&mut self, cfg: SessionConfig) {
        // A retired actor of this session may have handed its last writes
        // to the store moments ago: read only after they are applied.
        let _ = self.rt.store.flush().await;
        let (cap, bytes) = (self.rt.tail_cap, self.rt.bytes.tail);
        match self.rt.store.load(&self.id, cap, bytes).await {
            Ok(Some(loaded)) => {
                // A session keeps the agent it started with.
                let cfg = self.with_agent(cfg, &loaded.agent);
                self.log = EventLog::new(cap, bytes, loaded.last_seq, loaded.tail);
                self.commit_tx.send_replace(Commit {
                    committed: loaded.last_seq,
                    error: None,
                });
                self.commit_rx.borrow_and_update();
                let (state, effects) = SessionState::restore(cfg, &loaded.meta, loaded.last_seq);
                self.state = state;
                for e in effects {
                    self.perform(e, None);
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(session = %self.id, "cannot load the session from the store: {e}")
            }
        }
    }

    /// `cfg` running the agent named `name`: the catalog's, or one that
    /// fails each turn saying so when this server does not offer it ('':
    /// a session stored before agents were recorded keeps the default).
    pub(super) fn with_agent(&mut self, mut cfg: SessionConfig, name: &str) -> SessionConfig {
        if name.is_empty() || name == cfg.agent.label() {
            return cfg;
        }
        cfg.agent = match self.rt.agents.get(name) {
            Some(spec) => spec.clone(),
            None => crate::agent::AgentSpec::Unavailable(name.to_owned()),
        };
        self.agent = name.into();
        cfg
    }

    /// Hands the events and meta of the last step to the store. Waiting for
    /// room here slows this session (and so its agent) when the disk is
    /// slow; the store never waits for an actor, so this cannot deadlock.
    ///
    /// With `--coalesce`, a step of agent output (`may_hold`) in a turn
    /// that streams may leave its events (and meta) waiting up to that long
    /// for more, so one commit and one write per tab carry several. Anything
    /// a person is waiting on goes at once: a step that came from a command
    /// (a message, a stop, an answer), a turn's end, a permission question.
    pub(super) async fn persist(&mut self, may_hold: bool) {
        for cmd in std::mem::take(&mut self.proc_records) {
            let _ = self.rt.store.send(cmd).await;
        }
        if may_hold && self.state.running().is_some() && self.state.prompts_waiting() == 0 {
            let now = std::time::Instant::now();
            let budget = self.rt.bytes.unstored;
            if let Some(due) = self.outbox.hold_until(now, self.rt.coalesce, budget) {
                // One timer per held burst: it ends the hold at the latest.
                if self.hold_due != Some(due) {
                    self.hold_due = Some(due);
                    self.timers.insert(Timer::HoldEnds, due - now);
                }
                return;
            }
        }
        // Meta first: the writer is FIFO and commits whole batches, so an
        // event anyone saw (committed) implies its step's meta is stored too
        // (e.g. the queue that event changed). The reverse gap — meta ahead
        // of the log after a crash — only makes a restore cancel or end
        // something no tab saw.
        if let Some(meta) = self.outbox.take_meta() {
            let cmd = Cmd::SaveMeta {
                session: self.id.clone(),
                agent: self.agent.clone(),
                meta,
            };
            let _ = self.rt.store.send(cmd).await;
        }
        let events = self.outbox.take_events();
        if !events.is_empty() {
            let cmd = Cmd::Append {
                session: self.id.clone(),
                agent: self.agent.clone(),
                events,
                commit: self.commit_tx.clone(),
            };
            if self.rt.store.send(cmd).await.is_err() {
                self.storage_failed("the store has stopped".into());
            }
        }
    }

    /// The store committed (or failed to commit) a batch of this session.
    pub(super) fn on_commit(&mut self) {
        let commit = self.commit_rx.borrow_and_update().clone();
        let released = self.outbox.on_commit(&commit);
        // The first event is stored: the session is in the list from now on.
        if released.frames.first().is_some_and(|(seq, _)| *seq == 1) {
            self.rt.notices.sessions_changed(&self.id, "created");
        }
        // Sent, then moved into the tail: no copy of the list, and one
        // reference count change less per event (that count's cache line
        // was last written by the store thread).
        self.broadcast(&released.frames);
        for (seq, frame) in released.frames {
            self.log.push(seq, frame);
        }
        // One clock read for the whole release: the lines' events were all
        // queued for their tabs just now.
        let now = std::time::Instant::now();
        for at in released.line_arrivals {
            self.rt
                .stats
                .event_delay
                .observe(now.saturating_duration_since(at));
        }
        if released.recovered {
            // The failed batch may have held this session's meta.
            self.outbox.set_meta(self.state.meta());
        }
        if let (Some(failure), Some(error)) = (released.failed, commit.error) {
            self.report_storage_failure(failure, error);
        }
    }

    /// Events stay unsent until they are durable; tell every tab once and
    /// offer them to the store again shortly.
    pub(super) fn storage_failed(&mut self, error: String) {
        let failure = self.outbox.failed(error.clone());
        self.report_storage_failure(failure, error);
    }

    fn report_storage_failure(&mut self, failure: outbox::Failure, error: String) {
        if failure.tell_tabs {
            tracing::error!(session = %self.id, %error, "events could not be stored; holding them");
            let frame = Reply::error(
                "storage_failed",
                format!("swe-swe cannot save this session's events ({error}); they are held and will be sent once saved"),
            )
            .to_frame();
            for sub in self.subscribers.values() {
                let _ = sub.private.try_send(frame.clone());
            }
        }
        if failure.arm_retry {
            self.timers.insert(Timer::StoreRetry, STORE_RETRY);
        }
    }
}
