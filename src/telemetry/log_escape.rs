//! Node log lines that no logged value can break: control characters in field values and
//! messages are written escaped (`\n`, `\u{1b}`), so a user name holding a newline cannot
//! start a forged line. Escaping happens per field, where a value's bounds are known; a
//! writer-level filter could not tell a value's newline from the line's own.

use std::error::Error;
use std::fmt::{self, Debug, Display, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultFields, DefaultVisitor, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// What a log line must not carry raw: C0, DEL, C1, and the Unicode line and paragraph
/// separators some viewers break lines on.
fn is_unsafe(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Writes to the inner writer with each unsafe character as its Rust escape (`\n`, `\u{85}`).
struct Escaping<'a, W: ?Sized>(&'a mut W);

impl<W: Write + ?Sized> Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut clean = 0;
        for (i, c) in s.char_indices() {
            if is_unsafe(c) {
                self.0.write_str(&s[clean..i])?;
                write!(self.0, "{}", c.escape_debug())?;
                clean = i + c.len_utf8();
            }
        }
        self.0.write_str(&s[clean..])
    }
}

/// A value whose Debug output is escaped as it is written (no buffer).
struct Escaped<'a>(&'a dyn Debug);

impl Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(Escaping(f), "{:?}", self.0)
    }
}

/// An error and its sources, as `DefaultFields` shows them.
struct WithSources<'a>(&'a (dyn Error + 'static), &'a str);

impl Display for WithSources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        if source.is_none() {
            return Ok(());
        }
        write!(f, " {}.sources=[", self.1)?;
        let mut first = true;
        while let Some(e) = source {
            if !first {
                f.write_str(", ")?;
            }
            write!(f, "{e}")?;
            first = false;
            source = e.source();
        }
        f.write_str("]")
    }
}

/// The text format's fields: `DefaultFields`' layout, every value escaped.
#[derive(Debug, Default)]
pub struct EscapedFields;

impl<'a> MakeVisitor<Writer<'a>> for EscapedFields {
    type Visitor = EscapingVisitor<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> Self::Visitor {
        EscapingVisitor(DefaultFields::new().make_visitor(target))
    }
}

/// Hands `DefaultVisitor` escaped values; it keeps the names, padding and colours.
pub struct EscapingVisitor<'a>(DefaultVisitor<'a>);

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        // As DefaultVisitor: a message is shown bare, other strings quoted.
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"))
        } else {
            self.record_debug(field, &value)
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        self.record_debug(field, &format_args!("{}", WithSources(value, field.name())))
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.record_debug(field, &Escaped(value))
    }
}

impl VisitOutput<fmt::Result> for EscapingVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.0.finish()
    }
}

impl VisitFmt for EscapingVisitor<'_> {
    fn writer(&mut self) -> &mut dyn Write {
        self.0.writer()
    }
}

/// Writes to the inner writer, escaping as JSON (`\u2028`) what serde_json leaves raw: DEL, C1
/// and U+2028/2029. serde_json already escapes C0, and all of these can only occur inside
/// JSON strings, so the line stays valid JSON with the same values.
struct JsonEscaping<'a, W: ?Sized>(&'a mut W);

impl<W: Write + ?Sized> Write for JsonEscaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut clean = 0;
        for (i, c) in s.char_indices() {
            // C0 left here is the line's own final newline.
            if is_unsafe(c) && c >= '\u{7f}' {
                self.0.write_str(&s[clean..i])?;
                write!(self.0, "\\u{:04x}", u32::from(c))?;
                clean = i + c.len_utf8();
            }
        }
        self.0.write_str(&s[clean..])
    }
}

/// The JSON format's events (`E`, tracing-subscriber's JSON format), escaped as
/// [`JsonEscaping`] says: its values are serialised by serde, not by a fields visitor.
#[derive(Debug)]
pub struct JsonLines<E>(pub E);

impl<S, N, E> FormatEvent<S, N> for JsonLines<E>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    E: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut escaping = JsonEscaping(&mut writer);
        self.0.format_event(ctx, Writer::new(&mut escaping), event)
    }
}

#[cfg(test)]
#[path = "log_escape_tests.rs"]
mod tests;
