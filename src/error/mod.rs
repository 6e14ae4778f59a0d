//! The library's one error type, [`Error`]: every fallible public function of the library returns
//! [`Result<T>`](Result). Each variant carries structured data — the file, line and column of a
//! model-file problem; the model, day and kind of a failed solve; the name of a bad input; the
//! file, row and column of a bad data row — and prints as one line, ready for a terminal, a Python
//! exception or a browser page.

mod sbml;

pub use sbml::{Problem, SbmlError, SbmlErrorKind};

use crate::expr::ExprError;
use std::fmt;

/// Everything that can go wrong in the library.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model file (or spec) is invalid: file, line and column when known.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An SBML file cannot be imported: malformed, or valid but unsupported (every problem listed).
    #[error(transparent)]
    Sbml(#[from] SbmlError),
    /// An expression outside a model file (a value given on the command line) is invalid.
    #[error(transparent)]
    Expr(#[from] ExprError),
    /// Run options out of range (a span, a grid step, a tolerance...): `option` names it.
    #[error("{message}")]
    Options {
        /// The option, as the command line spells it (`--dt`).
        option: String,
        /// What is wrong, one line.
        message: String,
    },
    /// A data file (CSV) is malformed or refers to unknown names.
    #[error("{}", located_row(file, *row, column.as_deref(), message))]
    Data {
        /// The file (`-` for standard input); empty when the caller adds it.
        file: String,
        /// 1-based data row (the header is row 0), when the problem is in a row.
        row: Option<u64>,
        /// The column, when the problem is in one.
        column: Option<String>,
        /// What is wrong, one line.
        message: String,
    },
    /// A file could not be read or written: `{action} {path}: {message}`
    /// (`cannot write out.csv: No such file or directory`).
    #[error("{}", io_line(action, path, message))]
    Io {
        /// What was being done (`cannot write`); empty when not known yet.
        action: String,
        /// The file; empty when not known yet.
        path: String,
        /// The operating system's (or CSV reader's) reason.
        message: String,
        /// The kind of the underlying I/O error, when there was one (a closed pipe is
        /// `BrokenPipe`, which the binary treats as success).
        kind: Option<std::io::ErrorKind>,
    },
    /// An input (dose, regimen, parameter or initial-state override) does not fit the model.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The solver failed.
    #[error(transparent)]
    Solve(#[from] SolveError),
    /// A figure could not be drawn.
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O failure while doing `action` (`cannot open shard`) on `path`.
    pub fn io(action: &str, path: impl fmt::Display, e: &std::io::Error) -> Error {
        Error::Io {
            action: action.to_string(),
            path: path.to_string(),
            message: e.to_string(),
            kind: Some(e.kind()),
        }
    }

    /// A CSV read or write failure while doing `action` on `path` (keeps the I/O kind, if any).
    pub fn csv(action: &str, path: impl fmt::Display, e: &csv::Error) -> Error {
        Error::Io {
            action: action.to_string(),
            path: path.to_string(),
            message: e.to_string(),
            kind: match e.kind() {
                csv::ErrorKind::Io(io) => Some(io.kind()),
                _ => None,
            },
        }
    }

    /// True when this is an I/O error of the given kind.
    pub fn is_io_kind(&self, want: std::io::ErrorKind) -> bool {
        matches!(self, Error::Io { kind: Some(k), .. } if *k == want)
    }
}

/// A bare I/O error (a write to a stream whose name the caller adds, e.g. in
/// `output::write_atomic`).
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::io("", "", &e)
    }
}

fn io_line(action: &str, path: &str, message: &str) -> String {
    match (action.is_empty(), path.is_empty()) {
        (true, true) => message.to_string(),
        (true, false) => format!("{path}: {message}"),
        (false, true) => format!("{action}: {message}"),
        (false, false) => format!("{action} {path}: {message}"),
    }
}

fn located_row(file: &str, row: Option<u64>, column: Option<&str>, message: &str) -> String {
    match (row, column) {
        (Some(r), Some(c)) => format!("{file}: row {r}, column `{c}`: {message}"),
        (Some(r), None) => format!("{file}: row {r}: {message}"),
        (None, Some(c)) => format!("{file}: column `{c}`: {message}"),
        (None, None) if file.is_empty() => message.to_string(),
        (None, None) => format!("{file}: {message}"),
    }
}

/// An error in a model file: `file:line:col: message`, or `file: message` when no position exists.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelError {
    /// The file (or label) the error concerns.
    pub file: String,
    /// 1-based line, when the error has a position.
    pub line: Option<usize>,
    /// 1-based column, when the error has a position.
    pub column: Option<usize>,
    /// What is wrong, one line.
    pub message: String,
}

impl ModelError {
    /// An error with no position in the file.
    pub fn plain(file: &str, message: impl Into<String>) -> Self {
        ModelError {
            file: file.to_string(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ModelError {}

/// An input that could not be used: `name` is the input as flags, CSV columns and JSON spell it
/// (`dose`, `ld`, `schedule`, a parameter, `<state>_0`); the message is one line naming it. The
/// caller adds where it came from (flag, file, row, column).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    /// The input's name.
    pub name: String,
    /// What is wrong, one line.
    pub message: String,
}

/// A failed solve: names the model, the time (days) where it stopped, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveError {
    /// The model's name.
    pub model: String,
    /// Day (after the first infusion) where the solver stopped.
    pub day: f64,
    /// Why it stopped.
    pub failure: SolveFailure,
}

impl fmt::Display for SolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "model `{}`: solve failed at day {:.6}: {}",
            self.model, self.day, self.failure
        )
    }
}

/// Why a solve stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SolveFailure {
    /// The step budget (`max_steps`) ran out; `steps` when the method reports it. The explicit
    /// method adds a hint that the model may be stiff.
    #[error("{}", max_steps_text(*steps, *explicit))]
    MaxSteps {
        /// Steps taken, when known.
        steps: Option<u64>,
        /// Raised by the explicit method (dopri5).
        explicit: bool,
    },
    /// The step size fell below what the floating-point time can resolve.
    #[error("{}", if *explicit { "step size underflow (the model may be stiff: try --method radau5)" } else { "step size underflow" })]
    StepSizeUnderflow {
        /// Raised by the explicit method (dopri5).
        explicit: bool,
    },
    /// A state became NaN or infinite.
    #[error("a state became NaN or infinite")]
    NonFinite,
    /// dopri5's stiffness test fired (only with stiffness detection on).
    #[error("stiffness detected (try --method radau5)")]
    Stiff,
    /// The implicit method's Newton iteration matrix is singular.
    #[error("singular iteration matrix")]
    SingularMatrix,
    /// Anything else, in words (a span of 0 days, a method's size limit...).
    #[error("{0}")]
    Other(String),
}

fn max_steps_text(steps: Option<u64>, explicit: bool) -> String {
    match (steps, explicit) {
        (Some(n), true) => {
            format!("more than {n} steps (the model may be stiff: try --method radau5)")
        }
        (Some(n), false) => format!("more than {n} steps"),
        (None, true) => "too many steps (the model may be stiff: try --method radau5)".into(),
        (None, false) => "too many steps".into(),
    }
}

impl From<String> for SolveFailure {
    fn from(s: String) -> Self {
        SolveFailure::Other(s)
    }
}

impl From<&str> for SolveFailure {
    fn from(s: &str) -> Self {
        SolveFailure::Other(s.to_string())
    }
}

impl std::error::Error for SolveError {}

/// Errors of the figure renderer and its helpers; every message is one line naming the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlotError {
    /// Reading or parsing an input file failed.
    #[error("{file}: {msg}")]
    Input { file: String, msg: String },
    /// A panel names a column that no series has.
    #[error("{file}: unknown panel `{column}` (available: {available})")]
    UnknownPanel {
        file: String,
        column: String,
        available: String,
    },
    /// The data cannot be drawn (empty series, all-NaN column, mismatched lengths, ...).
    #[error("{file}: {msg}")]
    Data { file: String, msg: String },
    /// The output extension is neither `.png` nor `.svg`.
    #[error("{file}: unsupported output format (use .png or .svg)")]
    Format { file: String },
    /// Creating, writing or renaming the output failed.
    #[error("cannot write {file}: {msg}")]
    Write { file: String, msg: String },
    /// The drawing backend failed.
    #[error("{file}: rendering failed: {msg}")]
    Render { file: String, msg: String },
}
