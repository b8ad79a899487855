//! Keystroke → echo timing against a session running [`SCRIPT`], shared by `attach`
//! (WebSocket against plain tmux) and `fleet` (through the hub against on the host).

use std::time::{Duration, Instant};

use anyhow::Result;

use super::viewer::Viewer;
use super::vt;

/// The echoing agent's shell script. Raw mode, no tty echo: cat reads each byte as it comes
/// and writes it back, as an agent's TUI echoes what it reads in raw mode.
pub const SCRIPT: &str = "stty raw -echo\necho READY\nexec cat\n";
/// Untimed keystrokes per path before the timed ones.
pub const WARMUP_KEYS: usize = 20;
/// Timed keystrokes alternate between the paths in blocks of this many.
pub const KEY_BLOCK: usize = 50;
/// Letters typed, in turn (any letter; tmux's escape sequences are stripped before matching).
const KEYS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
/// Longest wait for one echo, or for `READY`.
const WAIT: Duration = Duration::from_secs(10);
/// Output-free pause that ends a drain before each block.
const QUIET: Duration = Duration::from_millis(20);

/// Times `n` keystrokes on each of two viewers of echo sessions (the same session or two),
/// alternating blocks of [`KEY_BLOCK`], after waiting for `READY` on each and typing
/// [`WARMUP_KEYS`] untimed. Each viewer's pending output is drained before its block, so an
/// echo of the other viewer's typing (same session) is never taken for its own.
pub async fn alternate(
    a: &mut Viewer,
    b: &mut Viewer,
    n: usize,
) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let (mut on_a, mut on_b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut typed = 0;
    for v in [&mut *a, &mut *b] {
        v.wait_text("READY", WAIT).await?;
        v.settle(Duration::from_millis(300), WAIT).await?;
    }
    for (v, samples) in [(&mut *a, &mut on_a), (&mut *b, &mut on_b)] {
        v.settle(QUIET, WAIT).await?;
        keystrokes(v, WARMUP_KEYS, &mut typed, samples).await?;
        samples.clear();
    }
    while on_a.len() < n {
        let k = KEY_BLOCK.min(n - on_a.len());
        for (v, samples) in [(&mut *a, &mut on_a), (&mut *b, &mut on_b)] {
            v.settle(QUIET, WAIT).await?;
            keystrokes(v, k, &mut typed, samples).await?;
        }
    }
    Ok((on_a, on_b))
}

/// Types `n` letters one at a time, each once the previous one's echo has come back, and
/// records each keystroke's send → echo time.
async fn keystrokes(
    v: &mut Viewer,
    n: usize,
    typed: &mut usize,
    samples: &mut Vec<Duration>,
) -> Result<()> {
    let mut vt = vt::Stripper::default();
    let mut text = Vec::new();
    for _ in 0..n {
        let key = KEYS[*typed % KEYS.len()];
        *typed += 1;
        let start = Instant::now();
        v.send(&[key]).await?;
        loop {
            let chunk = v.recv_within(WAIT, "an echo").await?;
            text.clear();
            vt.feed(&chunk, &mut text);
            if text.contains(&key) {
                break;
            }
        }
        samples.push(start.elapsed());
    }
    Ok(())
}
