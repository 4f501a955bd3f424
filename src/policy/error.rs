//! Errors of loading policy and calendar files.

use std::ops::Range;

/// A policy or calendar file that cannot be used. Display is one line:
/// `file:line:column: reason` (or `file: reason` when there is no position).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("{file}:{line}:{column}: {reason}")]
    At {
        file: String,
        line: usize,
        column: usize,
        reason: String,
    },
}

impl LoadError {
    pub fn file(file: &str, reason: impl Into<String>) -> Self {
        LoadError::File {
            file: file.to_owned(),
            reason: reason.into(),
        }
    }

    /// An error at a byte span of `text`; line and column count from 1.
    pub fn at(
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        reason: impl Into<String>,
    ) -> Self {
        let reason = one_line(&reason.into());
        match span {
            Some(span) => {
                let (line, column) = line_col(text, span.start);
                LoadError::At {
                    file: file.to_owned(),
                    line,
                    column,
                    reason,
                }
            }
            None => LoadError::File {
                file: file.to_owned(),
                reason,
            },
        }
    }

    /// From a TOML syntax or shape error, keeping only its message and position.
    pub fn toml(file: &str, text: &str, err: &toml::de::Error) -> Self {
        Self::at(file, text, err.span(), err.message())
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_from_one() {
        let text = "a = 1\nbb = x\n";
        let e = LoadError::at("p.toml", text, Some(11..12), "bad\nvalue");
        assert_eq!(e.to_string(), "p.toml:2:6: bad value");
    }
}
