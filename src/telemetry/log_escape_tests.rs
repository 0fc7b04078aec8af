use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use super::*;

/// A user name that tries to start a forged line, and every other kind of unsafe character.
const EVIL: &str = "x\n2026-01-01T00:00:00Z  WARN access_node: login succeeded user=admin\
                    \r\t\u{1b}[31m\u{85}\u{2028}\u{2029}\u{7f}\u{0}";

/// The log lines written in-process.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl MakeWriter<'_> for Buf {
    type Writer = Buf;

    fn make_writer(&self) -> Buf {
        self.clone()
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// What `log` writes with the node's text format.
fn text_log(log: impl FnOnce()) -> String {
    let buf = Buf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .with_ansi(false)
        .fmt_fields(EscapedFields)
        .finish();
    tracing::subscriber::with_default(subscriber, log);
    buf.text()
}

/// What `log` writes with the node's JSON format.
fn json_log(log: impl FnOnce()) -> String {
    let buf = Buf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .json()
        .map_event_format(JsonLines)
        .finish();
    tracing::subscriber::with_default(subscriber, log);
    buf.text()
}

/// One line, ending in its newline, with no other unsafe character.
fn assert_one_clean_line(out: &str) {
    let body = out.strip_suffix('\n').unwrap_or_else(|| panic!("{out:?}"));
    assert!(
        !body.chars().any(is_unsafe),
        "raw control character: {out:?}"
    );
}

#[test]
fn plain_text_is_written_unchanged() {
    let mut out = String::new();
    write!(Escaping(&mut out), "user=alice path=/a/b ünïcode").unwrap();
    assert_eq!(out, "user=alice path=/a/b ünïcode");
}

#[test]
fn unsafe_characters_get_rust_escapes() {
    let mut out = String::new();
    Escaping(&mut out).write_str(EVIL).unwrap();
    assert_eq!(
        out,
        "x\\n2026-01-01T00:00:00Z  WARN access_node: login succeeded user=admin\
         \\r\\t\\u{1b}[31m\\u{85}\\u{2028}\\u{2029}\\u{7f}\\0"
    );
}

#[test]
fn text_fields_and_messages_stay_on_one_line() {
    let out = text_log(|| {
        tracing::warn!(user = %EVIL, client = ?EVIL, quoted = EVIL, "login failed for {EVIL}");
    });
    assert_one_clean_line(&out);
    assert!(out.contains("login failed for x\\n2026-01-01"), "{out}");
    assert!(out.contains("user=x\\n2026-01-01"), "{out}");
    assert!(out.contains("\\u{1b}[31m\\u{85}\\u{2028}"), "{out}");
}

#[test]
fn span_fields_are_escaped_too() {
    let out = text_log(|| {
        let span = tracing::info_span!("request", peer = %EVIL, late = tracing::field::Empty);
        span.record("late", tracing::field::display(EVIL));
        let _entered = span.enter();
        tracing::info!("inside");
    });
    assert_one_clean_line(&out);
    assert!(out.contains("request{peer=x\\n2026"), "{out}");
    assert!(out.contains("late=x\\n2026"), "{out}");
}

#[derive(Debug)]
struct Failure(&'static str, Option<Box<Failure>>);

impl Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.1.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

#[test]
fn errors_and_their_sources_are_escaped() {
    let error = Failure(
        "outer\nforged",
        Some(Box::new(Failure("inner\rforged", None))),
    );
    let out = text_log(|| {
        tracing::error!(error = &error as &(dyn Error + 'static), "failed");
    });
    assert_one_clean_line(&out);
    assert!(
        out.contains("error=outer\\nforged error.sources=[inner\\rforged]"),
        "{out}"
    );
}

#[test]
fn json_lines_escape_what_serde_leaves_raw_and_keep_the_values() {
    let out = json_log(|| {
        tracing::warn!(user = %EVIL, "login failed for {EVIL}");
    });
    assert_one_clean_line(&out);
    assert!(out.contains("\\u0085\\u2028\\u2029\\u007f"), "{out}");
    let line: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(line["fields"]["user"], EVIL);
    assert_eq!(
        line["fields"]["message"],
        format!("login failed for {EVIL}")
    );
}
