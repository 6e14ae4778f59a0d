//! The SBML importer's error ([`Error::Sbml`](super::Error::Sbml)): every problem found in a
//! document, each of a kind (malformed or unsupported).

use std::fmt;

/// Why a document cannot be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SbmlErrorKind {
    /// The document itself is broken: not XML, not SBML, a missing required attribute, an
    /// unknown identifier.
    Malformed,
    /// Valid SBML that cartox cannot run (an unsupported feature).
    Unsupported,
}

impl SbmlErrorKind {
    /// `malformed` or `unsupported`, as messages say.
    pub fn as_str(self) -> &'static str {
        match self {
            SbmlErrorKind::Malformed => "malformed",
            SbmlErrorKind::Unsupported => "unsupported",
        }
    }
}

/// One problem: its kind and a message naming the SBML element it is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Problem {
    /// Malformed or unsupported.
    pub kind: SbmlErrorKind,
    /// What is wrong, naming the SBML element.
    pub message: String,
}

impl Problem {
    /// A problem with the document itself.
    pub fn malformed(message: impl Into<String>) -> Problem {
        Problem {
            kind: SbmlErrorKind::Malformed,
            message: message.into(),
        }
    }

    /// A valid construct cartox cannot run.
    pub fn unsupported(message: impl Into<String>) -> Problem {
        Problem {
            kind: SbmlErrorKind::Unsupported,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Everything that stops an import: *all* problems found, not just the first.
///
/// The error's [`kind`](SbmlError::kind) is [`SbmlErrorKind::Malformed`] when at least one
/// problem is, else [`SbmlErrorKind::Unsupported`].
#[derive(Debug, Clone, PartialEq)]
pub struct SbmlError {
    /// The SBML file.
    pub file: String,
    /// Every problem found, in document order.
    pub problems: Vec<Problem>,
}

impl SbmlError {
    /// An error from a list of problems (duplicates removed, order kept).
    pub fn new(file: &str, mut problems: Vec<Problem>) -> SbmlError {
        let mut seen = std::collections::HashSet::new();
        problems.retain(|p| seen.insert(p.clone()));
        SbmlError {
            file: file.to_string(),
            problems,
        }
    }

    /// Malformed if any problem is, else unsupported.
    pub fn kind(&self) -> SbmlErrorKind {
        if self.is_malformed() {
            SbmlErrorKind::Malformed
        } else {
            SbmlErrorKind::Unsupported
        }
    }

    /// True if at least one problem is a malformed-document problem.
    pub fn is_malformed(&self) -> bool {
        self.problems
            .iter()
            .any(|p| p.kind == SbmlErrorKind::Malformed)
    }

    /// The message without the file name: `unsupported SBML: a; b; c`.
    pub fn summary(&self) -> String {
        let list: Vec<&str> = self.problems.iter().map(|p| p.message.as_str()).collect();
        format!("{} SBML: {}", self.kind().as_str(), list.join("; "))
    }
}

impl fmt::Display for SbmlError {
    /// One line: `<file>: unsupported SBML: a; b; c` or `<file>: malformed SBML: a; b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.summary())
    }
}

impl std::error::Error for SbmlError {}
