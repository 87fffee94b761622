//! Copying through the terminal: OSC 52 puts text on the clipboard of the machine the
//! operator sits at, across SSH, with no X server or clipboard tool on the jump box.

use base64::Engine;

/// The sequence that sets the clipboard (`c`) to `text`: `ESC ] 52 ; c ; <base64> ESC \`.
/// String Terminator rather than BEL: both are accepted, and ST is the standard one.
pub fn sequence(text: &str) -> Vec<u8> {
    let payload = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.extend_from_slice(b"\x1b]52;c;");
    out.extend_from_slice(payload.as_bytes());
    out.extend_from_slice(b"\x1b\\");
    out
}

/// The same sequence wrapped for tmux's passthrough (`ESC P tmux; ... ESC \`, every ESC
/// inside doubled), for tmux set up with `allow-passthrough` but not `set-clipboard on`.
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

/// What to write for a terminal inside tmux (`$TMUX` set) or not. Inside tmux both
/// forms go out: tmux's default `set-clipboard external` ignores the plain one, and
/// without `allow-passthrough` it drops the wrapped one; at most one of them lands, and
/// both carry the same text.
pub fn for_terminal(text: &str, in_tmux: bool) -> Vec<u8> {
    let mut out = sequence(text);
    if in_tmux {
        out.extend(tmux_passthrough(text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sequence_bytes() {
        // "hi\n" is aGkK in base64.
        assert_eq!(sequence("hi\n"), b"\x1b]52;c;aGkK\x1b\\".to_vec());
        assert_eq!(sequence(""), b"\x1b]52;c;\x1b\\".to_vec());
        // UTF-8 goes in as its bytes: "é" is C3 A9, w6k= in base64.
        assert_eq!(sequence("é"), b"\x1b]52;c;w6k=\x1b\\".to_vec());
    }

    #[test]
    fn tmux_wrapping_doubles_every_escape() {
        assert_eq!(
            tmux_passthrough("hi\n"),
            b"\x1bPtmux;\x1b\x1b]52;c;aGkK\x1b\x1b\\\x1b\\".to_vec()
        );
        let both = for_terminal("hi\n", true);
        assert!(both.starts_with(&sequence("hi\n")));
        assert!(both.ends_with(&tmux_passthrough("hi\n")));
        assert_eq!(for_terminal("hi\n", false), sequence("hi\n"));
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
}
