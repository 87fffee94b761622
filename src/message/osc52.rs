//! Copying to the operator's clipboard: OSC 52 puts text on the clipboard of the machine
//! the operator sits at, across SSH, with no X server or clipboard tool on the jump box.
//!
//! A multiplexer in between changes the route:
//!
//! - tmux (`$TMUX` set): its default `set-clipboard external` ignores an application's
//!   OSC 52, and since 3.3 its default `allow-passthrough off` drops the wrapped form. So
//!   the text goes in through `tmux load-buffer -w -`: into tmux's paste buffer, and
//!   (tmux 3.2 and later) on to the clipboard of the terminal of the client attached to
//!   the session, as an OSC 52 tmux writes itself, whatever `set-clipboard` says (3.3a
//!   checked), to a terminal it knows takes one (`terminal-features` `clipboard`, by
//!   default every `xterm*`).
//! - GNU screen (`$STY` set, not in tmux): screen does not know OSC 52 and, worse, gives
//!   up on any string longer than 767 bytes and prints the rest as text. The sequence goes
//!   out inside screen's own passthrough (`ESC P ... ESC \`), cut into pieces that fit.
//!
//! Everything that decides which bytes go where is pure and tested byte for byte here;
//! the I/O is [`tmux_load_buffer`] and the runtime's write to the terminal.

use std::ffi::OsStr;
use std::time::Duration;

use base64::Engine;

/// The multiplexer between cutover and the operator's terminal, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multiplexer {
    None,
    Tmux,
    Screen,
}

impl Multiplexer {
    /// From the values of `$TMUX` and `$STY`. tmux wins when both are set: a tmux
    /// started inside screen (the only way both are usually set) is the innermost one,
    /// and its panes inherit `STY` from the server's environment.
    pub fn detect(tmux: Option<&OsStr>, sty: Option<&OsStr>) -> Multiplexer {
        let set = |v: Option<&OsStr>| v.is_some_and(|v| !v.is_empty());
        if set(tmux) {
            Multiplexer::Tmux
        } else if set(sty) {
            Multiplexer::Screen
        } else {
            Multiplexer::None
        }
    }

    /// From this process's environment.
    pub fn from_env() -> Multiplexer {
        Multiplexer::detect(
            std::env::var_os("TMUX").as_deref(),
            std::env::var_os("STY").as_deref(),
        )
    }
}

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

/// The sequence that sets the clipboard (`c`) to `text`: `ESC ] 52 ; c ; <base64> ESC \`.
/// String Terminator rather than BEL: both are accepted, and ST is the standard one.
pub fn sequence(text: &str) -> Vec<u8> {
    let payload = base64(text);
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.extend_from_slice(b"\x1b]52;c;");
    out.extend_from_slice(payload.as_bytes());
    out.extend_from_slice(b"\x1b\\");
    out
}

/// The same sequence ended by BEL (`ESC ] 52 ; c ; <base64> BEL`): the form that can sit
/// inside another string, whose own end is `ESC \`.
pub fn sequence_bel(text: &str) -> Vec<u8> {
    let payload = base64(text);
    let mut out = Vec::with_capacity(payload.len() + 9);
    out.extend_from_slice(b"\x1b]52;c;");
    out.extend_from_slice(payload.as_bytes());
    out.push(0x07);
    out
}

/// The same sequence wrapped for tmux's passthrough (`ESC P tmux; ... ESC \`, every ESC
/// inside doubled).
pub fn tmux_passthrough(text: &str) -> Vec<u8> {
    let inner = sequence(text);
    let mut out = Vec::with_capacity(inner.len() + 16);
    out.extend_from_slice(b"\x1bPtmux;");
    for b in inner {
        if b == 0x1b {
            out.push(0x1b);
        }
        out.push(b);
    }
    out.extend_from_slice(b"\x1b\\");
    out
}

/// The most bytes of the sequence in one of screen's passthrough strings. GNU screen
/// keeps a string in a 768-byte buffer (`MAXSTR`, 4.2.1 onwards; 4.09 checked by
/// tests/clipboard.rs: 767 bytes pass, 768 are printed as text); a few bytes of margin.
pub const SCREEN_CHUNK: usize = 760;

/// `seq` in pieces of at most `limit` bytes, each wrapped in its own DCS string
/// (`ESC P <piece> ESC \`). screen writes each piece's content to the outer terminal as
/// it is, so the terminal sees `seq` whole. `seq` must not itself hold `ESC \`.
pub fn screen_chunks(seq: &[u8], limit: usize) -> Vec<Vec<u8>> {
    assert!(limit > 0, "a chunk holds at least one byte");
    seq.chunks(limit)
        .map(|piece| {
            let mut out = Vec::with_capacity(piece.len() + 4);
            out.extend_from_slice(b"\x1bP");
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\x1b\\");
            out
        })
        .collect()
}

/// What to write for GNU screen: the BEL-ended sequence (an `ESC \` inside would end
/// screen's string early) in passthrough strings screen forwards whole.
pub fn screen_passthrough(text: &str) -> Vec<u8> {
    screen_chunks(&sequence_bel(text), SCREEN_CHUNK).concat()
}

/// What to write to the terminal for `text`.
///
/// - No multiplexer: the plain sequence.
/// - tmux: the plain sequence (taken by a tmux set to `set-clipboard on`, ignored by the
///   default) and the tmux passthrough form. [`tmux_load_buffer`] does the real work;
///   the passthrough form stays because it is the only route to the terminal's clipboard
///   from tmux older than 3.2 (no `load-buffer -w`, but passthrough always allowed
///   before 3.3), and from tmux with `allow-passthrough on` in front of a terminal tmux
///   does not know takes OSC 52. Where two routes land, the clipboard is set twice to
///   the same text; with the default configuration tmux drops both.
/// - screen: only the chunked passthrough. Not the plain sequence: screen would print
///   the base64 of any draft past 767 bytes onto the screen.
pub fn for_terminal(text: &str, mux: Multiplexer) -> Vec<u8> {
    match mux {
        Multiplexer::None => sequence(text),
        Multiplexer::Tmux => {
            let mut out = sequence(text);
            out.extend(tmux_passthrough(text));
            out
        }
        Multiplexer::Screen => screen_passthrough(text),
    }
}

// ---------------------------------------------------------------------------------------
// tmux's paste buffer
// ---------------------------------------------------------------------------------------

/// How long tmux has to take the text: a hung tmux server must not freeze the screen
/// for longer than this.
pub const TMUX_DEADLINE: Duration = Duration::from_secs(2);

/// `major.minor` from `tmux -V` (`tmux 3.3a`, `tmux 3.2-rc2`, `tmux next-3.4`), or
/// `None` for one without a number (`tmux master`, `tmux openbsd-7.4`).
pub fn tmux_version(v_output: &str) -> Option<(u32, u32)> {
    let word = v_output.split_whitespace().nth(1)?;
    let number = word.strip_prefix("next-").unwrap_or(word);
    let (major, rest) = number.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Whether this tmux has `load-buffer -w` (3.2 and later). A version without a number
/// is a build from source or a BSD's own, both newer than that.
pub fn tmux_has_load_buffer_w(version: Option<(u32, u32)>) -> bool {
    version.is_none_or(|v| v >= (3, 2))
}

/// The arguments of the `tmux` that takes the text on its standard input.
pub fn load_buffer_args(with_w: bool) -> &'static [&'static str] {
    if with_w {
        &["load-buffer", "-w", "-"]
    } else {
        &["load-buffer", "-"]
    }
}

/// How handing the text to tmux went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TmuxCopy {
    /// In tmux's paste buffer and, through `-w`, sent on to the terminal's clipboard.
    Clipboard,
    /// In tmux's paste buffer only: this tmux (its `-V`) has no `load-buffer -w`.
    BufferOnly { version: String },
    /// `tmux load-buffer` failed; what tmux said (or why it could not run).
    Failed(String),
    /// tmux did not finish within the deadline and was killed.
    TimedOut(Duration),
}

/// One line of what tmux wrote on stderr, safe for the status bar: control bytes become
/// spaces, and it is cut at 200 characters.
pub fn tmux_error(stderr: &[u8], status: &str) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    if line.is_empty() {
        format!("tmux {status} without a word")
    } else {
        line
    }
}

/// Hands `text` to the tmux around this process (found through `$TMUX`, as every
/// `tmux` command run inside it is): `tmux -V`, then `tmux load-buffer [-w] -` with
/// the text on its standard input. Both within `deadline`; a tmux still running then is
/// killed.
pub async fn tmux_load_buffer(text: &str, deadline: Duration) -> TmuxCopy {
    if text.is_empty() {
        // tmux keeps no empty buffer: `load-buffer` of nothing succeeds and sets nothing.
        return TmuxCopy::Failed("the text is empty, and tmux keeps no empty buffer".into());
    }
    let until = tokio::time::Instant::now() + deadline;
    let version = match tokio::time::timeout_at(until, run_tmux(&["-V"], None)).await {
        Err(_) => return TmuxCopy::TimedOut(deadline),
        Ok(Err(why)) => return TmuxCopy::Failed(why),
        Ok(Ok(out)) => String::from_utf8_lossy(&out).trim().to_string(),
    };
    let with_w = tmux_has_load_buffer_w(tmux_version(&version));
    let args = load_buffer_args(with_w);
    match tokio::time::timeout_at(until, run_tmux(args, Some(text.as_bytes()))).await {
        Err(_) => TmuxCopy::TimedOut(deadline),
        Ok(Err(why)) => TmuxCopy::Failed(why),
        Ok(Ok(_)) if with_w => TmuxCopy::Clipboard,
        Ok(Ok(_)) => TmuxCopy::BufferOnly { version },
    }
}

/// Runs `tmux args` with `input` on its stdin (else /dev/null); its stdout if it
/// succeeds, else what went wrong in words. Dropped before it ends (the deadline), the
/// child is killed and reaped by tokio.
async fn run_tmux(args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, String> {
    use std::process::Stdio;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut child = tokio::process::Command::new("tmux")
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run tmux: {e}"))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let feed = async {
        if let (Some(mut pipe), Some(bytes)) = (stdin, input) {
            // A tmux that fails early closes its end; its exit status and stderr say why,
            // so a broken pipe here is not the error to report.
            match pipe.write_all(bytes).await {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e),
                _ => {}
            }
            // Dropped here: the end of the text.
        }
        Ok(())
    };
    let read_out = async {
        let mut buf = Vec::new();
        if let Some(mut p) = stdout {
            p.read_to_end(&mut buf).await?;
        }
        Ok::<_, std::io::Error>(buf)
    };
    let read_err = async {
        let mut buf = Vec::new();
        if let Some(mut p) = stderr {
            p.read_to_end(&mut buf).await?;
        }
        Ok::<_, std::io::Error>(buf)
    };
    let (fed, out, err) = tokio::join!(feed, read_out, read_err);
    let status = child
        .wait()
        .await
        .map_err(|e| format!("cannot wait for tmux: {e}"))?;
    let err = err.unwrap_or_default();
    if !status.success() {
        let how = match status.code() {
            Some(c) => format!("exited with {c}"),
            None => "was killed".to_string(),
        };
        return Err(tmux_error(&err, &how));
    }
    fed.map_err(|e| format!("cannot write to tmux: {e}"))?;
    out.map_err(|e| format!("cannot read from tmux: {e}"))
}

/// Where the text went, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copied {
    /// Written straight to the terminal.
    Terminal,
    /// Written to the terminal through screen's passthrough.
    Screen,
    /// Inside tmux: written to the terminal as well, and this is how tmux took it.
    Tmux(TmuxCopy),
}

impl Copied {
    /// Whether the flash is a warning: the text may well not be on the clipboard.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            Copied::Tmux(TmuxCopy::Failed(_) | TmuxCopy::TimedOut(_))
        )
    }

    /// The status bar's line about copying `what` ("the during message") of `lines`
    /// lines: where it went, no further than cutover can know.
    pub fn describe(&self, what: &str, lines: usize) -> String {
        let size = if lines == 1 {
            "1 line".to_string()
        } else {
            format!("{lines} lines")
        };
        let unsure = format!("{what} may not be on your clipboard");
        match self {
            Copied::Terminal => format!(
                "copied {what} ({size}) to the clipboard through your terminal (OSC 52; some terminals need it enabled)"
            ),
            Copied::Screen => format!(
                "copied {what} ({size}) to the clipboard through screen and your terminal (OSC 52; some terminals need it enabled)"
            ),
            Copied::Tmux(TmuxCopy::Clipboard) => {
                format!("copied {what} ({size}) to the clipboard through tmux")
            }
            Copied::Tmux(TmuxCopy::BufferOnly { version }) => format!(
                "copied {what} ({size}) to tmux's paste buffer; {version} (before 3.2) cannot pass it on to the clipboard itself"
            ),
            Copied::Tmux(TmuxCopy::Failed(why)) => {
                format!("tmux load-buffer failed: {why}; {unsure}")
            }
            Copied::Tmux(TmuxCopy::TimedOut(d)) => format!(
                "tmux did not take the text within {}s and was stopped; {unsure}",
                d.as_secs()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(b64: &[u8]) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64")
    }

    #[test]
    fn plain_sequence_bytes() {
        // "hi\n" is aGkK in base64.
        assert_eq!(sequence("hi\n"), b"\x1b]52;c;aGkK\x1b\\".to_vec());
        assert_eq!(sequence(""), b"\x1b]52;c;\x1b\\".to_vec());
        // UTF-8 goes in as its bytes: "é" is C3 A9, w6k= in base64.
        assert_eq!(sequence("é"), b"\x1b]52;c;w6k=\x1b\\".to_vec());
        assert_eq!(sequence_bel("hi\n"), b"\x1b]52;c;aGkK\x07".to_vec());
    }

    #[test]
    fn tmux_wrapping_doubles_every_escape() {
        assert_eq!(
            tmux_passthrough("hi\n"),
            b"\x1bPtmux;\x1b\x1b]52;c;aGkK\x1b\x1b\\\x1b\\".to_vec()
        );
        let both = for_terminal("hi\n", Multiplexer::Tmux);
        assert!(both.starts_with(&sequence("hi\n")));
        assert!(both.ends_with(&tmux_passthrough("hi\n")));
        assert_eq!(
            both.len(),
            sequence("hi\n").len() + tmux_passthrough("hi\n").len()
        );
        assert_eq!(for_terminal("hi\n", Multiplexer::None), sequence("hi\n"));
    }

    #[test]
    fn payload_never_contains_a_terminator() {
        // Whatever the text (escapes, BEL, NUL), base64 keeps it inert inside the OSC.
        let hostile = "\x1b]0;pwned\x07\x1b\\\0";
        let seq = sequence(hostile);
        let inner = &seq[7..seq.len() - 2];
        assert!(
            inner
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
        );
    }

    #[test]
    fn a_short_text_is_one_screen_string() {
        assert_eq!(
            for_terminal("hi\n", Multiplexer::Screen),
            b"\x1bP\x1b]52;c;aGkK\x07\x1b\\".to_vec()
        );
        // Cut exactly at the limit: "\x1b]52;c;aGkK\x07" is 12 bytes.
        assert_eq!(
            screen_chunks(&sequence_bel("hi\n"), 5),
            vec![
                b"\x1bP\x1b]52;\x1b\\".to_vec(),
                b"\x1bPc;aGk\x1b\\".to_vec(),
                b"\x1bPK\x07\x1b\\".to_vec(),
            ]
        );
        assert_eq!(screen_chunks(&sequence_bel("hi\n"), 12).len(), 1);
        assert_eq!(screen_chunks(&sequence_bel("hi\n"), 11).len(), 2);
    }

    /// Every piece fits screen's buffer, holds no string terminator of its own, and the
    /// pieces put back together are the BEL-ended sequence of the text.
    fn check_screen_form(text: &str) {
        let chunks = screen_chunks(&sequence_bel(text), SCREEN_CHUNK);
        let mut whole = Vec::new();
        for c in &chunks {
            assert!(c.starts_with(b"\x1bP") && c.ends_with(b"\x1b\\"), "{c:?}");
            let piece = &c[2..c.len() - 2];
            assert!(!piece.is_empty() && piece.len() <= SCREEN_CHUNK);
            // screen's buffer is 768 bytes with its terminating NUL.
            assert!(piece.len() < 768);
            assert!(
                !piece.windows(2).any(|w| w == b"\x1b\\"),
                "a piece would end screen's string early"
            );
            whole.extend_from_slice(piece);
        }
        assert_eq!(whole, sequence_bel(text));
        assert_eq!(chunks.concat(), for_terminal(text, Multiplexer::Screen));
        // Only the first piece starts the OSC; the rest is base64 and the final BEL.
        let (head, rest) = whole.split_at(7);
        assert_eq!(head, b"\x1b]52;c;");
        let (b64, bel) = rest.split_at(rest.len() - 1);
        assert_eq!(bel, b"\x07");
        assert!(
            b64.iter()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b)),
            "the payload is base64 only"
        );
        assert_eq!(decode(b64), text.as_bytes());
        let want = (sequence_bel(text).len()).div_ceil(SCREEN_CHUNK);
        assert_eq!(chunks.len(), want.max(1));
    }

    #[test]
    fn screen_chunks_fit_reassemble_and_stay_base64() {
        check_screen_form("");
        check_screen_form("hi\n");
        // Hostile text: terminators and escapes of every kind, repeated past many chunks.
        let hostile = "\x1b\\\x1bP\x07\x1b]52;c;?\x07\0\u{9c}\u{90}é✓\n".repeat(300);
        check_screen_form(&hostile);
        // Lengths around the limit: the sequence itself is 8 + 4*ceil(n/3) bytes.
        for n in 560..=575 {
            check_screen_form(&"x".repeat(n));
        }
        let big = "Subject: a long message\n\n".to_string() + &"Work is under way é.\n".repeat(400);
        assert!(screen_chunks(&sequence_bel(&big), SCREEN_CHUNK).len() > 10);
        check_screen_form(&big);
    }

    #[test]
    fn inside_screen_no_plain_sequence_goes_out() {
        // A plain OSC longer than screen's buffer would be printed onto the screen.
        let text = "y".repeat(2000);
        let bytes = for_terminal(&text, Multiplexer::Screen);
        let starts = bytes.windows(2).filter(|w| w == b"\x1b]").count();
        assert_eq!(starts, 1, "exactly one OSC, inside the first piece");
        assert!(bytes.starts_with(b"\x1bP\x1b]52;c;"));
    }

    #[test]
    fn multiplexer_from_tmux_and_sty() {
        let s = |v: &str| Some(OsStr::new(v).to_owned());
        let d = |t: Option<std::ffi::OsString>, y: Option<std::ffi::OsString>| {
            Multiplexer::detect(t.as_deref(), y.as_deref())
        };
        assert_eq!(d(None, None), Multiplexer::None);
        assert_eq!(d(s(""), s("")), Multiplexer::None);
        assert_eq!(d(s("/tmp/tmux-0/default,1,0"), None), Multiplexer::Tmux);
        assert_eq!(d(None, s("1234.pts-0.host")), Multiplexer::Screen);
        assert_eq!(d(s(""), s("1234.pts-0.host")), Multiplexer::Screen);
        assert_eq!(
            d(s("/tmp/tmux-0/default,1,0"), s("1234.pts-0.host")),
            Multiplexer::Tmux
        );
    }

    #[test]
    fn tmux_versions() {
        assert_eq!(tmux_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(tmux_version("tmux 3.2\n"), Some((3, 2)));
        assert_eq!(tmux_version("tmux 3.2-rc2"), Some((3, 2)));
        assert_eq!(tmux_version("tmux 3.1c"), Some((3, 1)));
        assert_eq!(tmux_version("tmux 2.9a"), Some((2, 9)));
        assert_eq!(tmux_version("tmux 1.8"), Some((1, 8)));
        assert_eq!(tmux_version("tmux 3.10"), Some((3, 10)));
        assert_eq!(tmux_version("tmux next-3.6"), Some((3, 6)));
        assert_eq!(tmux_version("tmux master"), None);
        assert_eq!(tmux_version("tmux openbsd-7.4"), None);
        assert_eq!(tmux_version(""), None);
        assert!(tmux_has_load_buffer_w(Some((3, 2))));
        assert!(tmux_has_load_buffer_w(Some((3, 10))));
        assert!(tmux_has_load_buffer_w(Some((4, 0))));
        assert!(tmux_has_load_buffer_w(None));
        assert!(!tmux_has_load_buffer_w(Some((3, 1))));
        assert!(!tmux_has_load_buffer_w(Some((2, 9))));
        assert_eq!(load_buffer_args(true), ["load-buffer", "-w", "-"]);
        assert_eq!(load_buffer_args(false), ["load-buffer", "-"]);
    }

    #[test]
    fn tmux_errors_are_one_clean_line() {
        assert_eq!(
            tmux_error(b"no server running on /tmp/tmux-0/x\n", "exited with 1"),
            "no server running on /tmp/tmux-0/x"
        );
        assert_eq!(
            tmux_error(b"a\n\n b\x1b[31m \n", "exited with 1"),
            "a / b [31m"
        );
        assert_eq!(
            tmux_error(b"", "exited with 1"),
            "tmux exited with 1 without a word"
        );
        assert_eq!(tmux_error(&[b'e'; 500], "x").chars().count(), 200);
    }

    #[test]
    fn the_flash_says_where_the_text_went() {
        let what = "the during message";
        assert_eq!(
            Copied::Tmux(TmuxCopy::Clipboard).describe(what, 3),
            "copied the during message (3 lines) to the clipboard through tmux"
        );
        assert_eq!(
            Copied::Terminal.describe(what, 1),
            "copied the during message (1 line) to the clipboard through your terminal (OSC 52; some terminals need it enabled)"
        );
        assert!(Copied::Screen.describe(what, 2).contains("screen"));
        let old = Copied::Tmux(TmuxCopy::BufferOnly {
            version: "tmux 3.1c".into(),
        });
        assert!(
            old.describe(what, 2)
                .contains("tmux 3.1c (before 3.2) cannot pass it on")
        );
        let failed = Copied::Tmux(TmuxCopy::Failed("no server running on /x".into()));
        assert!(failed.is_warning());
        let text = failed.describe(what, 2);
        assert!(text.starts_with("tmux load-buffer failed: no server running on /x;"));
        assert!(!text.contains("copied"), "{text}");
        let slow = Copied::Tmux(TmuxCopy::TimedOut(TMUX_DEADLINE));
        assert!(slow.is_warning());
        assert!(slow.describe(what, 2).contains("within 2s"));
        assert!(!Copied::Terminal.is_warning());
        assert!(!old.is_warning());
    }
}
