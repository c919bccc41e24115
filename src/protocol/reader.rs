//! Reading a message body front to back: every read checks that the bytes
//! are there and returns `None` when they are not, so no reader can panic
//! on input.

pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `buf` from its first byte (a startup packet's parameters).
    pub(super) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    /// The body of a whole frame, when its tag is one of `tags`: a
    /// reader handed a message of another type reads nothing from it.
    pub(super) fn body(frame: &'a [u8], tags: &[u8]) -> Option<Reader<'a>> {
        if !tags.contains(frame.first()?) {
            return None;
        }
        Some(Reader::new(frame.get(5..)?))
    }

    /// A NUL-terminated string, without its NUL.
    pub(super) fn cstr(&mut self) -> Option<&'a [u8]> {
        // The standard library's search (word at a time past a few bytes):
        // a statement's text is read in full at every Query and Parse.
        let s = std::ffi::CStr::from_bytes_until_nul(self.buf)
            .ok()?
            .to_bytes();
        self.buf = &self.buf[s.len() + 1..];
        Some(s)
    }

    pub(super) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.buf.get(..n)?;
        self.buf = &self.buf[n..];
        Some(b)
    }

    pub(super) fn byte(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    pub(super) fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.bytes(2)?.try_into().ok()?))
    }

    pub(super) fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.bytes(4)?.try_into().ok()?))
    }

    /// An `Int16` count of what follows (negative counts are malformed).
    pub(super) fn count(&mut self) -> Option<usize> {
        usize::try_from(self.i16()?).ok()
    }

    /// How many bytes are left unread.
    pub(super) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(super) fn rest(self) -> &'a [u8] {
        self.buf
    }
}
