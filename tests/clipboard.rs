//! ctrl-y in the message editor, through the real binary: the draft reaches the
//! operator's clipboard inside tmux with its default configuration (through `tmux
//! load-buffer -w`, which tmux passes on to the outer terminal as OSC 52) and inside GNU
//! screen (OSC 52 in screen's passthrough, cut into strings screen forwards whole); the
//! status bar says which way it went, and says so when tmux failed or hung.
//!
//! The tmux and screen tests need those programs. `.ci/run` installs them; without them
//! the tests fail (saying so) unless `CUTOVER_SKIP_MULTIPLEXER_TESTS=1` is set.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use common::multiplexer::{POLL, Screen, Tmux, exports, home_env, multiplexer, sh_quote, unique};
use common::{BIN, Home, TIMEOUT};
use cutover::message::osc52;

const SUBJECT: &str = "[In progress] clipboard test";

/// Long enough that its OSC 52 is several of screen's strings (and past the 767 bytes
/// screen takes in one), with text that is not ASCII.
fn body() -> String {
    (1..=30)
        .map(|i| format!("Line {i:02}: the orders database moves to the new cluster — café ✓\n"))
        .collect()
}

/// The draft the editor opens with: what ctrl-y must put on the clipboard.
fn draft() -> String {
    format!("Subject: {SUBJECT}\n\n{}", body())
}

fn runbook(dir: &Path) -> PathBuf {
    let path = dir.join("clip.toml");
    let text = format!(
        r#"[runbook]
title = "clipboard test"

[window]
duration = "1h"

[message]
send = 'cat > /dev/null'

[message.during]
subject = "{SUBJECT}"
body = """
{}"""

[[phase]]
id = "p"
title = "Phase"

[[phase.step]]
id = "tell"
title = "Tell stakeholders"
message = "during"
"#,
        body()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The draft as `cutover message` prints it for the home's only session: the same text
/// the editor opened with, by another road.
fn printed_draft(home: &Home) -> String {
    let id = home.only_session();
    let out = home.run(&["message", id.as_str(), "--phase", "during"]);
    assert_eq!(out.code, 0, "cutover message failed: {out:?}");
    assert_eq!(
        out.stdout,
        draft(),
        "the runbook's draft is not the one expected"
    );
    out.stdout
}

/// Every complete OSC 52 in `raw` (`ESC ] 52 ; <selection> ; <base64>`, ended by BEL or
/// `ESC \`): its selection, its base64 as written, and that base64 decoded.
fn osc52_in(raw: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    const START: &[u8] = b"\x1b]52;";
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(at) = raw[i..].windows(START.len()).position(|w| w == START) {
        let from = i + at + START.len();
        let Some(semi) = raw[from..].iter().position(|&b| b == b';') else {
            break;
        };
        let data = from + semi + 1;
        let end = (data..raw.len())
            .find(|&k| raw[k] == 0x07 || (raw[k] == 0x1b && raw.get(k + 1) == Some(&b'\\')));
        let Some(end) = end else { break };
        let b64 = String::from_utf8_lossy(&raw[data..end]).into_owned();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&raw[data..end])
            .unwrap_or_else(|e| panic!("an OSC 52 whose payload is not base64 ({e}): {b64:?}"));
        found.push((
            String::from_utf8_lossy(&raw[from..from + semi]).into_owned(),
            b64,
            decoded,
        ));
        i = end;
    }
    found
}

/// `bytes` with ESC and BEL spelled out, for failure messages.
fn spell(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            0x1b => out.push_str("ESC"),
            0x07 => out.push_str("BEL"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// The OSC 52 sequences in `raw`, described, for failure messages.
fn describe_osc52(raw: &[u8]) -> String {
    let all = osc52_in(raw);
    if all.is_empty() {
        let tail = &raw[raw.len().saturating_sub(600)..];
        return format!(
            "no complete OSC 52 in {} bytes; their tail: {}",
            raw.len(),
            spell(tail)
        );
    }
    all.iter()
        .map(|(sel, b64, text)| {
            format!(
                "selection {sel:?}, {} base64 bytes: {:?}",
                b64.len(),
                String::from_utf8_lossy(text)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until `raw()` holds an OSC 52 satisfying `pred`; panics describing what it has.
fn wait_osc52(
    what: &str,
    raw: impl Fn() -> Vec<u8>,
    pred: impl Fn(&(String, String, Vec<u8>)) -> bool,
) -> (String, String, Vec<u8>) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let bytes = raw();
        if let Some(hit) = osc52_in(&bytes).into_iter().find(&pred) {
            return hit;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the OSC 52 written:\n{}",
            describe_osc52(&bytes)
        );
        std::thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------------------
// tmux
// ---------------------------------------------------------------------------------------

#[test]
fn inside_tmux_with_its_default_config_the_draft_reaches_the_buffer_and_the_terminal() {
    let Some(bin) = multiplexer("tmux") else {
        return;
    };
    let home = Home::new();
    let rb = runbook(home.path());
    let socket = unique("tmux");
    let tmux = Tmux::new(bin, Some(socket.clone()), TIMEOUT);
    let session = "clip";
    let mut new = tmux.command();
    new.args(["-f", "/dev/null", "new-session", "-d", "-s", session])
        .args(["-x", "120", "-y", "40", "--", "/bin/sh", "-c"])
        .arg(r#""$0" run "$1"; echo "cutover-exit=$?"; exec sleep 3600"#)
        .arg(BIN)
        .arg(&rb)
        .envs(home_env(&home))
        .env("TERM", "xterm-256color")
        .env_remove("STY")
        .env_remove("CUTOVER_LOG")
        .env_remove("NO_COLOR");
    let out = new.output().expect("start tmux");
    assert!(
        out.status.success(),
        "tmux new-session failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The defaults this is about: tmux ignores an application's OSC 52, and drops its
    // passthrough.
    let clip = tmux.run(&["show-options", "-g", "-v", "set-clipboard"]);
    assert_eq!(clip.trim(), "external", "tmux's default set-clipboard");
    let version = tmux.run(&["-V"]);
    if osc52::tmux_version(&version).is_some_and(|v| v >= (3, 3)) {
        let pass = tmux.run(&["show-options", "-g", "-v", "allow-passthrough"]);
        assert_eq!(pass.trim(), "off", "tmux's default allow-passthrough");
    }
    assert!(
        osc52::tmux_has_load_buffer_w(osc52::tmux_version(&version)),
        "this test needs tmux 3.2 or later (load-buffer -w), not {version}"
    );

    // The operator's terminal: a tmux client attached from a pty of our own, its
    // output recorded byte for byte.
    let client = home.pty_sh(
        120,
        40,
        &format!(
            "{}export TMUX_TMPDIR={}; exec {} -L {} attach-session -t {session}",
            exports(&home_env(&home)),
            sh_quote(tmux.tmpdir.path().as_os_str()),
            sh_quote(tmux.tmux.as_os_str()),
            socket
        ),
    );
    tmux.wait_pane(session, "the checklist", |t| t.contains("saved #1"));
    client.wait_for("saved #1", TIMEOUT);
    let draft = printed_draft(&home);

    tmux.run(&["send-keys", "-t", session, "m"]);
    tmux.wait_pane(session, "the message editor", |t| {
        t.contains("editing the during message")
    });
    tmux.run(&["send-keys", "-t", session, "C-y"]);
    let pane = tmux.wait_pane(session, "the copy's flash", |t| t.contains("copied the"));
    assert!(
        pane.contains("copied the during message (32 lines) to the clipboard through tmux"),
        "the flash does not say the draft went through tmux:\n{pane}"
    );

    // tmux's paste buffer holds the draft, exactly.
    let buffer = tmux.run(&["show-buffer"]);
    assert_eq!(buffer, draft, "tmux's paste buffer");

    // And tmux passed it on to the operator's terminal as OSC 52 (tmux's own, with an
    // empty selection: `ESC ] 52 ; ; <base64> BEL`).
    let (_, _, text) = wait_osc52(
        "an OSC 52 with the draft at the outer terminal",
        || client.raw(),
        |(_, _, text)| text == draft.as_bytes(),
    );
    assert_eq!(String::from_utf8(text).unwrap(), draft);

    tmux.run(&["send-keys", "-t", session, "C-g"]);
    tmux.run(&["send-keys", "-t", session, "q"]);
    let after = tmux.wait_pane(session, "cutover to exit", |t| t.contains("cutover-exit="));
    assert!(after.contains("cutover-exit=0"), "{after}");
    drop(client);
}

/// A tmux that cannot be reached (`$TMUX` names a socket with no server): the flash
/// says `tmux load-buffer` failed, in tmux's words, and does not claim a copy.
#[test]
fn a_failing_tmux_load_buffer_is_reported_with_tmux_s_error() {
    let Some(bin) = multiplexer("tmux") else {
        return;
    };
    let home = Home::new();
    let rb = runbook(home.path());
    let socket = home.path().join("no-such-tmux-server");
    let bindir = bin.parent().expect("tmux's directory");
    let mut tui = home.pty_sh(
        240,
        40,
        &format!(
            "{}export PATH={}:\"$PATH\"; export TMUX={},1,0; exec \"$0\" run {}",
            exports(&home_env(&home)),
            sh_quote(bindir.as_os_str()),
            sh_quote(socket.as_os_str()),
            sh_quote(rb.as_os_str())
        ),
    );
    tui.wait_for_saved(1);
    tui.send("m");
    tui.wait_for("editing the during message", TIMEOUT);
    tui.send("\x19");
    tui.wait_for("tmux load-buffer failed:", TIMEOUT);
    let screen = tui.screen();
    let line = screen
        .lines()
        .find(|l| l.contains("tmux load-buffer failed:"))
        .unwrap();
    assert!(
        line.contains("no-such-tmux-server"),
        "tmux's own error (naming the socket) is not in the flash: {line}"
    );
    assert!(
        line.contains("the during message may not be on your clipboard"),
        "{line}"
    );
    assert!(
        !line.contains("copied"),
        "a failure reported as a copy: {line}"
    );
    tui.send("\x03");
    assert_eq!(tui.wait_code(), 0);
    tui.assert_restored();
}

/// A tmux that never answers: after the deadline the flash says so, the hung process is
/// killed, and the screen worked on all along.
#[test]
fn a_hung_tmux_is_stopped_after_the_deadline_and_the_screen_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let rb = runbook(home.path());
    let fake = home.path().join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    let pidfile = home.path().join("hung-tmux.pid");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = -V ]; then echo 'tmux 3.3a'; exit 0; fi\n\
         echo $$ > {}\nexec sleep 60\n",
        sh_quote(pidfile.as_os_str())
    );
    let tmux = fake.join("tmux");
    std::fs::write(&tmux, script).unwrap();
    std::fs::set_permissions(&tmux, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut tui = home.pty_sh(
        240,
        40,
        &format!(
            "{}export PATH={}:\"$PATH\"; export TMUX=/nowhere/tmux,1,0; exec \"$0\" run {}",
            exports(&home_env(&home)),
            sh_quote(fake.as_os_str()),
            sh_quote(rb.as_os_str())
        ),
    );
    tui.wait_for_saved(1);
    tui.send("m");
    tui.wait_for("editing the during message", TIMEOUT);
    let pressed = Instant::now();
    tui.send("\x19");
    tui.wait_for(
        "tmux did not take the text within 2s and was stopped",
        TIMEOUT,
    );
    let took = pressed.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "the flash came after {took:?}, before the deadline"
    );
    let line = tui
        .screen()
        .lines()
        .find(|l| l.contains("tmux did not take"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("the during message may not be on your clipboard"),
        "{line}"
    );
    // The hung tmux is gone (or a zombie about to be reaped), not left running.
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("the fake tmux ran")
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        // The state is the field after the `(comm)`.
        let running = state
            .as_deref()
            .and_then(|s| s.rsplit_once(')'))
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'));
        if !running {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hung tmux (pid {pid}) is still running"
        );
        std::thread::sleep(POLL);
    }
    // Still responsive: typing reaches the editor.
    tui.send("still here ");
    tui.wait_for("still here", TIMEOUT);
    tui.send("\x03");
    assert_eq!(tui.wait_code(), 0);
    tui.assert_restored();
}

// ---------------------------------------------------------------------------------------
// No multiplexer
// ---------------------------------------------------------------------------------------

#[test]
fn without_a_multiplexer_the_plain_sequence_goes_out_and_the_flash_says_so() {
    let home = Home::new();
    let rb = runbook(home.path());
    let mut tui = home.pty_sh(
        240,
        40,
        &format!(
            "{}exec \"$0\" run {}",
            exports(&home_env(&home)),
            sh_quote(rb.as_os_str())
        ),
    );
    tui.wait_for_saved(1);
    let draft = printed_draft(&home);
    tui.send("m");
    tui.wait_for("editing the during message", TIMEOUT);
    tui.send("\x19");
    tui.wait_for(
        "copied the during message (32 lines) to the clipboard through your terminal \
         (OSC 52; some terminals need it enabled)",
        TIMEOUT,
    );
    let raw = tui.raw();
    let found = osc52_in(&raw);
    assert_eq!(found.len(), 1, "{}", describe_osc52(&raw));
    assert_eq!(found[0].0, "c");
    assert_eq!(String::from_utf8_lossy(&found[0].2), draft);
    assert!(
        common::rfind(&raw, &osc52::sequence(&draft)).is_some(),
        "not the ST-ended sequence"
    );
    assert!(
        common::rfind(&raw, b"\x1bP").is_none(),
        "a passthrough string with no multiplexer to take it"
    );
    tui.send("\x03");
    assert_eq!(tui.wait_code(), 0);
    tui.assert_restored();
}

// ---------------------------------------------------------------------------------------
// GNU screen
// ---------------------------------------------------------------------------------------

/// What screen itself forwards, checked on the screen the tests run with (4.09 when
/// written): passthrough strings of [`osc52::SCREEN_CHUNK`] bytes, and of 767, reach the
/// outer terminal whole; one of 768 bytes, and a plain OSC 52 that long, do not, and
/// their base64 is printed onto the screen as text.
#[test]
fn gnu_screen_forwards_passthrough_strings_of_up_to_767_bytes() {
    let Some(bin) = multiplexer("screen") else {
        return;
    };
    let version = Command::new(&bin)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let home = Home::new();
    let (a, b, c, d) = (
        "A".repeat(2000),
        "B".repeat(2000),
        "C".repeat(2000),
        "D".repeat(2000),
    );
    let mut bytes = Vec::new();
    bytes.extend(osc52::screen_chunks(&osc52::sequence_bel(&a), osc52::SCREEN_CHUNK).concat());
    bytes.extend(osc52::screen_chunks(&osc52::sequence_bel(&b), 767).concat());
    bytes.extend(osc52::screen_chunks(&osc52::sequence_bel(&c), 768).concat());
    bytes.extend(osc52::sequence(&d));
    let file = home.path().join("sequences.bin");
    std::fs::write(&file, &bytes).unwrap();
    let screen = Screen::new(bin);
    let mut tui = home.pty_sh(
        100,
        30,
        &screen.script(
            &home_env(&home),
            r#"sleep 0.3; cat "$1"; printf '\n%s\n' "probe-done"; read reply"#,
            &[file.as_os_str()],
        ),
    );
    tui.wait_for("probe-done", TIMEOUT);
    let raw = tui.raw();
    let texts: Vec<Vec<u8>> = osc52_in(&raw).into_iter().map(|(_, _, t)| t).collect();
    let got = |t: &str| texts.iter().any(|x| x == t.as_bytes());
    assert!(
        got(&a),
        "pieces of SCREEN_CHUNK ({}) bytes did not get through {version}:\n{}",
        osc52::SCREEN_CHUNK,
        describe_osc52(&raw)
    );
    assert!(
        got(&b),
        "pieces of 767 bytes did not get through {version}:\n{}",
        describe_osc52(&raw)
    );
    if version.contains("4.0") || version.contains("4.9") {
        assert!(!got(&c), "768-byte strings got through {version}");
        assert!(!got(&d), "a 2,000-byte OSC 52 got through {version}");
        // What screen made of them: the base64 of `C`s and `D`s as text.
        let raw_text = String::from_utf8_lossy(&raw);
        assert!(raw_text.contains("Q0NDQ0NDQ0NDQ0ND"), "{}", spell(&raw));
        assert!(raw_text.contains("RERERERERERERERE"), "{}", spell(&raw));
    } else {
        eprintln!("not GNU screen 4.x ({version:?}): the 768-byte limit is not checked");
    }
    tui.send("\r");
    let status = tui.wait_exit(TIMEOUT);
    assert!(status.success(), "screen did not end cleanly: {status:?}");
    drop(screen);
}

#[test]
fn inside_gnu_screen_the_draft_reaches_the_outer_terminal_as_osc52() {
    let Some(bin) = multiplexer("screen") else {
        return;
    };
    let home = Home::new();
    let rb = runbook(home.path());
    let screen = Screen::new(bin);
    let mut tui = home.pty_sh(
        120,
        40,
        &screen.script(
            &home_env(&home),
            r#""$0" run "$1"; echo "cutover-exit=$?"; read reply"#,
            &[rb.as_os_str()],
        ),
    );
    tui.wait_for_saved(1);
    let draft = printed_draft(&home);
    // Past what screen takes in one string: a plain OSC 52 would not get through.
    assert!(osc52::sequence(&draft).len() > 767);

    tui.send("m");
    tui.wait_for("editing the during message", TIMEOUT);
    tui.send("\x19");
    tui.wait_for("copied the during message (32 lines)", TIMEOUT);
    let flash = tui
        .screen()
        .lines()
        .find(|l| l.contains("copied the during message"))
        .unwrap()
        .to_string();
    assert!(
        flash.contains("to the clipboard through screen and your terminal"),
        "{flash}"
    );

    // The bytes screen wrote to the operator's terminal hold the whole sequence.
    let (selection, b64, text) = wait_osc52(
        "an OSC 52 with the draft at the outer terminal",
        || tui.raw(),
        |(_, _, text)| text == draft.as_bytes(),
    );
    assert_eq!(selection, "c");
    assert_eq!(String::from_utf8(text).unwrap(), draft);
    // None of the base64 spilled onto the screen as text.
    let shown = tui.screen();
    assert!(
        !shown.contains(&b64[..24]) && !shown.contains(&b64[b64.len() - 24..]),
        "base64 printed on the screen:\n{shown}"
    );

    tui.send("\x07");
    tui.send("q");
    tui.wait_for("cutover-exit=", TIMEOUT);
    assert!(tui.screen().contains("cutover-exit=0"), "{}", tui.screen());
    tui.send("\r");
    let status = tui.wait_exit(TIMEOUT);
    assert!(status.success(), "screen did not end cleanly: {status:?}");
    drop(screen);
}
