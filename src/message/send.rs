//! Sending a message through the runbook's `message.send` command: the body on stdin,
//! the subject in `CUTOVER_SUBJECT`, the runbook variables in the environment. Never
//! spliced into shell text, so no subject or body can run anything.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A send still running after this long is killed and reported failed: a hung mail
/// relay must not hold the message hostage for the rest of the night.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// Output kept for the report of a failure.
const KEEP: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRequest {
    pub command: String,
    pub shell: String,
    pub workdir: Option<PathBuf>,
    /// Added to the inherited environment (runbook vars, session).
    pub env: Vec<(String, String)>,
    pub subject: String,
    pub body: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub ok: bool,
    pub exit: Option<i32>,
    /// On failure: how it ended and the last line it wrote, display-safe.
    pub detail: Option<String>,
}

/// The request for the runbook's `message.send`, or `None` when it has none. Shell,
/// workdir and environment follow the same rules as the runbook's commands.
pub fn request_for(
    runbook: &crate::runbook::Runbook,
    run: &crate::run::RunState,
    subject: &str,
    body: &str,
) -> Option<SendRequest> {
    let command = runbook.file.message.as_ref()?.send.clone()?;
    let header = &runbook.file.runbook;
    let shell = header
        .shell
        .clone()
        .unwrap_or_else(|| "/bin/sh".to_string());
    let workdir = header.workdir.as_ref().map(|w| {
        let p = PathBuf::from(w);
        match std::path::Path::new(&run.runbook_path).parent() {
            Some(base) if p.is_relative() && base.is_absolute() => base.join(p),
            _ => p,
        }
    });
    // Secrets are inherited, like every command's (see `runner::watch::spec_for`).
    let mut env: Vec<(String, String)> = run.vars.clone().into_iter().collect();
    env.push(("CUTOVER_SESSION".into(), run.session.clone()));
    // A secret typed or pasted into the draft goes out as `****`: stakeholders' mail
    // is the last place for it.
    let secrets = crate::runbook::secrets::active();
    Some(SendRequest {
        command,
        shell,
        workdir,
        env,
        subject: secrets.mask(subject).into_owned(),
        body: secrets.mask(body).into_owned(),
        timeout: TIMEOUT,
    })
}

/// Runs the send command to its end (or its timeout). Blocking: call it off the
/// event loop.
pub fn send(req: &SendRequest) -> SendOutcome {
    let mut cmd = Command::new(&req.shell);
    cmd.arg("-c")
        .arg(&req.command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .envs(req.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("CUTOVER_SUBJECT", &req.subject);
    if let Some(dir) = &req.workdir {
        cmd.current_dir(dir);
    }
    // SAFETY: only setsid between fork and exec, which is async-signal-safe. A new
    // session has no controlling terminal, so a mail client cannot prompt on the
    // operator's screen, and its process group can be killed whole on timeout.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return SendOutcome {
                ok: false,
                exit: None,
                detail: Some(format!("cannot start `{}`: {e}", req.shell)),
            };
        }
    };
    // stdin is written on its own thread: a command that does not read it (or reads
    // it after writing much output) must not deadlock us.
    let stdin = child.stdin.take();
    let body = req.body.clone();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            // A command that exits without reading gives EPIPE; its exit says the rest.
            let _ = s.write_all(body.as_bytes());
        }
    });
    // Output is read on threads that report over a channel, so a background process
    // holding the pipes open (a mail client that forks, `x &`) cannot hold us past the
    // deadline.
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<u8>)>();
    let mut readers = 0;
    for (index, stream) in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(mut r) = stream else { continue };
        readers += 1;
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut tail: Vec<u8> = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > KEEP {
                    tail.drain(..tail.len() - KEEP);
                }
            }
            let _ = tx.send((index, tail));
        });
    }
    drop(tx);
    let started = Instant::now();
    let deadline = started + req.timeout;
    let mut timed_out = false;
    let group = i32::try_from(child.id()).ok();
    let kill_group = || {
        if let Some(pid) = group {
            // SAFETY: kill(2) on the group this child leads (setsid made it a group
            // leader); no memory-safety preconditions. ESRCH when it is already gone.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                // The whole group: `sh -c` may have started the real client as a child.
                kill_group();
                break child.wait();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(e),
        }
    };
    // Whatever the command left behind in its group goes too: the send is over.
    kill_group();
    // Not joined: a process that escaped the group could hold stdin unread forever.
    drop(writer);
    let mut output: Vec<Vec<u8>> = vec![Vec::new(); 2];
    let grace = Instant::now() + Duration::from_millis(500);
    for _ in 0..readers {
        let wait = deadline
            .max(grace)
            .saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok((i, tail)) => output[i] = tail,
            Err(_) => break,
        }
    }
    // The last thing it said, from stderr first: that is where a failing client explains.
    // It is journaled and shown, so a secret in it (a client echoing its login) is masked
    // before the line is shortened, which could otherwise cut one in half.
    let secrets = crate::runbook::secrets::active();
    let last_line = output.iter().rev().find_map(|bytes| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| display_safe(&secrets.mask(l)))
            .rfind(|l| !l.is_empty())
    });
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            return SendOutcome {
                ok: false,
                exit: None,
                detail: Some(format!("cannot wait for the send command: {e}")),
            };
        }
    };
    use std::os::unix::process::ExitStatusExt;
    let exit = status.code();
    let ok = status.success() && !timed_out;
    let how = if timed_out {
        format!("no answer after {}s, killed", req.timeout.as_secs())
    } else {
        crate::runner::task::describe_end(exit, status.signal(), false, false, None)
    };
    SendOutcome {
        ok,
        exit,
        detail: (!ok).then(|| match last_line {
            Some(l) => format!("{how}: {l}"),
            None => how,
        }),
    }
}

/// A line of someone else's output, safe to show and journal: no control characters,
/// at most 200 characters.
fn display_safe(line: &str) -> String {
    line.chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(command: &str) -> SendRequest {
        SendRequest {
            command: command.into(),
            shell: "sh".into(),
            workdir: None,
            env: vec![("SERVICE".into(), "CluedIn".into())],
            subject: "[In progress] $(touch /tmp/never) `x`".into(),
            body: "line one\nline two\n".into(),
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn body_on_stdin_subject_and_vars_in_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut r = req(r#"{ printf '%s|%s\n' "$CUTOVER_SUBJECT" "$SERVICE"; cat; } > "$OUT""#);
        r.env.push(("OUT".into(), out.display().to_string()));
        let got = send(&r);
        assert_eq!(
            got,
            SendOutcome {
                ok: true,
                exit: Some(0),
                detail: None
            }
        );
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "[In progress] $(touch /tmp/never) `x`|CluedIn\nline one\nline two\n"
        );
    }

    #[test]
    fn a_failing_command_is_reported_with_its_last_line() {
        let got = send(&req(
            "cat >/dev/null; echo 'relay: connection refused' >&2; exit 3",
        ));
        assert!(!got.ok);
        assert_eq!(got.exit, Some(3));
        assert_eq!(
            got.detail.as_deref(),
            Some("exit 3: relay: connection refused")
        );
    }

    #[test]
    fn a_command_that_ignores_stdin_or_hangs_is_still_settled() {
        let got = send(&req("exit 0"));
        assert!(got.ok, "{got:?}");
        let mut r = req("sleep 30");
        r.timeout = Duration::from_millis(300);
        let got = send(&r);
        assert!(!got.ok);
        assert!(got.detail.unwrap().contains("killed"));
    }

    #[test]
    fn a_background_process_holding_the_pipes_does_not_hold_the_send() {
        // The shell exits at once; its background child keeps stdout open for 30s.
        let started = Instant::now();
        let got = send(&req("cat >/dev/null; sleep 30 & echo queued; exit 0"));
        assert!(got.ok, "{got:?}");
        // Not a timing benchmark: a hang detector with a wide margin.
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn the_detail_is_the_last_line_of_stderr() {
        let got = send(&req(
            "echo progress; echo 'mail: no relay' >&2; echo done; exit 1",
        ));
        assert_eq!(got.detail.as_deref(), Some("exit 1: mail: no relay"));
    }

    #[test]
    fn hostile_output_is_made_safe() {
        let got = send(&req(r"printf '\033]52;c;cHduZWQ=\007boom\n' >&2; exit 1"));
        let d = got.detail.unwrap();
        assert!(!d.contains('\u{1b}') && !d.contains('\u{7}'), "{d:?}");
        assert!(d.ends_with("boom"), "{d:?}");
    }
}
