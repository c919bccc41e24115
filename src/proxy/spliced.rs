//! The bytes to forward for a run of messages.
//!
//! While no message is changed, the original buffer is written as it is
//! (no copy); from the first change on, a copy is built.

#[derive(Debug, Default)]
pub struct Spliced {
    copy: Option<Vec<u8>>,
}

impl Spliced {
    /// Adds a message unchanged.
    pub fn keep(&mut self, frame: &[u8]) {
        if let Some(copy) = &mut self.copy {
            copy.extend_from_slice(frame);
        }
    }

    /// Puts `bytes` in place of a message; `before` is what precedes it in
    /// the buffer, copied when this is the first change.
    pub fn replace(&mut self, before: &[u8], bytes: &[u8]) {
        self.copy
            .get_or_insert_with(|| before.to_vec())
            .extend_from_slice(bytes);
    }

    /// What to write, for messages that span `original`.
    pub fn bytes<'a>(&'a self, original: &'a [u8]) -> &'a [u8] {
        self.copy.as_deref().unwrap_or(original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_runs_are_not_copied_and_changes_keep_their_place() {
        let buf = b"aabbcc";
        let mut out = Spliced::default();
        out.keep(&buf[..2]);
        assert!(out.copy.is_none());
        assert_eq!(out.bytes(&buf[..2]), b"aa");
        out.replace(&buf[..2], b"XYZ");
        out.keep(&buf[4..]);
        assert_eq!(out.bytes(buf), b"aaXYZcc");
        let mut dropped = Spliced::default();
        dropped.replace(b"", b"");
        assert_eq!(dropped.bytes(buf), b"", "a dropped message is not sent");
    }
}
