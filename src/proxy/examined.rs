//! What the proxy knows of a statement it examined, attached to the
//! requests that run it (see `protocol::Pipeline`) so that their answers
//! can be translated and their refusals recorded.

use crate::rewrite::Shape;

/// A text that may destroy rows: the text, to record a refusal with, and
/// how the result of each of its top-level statements is translated
/// (`None`: as it comes).
#[derive(Debug, PartialEq, Eq)]
pub struct Examined {
    pub sql: Box<str>,
    pub shapes: Vec<Option<Shape>>,
}

impl Examined {
    /// The shape of statement `index` of the text.
    pub fn shape(&self, index: usize) -> Option<&Shape> {
        self.shapes.get(index).and_then(Option::as_ref)
    }
}
