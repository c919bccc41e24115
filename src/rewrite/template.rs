//! Rewritten SQL with holes for what differs between sessions (the proxy
//! connection id, the client's address), so that one analysis serves them
//! all.

/// A value filled in per session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hole {
    ConnectionId,
    ClientAddr,
}

/// Text under construction, with its holes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    text: String,
    holes: Vec<(usize, Hole)>,
}

/// What fills the holes for one session.
#[derive(Clone, Debug, Default)]
pub struct SessionInfo {
    pub connection_id: u64,
    pub client_addr: String,
}

impl Template {
    pub fn push(&mut self, text: &str) -> &mut Template {
        self.text.push_str(text);
        self
    }

    pub fn hole(&mut self, hole: Hole) -> &mut Template {
        self.holes.push((self.text.len(), hole));
        self
    }

    pub fn append(&mut self, other: &Template) {
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.holes
            .extend(other.holes.iter().map(|&(at, hole)| (base + at, hole)));
    }

    /// Whether it has no holes: the same text for every session.
    pub(super) fn is_plain(&self) -> bool {
        self.holes.is_empty()
    }

    /// The text without its holes.
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// The text with each hole shown by name (for `softdel rewrite` and
    /// tests).
    pub fn display(&self) -> String {
        self.fill(|hole| match hole {
            Hole::ConnectionId => ":connection_id".to_owned(),
            Hole::ClientAddr => ":client_addr".to_owned(),
        })
    }

    /// The SQL to send for one session.
    pub fn render(&self, session: &SessionInfo) -> String {
        self.fill(|hole| match hole {
            Hole::ConnectionId => session.connection_id.to_string(),
            Hole::ClientAddr => super::sql::literal(&session.client_addr),
        })
    }

    fn fill(&self, value: impl Fn(Hole) -> String) -> String {
        let mut out = String::with_capacity(self.text.len() + 32 * self.holes.len());
        let mut at = 0;
        for &(pos, hole) in &self.holes {
            out.push_str(&self.text[at..pos]);
            out.push_str(&value(hole));
            at = pos;
        }
        out.push_str(&self.text[at..]);
        out
    }
}

impl From<&str> for Template {
    fn from(text: &str) -> Template {
        Template {
            text: text.to_owned(),
            holes: Vec::new(),
        }
    }
}
