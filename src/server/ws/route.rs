//! What a decoded client message asks of its connection, decided without
//! I/O: join a session, feed the session an input, answer at once, search
//! the files. The connection then carries it out (`Conn::on_text`).

use crate::protocol::client::ClientMessage;
use crate::protocol::server::{Frame, Reply};
use crate::session::state::{ConnId, Input};

#[derive(Debug)]
pub(super) enum Route {
    /// Join `session` (`None`: a new one), replaying what follows
    /// `last_seq` (`None`: nothing).
    Join {
        session: Option<String>,
        last_seq: Option<u64>,
        agent: Option<String>,
    },
    /// Join `session` first (the original client names its session in
    /// every message), then feed `input`.
    JoinThen {
        session: String,
        input: Input,
    },
    /// Feed the current session.
    Input(Input),
    /// A message with attached files: join `join` if given, read the files
    /// `ids` of the session from the store into the message, then feed it.
    WithFiles {
        join: Option<String>,
        input: Input,
        ids: Vec<String>,
    },
    /// Answer this connection only.
    Reply(Frame),
    Search {
        query: String,
        max_results: usize,
    },
    RefreshFiles,
    WatchSessions,
}

/// Where `msg`, from connection `conn` now in session `current`, goes.
pub(super) fn route(msg: ClientMessage, conn: ConnId, current: Option<&str>) -> Route {
    match msg {
        ClientMessage::Hello {
            session,
            last_seq,
            agent,
        } => Route::Join {
            session,
            last_seq: Some(last_seq.unwrap_or(0)),
            agent,
        },
        ClientMessage::UserMessage {
            content,
            session,
            agent_session,
            attachments,
        } => {
            let input = Input::UserMessage {
                from: conn,
                content,
                agent_session_hint: agent_session,
                attachments: Vec::new(),
            };
            if !attachments.is_empty() {
                let join = session.filter(|s| current != Some(s.as_str()));
                if join.is_none() && current.is_none() {
                    return no_session("send a hello (or a sessionID) first");
                }
                return Route::WithFiles {
                    join,
                    input,
                    ids: attachments,
                };
            }
            match (session, current) {
                (Some(s), cur) if cur != Some(s.as_str()) => Route::JoinThen { session: s, input },
                (_, Some(_)) => Route::Input(input),
                _ => no_session("send a hello (or a sessionID) first"),
            }
        }
        ClientMessage::Stop { run_id } if current.is_none() => Route::Reply(
            Reply::StopAck {
                run_id,
                running: false,
                message: Some("not in a session".into()),
            }
            .to_frame(),
        ),
        ClientMessage::Stop { run_id } => Route::Input(Input::Stop { from: conn, run_id }),
        ClientMessage::PermissionAnswer {
            request_id,
            decision,
            reason,
            answers,
            option_id,
        } => Route::Input(Input::PermissionAnswer {
            from: conn,
            request_id,
            decision,
            reason,
            answers,
            option_id,
        }),
        ClientMessage::SetPermissionMode { mode } => {
            Route::Input(Input::SetPermissionMode { mode })
        }
        ClientMessage::LegacyPermission {
            allowed_tools,
            skip_permissions,
        } => Route::Input(Input::LegacyPermission {
            allowed_tools,
            skip: skip_permissions,
        }),
        ClientMessage::CancelQueued { queue_id } => Route::Input(Input::CancelQueued {
            from: conn,
            queue_id,
        }),
        ClientMessage::FuzzySearch { query, max_results } => Route::Search { query, max_results },
        ClientMessage::RefreshFileIndex => Route::RefreshFiles,
        ClientMessage::WatchSessions => Route::WatchSessions,
        ClientMessage::Ping => Route::Reply(Reply::Pong.to_frame()),
    }
}

fn no_session(message: &str) -> Route {
    Route::Reply(Reply::error("no_session", message).to_frame())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::client::decode_client_message;

    fn routed(json: &str, current: Option<&str>) -> Route {
        route(decode_client_message(json).unwrap(), 7, current)
    }

    #[test]
    fn messages_go_where_the_connection_is_or_says() {
        assert!(matches!(
            routed(r#"{"type":"hello","session":"a"}"#, None),
            Route::Join {
                last_seq: Some(0),
                ..
            }
        ));
        // The original client's form names the session: join it first,
        // unless the connection is already there.
        let legacy = r#"{"sender":"USER","content":"hi","sessionID":"b"}"#;
        assert!(
            matches!(routed(legacy, Some("a")), Route::JoinThen { ref session, .. } if session == "b")
        );
        assert!(matches!(
            routed(legacy, Some("b")),
            Route::Input(Input::UserMessage { from: 7, .. })
        ));
        assert!(matches!(routed(legacy, None), Route::JoinThen { .. }));
        let bare = r#"{"type":"message","content":"hi"}"#;
        assert!(matches!(routed(bare, Some("a")), Route::Input(_)));
        match routed(bare, None) {
            Route::Reply(f) => assert!(f.contains("no_session"), "{f}"),
            other => panic!("{other:?}"),
        }
        match routed(r#"{"type":"stop"}"#, None) {
            Route::Reply(f) => assert!(f.contains("not in a session"), "{f}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            routed(r#"{"type":"stop","runId":3}"#, Some("a")),
            Route::Input(Input::Stop {
                from: 7,
                run_id: Some(3)
            })
        ));
        assert!(matches!(
            routed(r#"{"type":"ping"}"#, None),
            Route::Reply(_)
        ));
        assert!(matches!(
            routed(r#"{"type":"fuzzy_search","query":"x"}"#, None),
            Route::Search { .. }
        ));
    }
}
