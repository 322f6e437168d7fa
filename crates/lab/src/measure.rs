//! One run of a command in a fresh process, measured: wall time, time to
//! the first byte of output, CPU time (the kernel's accounting of that one
//! child, `wait4`), peak RSS and what it printed.
//!
//! Peak RSS is the process's own high-water mark (`VmHWM` in
//! `/proc/PID/status`), read at the moment it exits: the lab traces the
//! child (`ptrace`) only to be stopped there, while its memory is still
//! its own. The kernel's `ru_maxrss` cannot be used: it also counts the
//! memory the child shared with this process between `fork` and `exec`,
//! so every program would seem to need at least what the lab holds; and
//! sampling `/proc` while the program runs misses short programs.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub wall: Duration,
    /// From the start to the first byte on stdout (`None`: it printed
    /// nothing).
    pub first_output: Option<Duration>,
    /// User plus system time.
    pub cpu: Duration,
    /// Peak resident set size, in bytes (0: unknown, the run could not be
    /// traced).
    pub peak_rss: u64,
    pub output: Output,
}

/// What a run printed, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
}

/// Run `argv` to its end and measure it. An error when it cannot be
/// started.
pub fn run(argv: &[String]) -> std::io::Result<Measured> {
    run_with(argv, &[])
}

/// [`run`], with `env` added to the command's environment.
pub fn run_with(argv: &[String], env: &[(&str, String)]) -> std::io::Result<Measured> {
    let (program, args) = argv.split_first().expect("a command");
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.envs(env.iter().map(|(name, value)| (name, value)));
    // SAFETY: `ptrace(PTRACE_TRACEME)` is a system call, async-signal-safe
    // as code between fork and exec must be. If it fails, the run goes on
    // untraced (and its peak RSS is unknown).
    unsafe {
        command.pre_exec(|| {
            libc::ptrace(libc::PTRACE_TRACEME, 0, std::ptr::null_mut::<libc::c_void>(), 0);
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = command.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let output = std::thread::spawn(move || {
        let (mut bytes, mut first_output) = (Vec::new(), None);
        let mut buffer = [0u8; 64 * 1024];
        loop {
            match stdout.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    first_output.get_or_insert_with(|| started.elapsed());
                    bytes.extend_from_slice(&buffer[..n]);
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        (bytes, first_output)
    });
    let ended = follow(pid);
    let wall = started.elapsed();
    // The child is reaped (by `follow`); `Child` must not wait for it.
    std::mem::forget(child);
    let (status, usage, peak_rss) = ended?;
    let (stdout, first_output) = output.join().unwrap_or_default();
    let stderr = errors.join().unwrap_or_default();
    let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok(Measured { wall, first_output, cpu, peak_rss, output: Output { stdout, stderr, code } })
}

/// Follow the traced child `pid` to its end and reap it: its wait status,
/// its resource usage and its peak RSS, read when it stops on its way out
/// (`PTRACE_EVENT_EXIT`, when its memory is still its own). Signals it
/// receives are passed on to it.
fn follow(pid: libc::pid_t) -> std::io::Result<(i32, libc::rusage, u64)> {
    let mut peak_rss = 0;
    let mut traced = false;
    loop {
        let mut status = 0;
        // SAFETY: all-zero bytes are a valid `rusage` (integers and
        // timevals).
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is this process's child, not yet reaped (`Child`
        // never waits for it); `status` and `usage` are valid to write.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped != pid {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            return Ok((status, usage, peak_rss));
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let signal = libc::WSTOPSIG(status);
        let event = status >> 16;
        let pass_on = if !traced && signal == libc::SIGTRAP {
            // The stop at `exec`: from here on, stop it on its way out too.
            traced = true;
            let options = libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_EXITKILL;
            // SAFETY: `pid` is a tracee of this process, stopped.
            unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, options) };
            0
        } else if event == libc::PTRACE_EVENT_EXIT {
            peak_rss = high_water_mark(pid).unwrap_or(0);
            0
        } else {
            signal
        };
        // SAFETY: `pid` is a tracee of this process, stopped.
        unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, pass_on) };
    }
}

/// The peak RSS of `pid`, in bytes.
fn high_water_mark(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

fn timeval(time: libc::timeval) -> Duration {
    Duration::from_secs(time.tv_sec.max(0) as u64)
        + Duration::from_micros(time.tv_usec.max(0) as u64)
}

/// The size of the file at `path`, in bytes.
pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |metadata| metadata.len())
}
