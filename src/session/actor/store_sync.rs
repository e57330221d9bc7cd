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

    /// Hands the events and meta of the last step to the store. Waiting for
    /// room here slows this session (and so its agent) when the disk is
    /// slow; the store never waits for an actor, so this cannot deadlock.
    pub(super) async fn persist(&mut self) {
        for cmd in std::mem::take(&mut self.proc_records) {
            let _ = self.rt.store.send(cmd).await;
        }
        // Meta first: the writer is FIFO and commits whole batches, so an
        // event anyone saw (committed) implies its step's meta is stored too
        // (e.g. the queue that event changed). The reverse gap — meta ahead
        // of the log after a crash — only makes a restore cancel or end
        // something no tab saw.
        if let Some(meta) = self.meta.take() {
            let cmd = Cmd::SaveMeta {
                session: self.id.clone(),
                agent: self.agent.clone(),
                meta,
            };
            let _ = self.rt.store.send(cmd).await;
        }
        if !self.to_store.is_empty() {
            let events = std::mem::take(&mut self.to_store);
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
        while self
            .unacked
            .front()
            .is_some_and(|(seq, _)| *seq <= commit.committed)
        {
            if let Some((seq, frame)) = self.unacked.pop_front() {
                self.unacked_bytes -= frame.len();
                self.log.push(seq, frame.clone());
                self.broadcast(frame);
            }
        }
        while let Some(&(seq, at)) = self.line_stamps.front() {
            if seq > commit.committed {
                break;
            }
            self.line_stamps.pop_front();
            self.rt.stats.event_delay.observe(at.elapsed());
        }
        match commit.error {
            Some(e) if !self.unacked.is_empty() => self.storage_failed(e),
            _ => {
                // Events made while storing failed were only held, never
                // sent: send them now that the store works again.
                if self.storage_error.take().is_some() {
                    self.to_store.extend(self.unacked.iter().cloned());
                    self.meta = Some(self.state.meta());
                }
            }
        }
    }

    /// Events stay unsent until they are durable; tell every tab once and
    /// offer them to the store again shortly.
    pub(super) fn storage_failed(&mut self, error: String) {
        if self.storage_error.as_deref() != Some(error.as_str()) {
            tracing::error!(session = %self.id, %error, "events could not be stored; holding them");
            let frame = Reply::error(
                "storage_failed",
                format!("swe-swe cannot save this session's events ({error}); they are held and will be sent once saved"),
            )
            .to_frame();
            for sub in self.subscribers.values() {
                let _ = sub.private.try_send(frame.clone());
            }
            self.storage_error = Some(error);
        }
        if !self.retry_armed {
            self.retry_armed = true;
            self.timers.insert(Timer::StoreRetry, STORE_RETRY);
        }
    }
}
