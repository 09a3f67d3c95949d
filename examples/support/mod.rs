//! What the examples share: reporting an error by its message, reading `--flag value`
//! arguments, and the look of the plots.
// Each example compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod figure;

use std::error::Error;
use std::process::ExitCode;
use std::str::FromStr;

/// Runs an example's body; an error is printed by its message (not its debug form) and the
/// process exits with a failure code.
pub fn run(body: impl FnOnce() -> Result<(), Box<dyn Error>>) -> ExitCode {
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The command line's flags, read one at a time.
pub struct Flags {
    args: std::iter::Skip<std::env::Args>,
    usage: &'static str,
}

impl Flags {
    /// The flags of this process; `usage` is printed for `-h` or `--help`.
    pub fn new(usage: &'static str) -> Self {
        Flags {
            args: std::env::args().skip(1),
            usage,
        }
    }

    /// The next flag, or `None` after the last; `-h` and `--help` print the usage and exit.
    pub fn next_flag(&mut self) -> Option<String> {
        let flag = self.args.next()?;
        if flag == "-h" || flag == "--help" {
            println!("{}", self.usage);
            std::process::exit(0);
        }
        Some(flag)
    }

    /// The value following `flag`, parsed.
    pub fn value<T: FromStr>(&mut self, flag: &str) -> Result<T, Box<dyn Error>>
    where
        T::Err: Error + 'static,
    {
        let text = self
            .args
            .next()
            .ok_or_else(|| format!("{flag} needs a value (try --help)"))?;
        text.parse()
            .map_err(|e: T::Err| format!("{flag} {text:?}: {e}").into())
    }

    /// The error for a flag the example does not know.
    pub fn unknown(&self, flag: &str) -> Box<dyn Error> {
        format!("unknown argument {flag:?} (try --help)").into()
    }
}

/// `--epochs N` and `--seed N`, the only flags of the small training examples.
pub fn epochs_and_seed(
    usage: &'static str,
    epochs: usize,
    seed: u64,
) -> Result<(usize, u64), Box<dyn Error>> {
    let (mut epochs, mut seed) = (epochs, seed);
    let mut flags = Flags::new(usage);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "--epochs" => epochs = flags.value(&flag)?,
            "--seed" => seed = flags.value(&flag)?,
            other => return Err(flags.unknown(other)),
        }
    }
    Ok((epochs, seed))
}
