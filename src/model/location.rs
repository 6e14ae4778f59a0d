//! Model-file errors that name the file and the line and column (or the key) of the problem.

use crate::error::ModelError;
use crate::expr::ExprError;
use toml::Spanned;

/// Maps byte offsets of the model text to lines and columns.
pub(crate) struct Locator<'a> {
    pub file: String,
    text: &'a str,
}

impl<'a> Locator<'a> {
    pub fn new(file: &str, text: &'a str) -> Self {
        Locator {
            file: file.to_string(),
            text,
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    fn error_at(&self, offset: usize, message: String) -> ModelError {
        if self.text.is_empty() {
            // A spec built in code (SBML import) has no text to point into.
            return ModelError::plain(&self.file, message);
        }
        let (l, c) = self.line_col(offset);
        ModelError {
            file: self.file.clone(),
            line: Some(l),
            column: Some(c),
            message,
        }
    }

    /// An error located at a spanned value.
    pub fn at<T>(&self, value: &Spanned<T>, message: String) -> ModelError {
        self.error_at(value.span().start, message)
    }

    /// An error inside an expression string: the column points at the offending token.
    pub fn in_expr(&self, text: &Spanned<String>, e: &ExprError, what: &str) -> ModelError {
        let start = text.span().start;
        let raw = &self.text[start.min(self.text.len())..];
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else if raw.starts_with('"') || raw.starts_with('\'') {
            1
        } else {
            0
        };
        self.error_at(start + quote + e.pos, format!("{what}: {}", e.message))
    }

    /// A TOML syntax or schema error, made one line.
    pub fn toml_error(&self, e: &toml::de::Error) -> ModelError {
        let message = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => self.error_at(span.start, message),
            None => ModelError::plain(&self.file, message),
        }
    }
}
