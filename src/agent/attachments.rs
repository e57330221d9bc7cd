//! Files a user attaches to a message, and what each agent can take of them:
//! images as image content where the agent takes images (Claude Code's
//! stream-json input, ACP agents advertising `promptCapabilities.image`),
//! text files inlined into the message for every agent, and nothing else.
//! What an agent cannot take is named back, so the session says so.

use base64::Engine as _;
use serde::Serialize;

/// Largest attachment, in bytes (the Messages API takes images up to 5 MB
/// each; text files this big are already more than a context holds).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Attachments one message may carry.
pub const MAX_PER_MESSAGE: usize = 8;
/// Bytes of attachments one message may carry: images go to the agent as
/// base64 on one line (a third larger), and a model request holds about
/// this much at most.
pub const MAX_MESSAGE_BYTES: usize = 20 * 1024 * 1024;
/// Image types the agents take (the Messages API's list); SVG is text.
pub const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub id: String,
    pub name: String,
    pub mime: String,
    /// Shared: a message is cloned into the queue and the turn, never its
    /// bytes; an upload's body becomes this without a copy.
    pub bytes: bytes::Bytes,
}

/// What the page shows of an attachment (its bytes are fetched by id).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachmentMeta {
    pub id: String,
    pub name: String,
    pub mime: String,
    pub size: usize,
}

pub enum Kind<'a> {
    Image,
    Text(&'a str),
    Binary,
}

impl Attachment {
    pub fn kind(&self) -> Kind<'_> {
        if IMAGE_TYPES.contains(&self.mime.as_str()) {
            Kind::Image
        } else {
            match std::str::from_utf8(&self.bytes) {
                Ok(text) => Kind::Text(text),
                Err(_) => Kind::Binary,
            }
        }
    }

    pub fn meta(&self) -> AttachmentMeta {
        AttachmentMeta {
            id: self.id.clone(),
            name: self.name.clone(),
            mime: self.mime.clone(),
            size: self.bytes.len(),
        }
    }

    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.bytes)
    }
}

/// What to send for a message: its text with the text files inlined, the
/// images, and the names of what cannot go (binary files, and images when
/// `images` is false) with why.
pub struct Prepared<'a> {
    pub text: String,
    pub images: Vec<&'a Attachment>,
    pub left_out: Vec<String>,
}

pub fn prepare<'a>(content: &str, attachments: &'a [Attachment], images: bool) -> Prepared<'a> {
    let mut text = content.to_owned();
    let mut out = Prepared {
        text: String::new(),
        images: Vec::new(),
        left_out: Vec::new(),
    };
    for a in attachments {
        match a.kind() {
            Kind::Image if images => out.images.push(a),
            Kind::Image => out
                .left_out
                .push(format!("{} (this agent takes no images)", a.name)),
            Kind::Text(body) => {
                // A fence longer than any run of backticks in the file.
                let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
                let fence = "`".repeat(longest.max(2) + 1);
                text.push_str(&format!(
                    "\n\nAttached file `{}`:\n{fence}\n{}\n{fence}",
                    a.name,
                    body.trim_end_matches('\n')
                ));
            }
            Kind::Binary => out.left_out.push(format!(
                "{} (a binary file: only images and text files can be sent)",
                a.name
            )),
        }
    }
    out.text = text;
    out
}

/// A file name as the page gave it, made safe to show and to quote: no
/// path, no control characters, at most 200 characters.
pub fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let name: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '`')
        .take(200)
        .collect();
    let name = name.trim();
    if name.is_empty() || name == "." || name == ".." {
        "attachment".into()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att(name: &str, mime: &str, bytes: &[u8]) -> Attachment {
        Attachment {
            id: name.into(),
            name: name.into(),
            mime: mime.into(),
            bytes: bytes::Bytes::copy_from_slice(bytes),
        }
    }

    #[test]
    fn text_is_inlined_images_kept_binaries_named() {
        let files = [
            att("notes.md", "text/markdown", b"has ``` inside\n"),
            att("shot.png", "image/png", b"\x89PNG"),
            att("blob.bin", "application/octet-stream", &[0xff, 0xfe, 0x00]),
        ];
        let p = prepare("look", &files, true);
        assert!(p
            .text
            .starts_with("look\n\nAttached file `notes.md`:\n````\nhas ``` inside\n````"));
        assert_eq!(p.images.len(), 1);
        assert_eq!(p.left_out.len(), 1);
        assert!(p.left_out[0].starts_with("blob.bin"));
        let p = prepare("look", &files, false);
        assert!(p.images.is_empty());
        assert_eq!(p.left_out.len(), 2);
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\x\\a`b\n.png"), "ab.png");
        assert_eq!(clean_name(".."), "attachment");
        assert_eq!(clean_name(&"x".repeat(500)).len(), 200);
    }
}
