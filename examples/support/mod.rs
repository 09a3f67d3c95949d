//! What the examples share: reporting an error by its message, reading the command line with
//! lexopt, and the look of the plots.
// Each example compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod figure;

use std::error::Error;
use std::fmt::Display;
use std::process::ExitCode;
use std::str::FromStr;

pub use lexopt::prelude::*;

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

/// The command line of this process, read one argument at a time by lexopt. Each example
/// matches the arguments itself (`Long("epochs") => epochs = args.value()?`), so its options
/// are all in one place; this adds the usage text and errors that name the flag.
pub struct Args {
    parser: lexopt::Parser,
    usage: &'static str,
    /// The last flag read, as written on the command line, for the errors about its value.
    flag: String,
}

impl Args {
    /// The arguments of this process; `usage` is printed for `-h` or `--help`.
    pub fn new(usage: &'static str) -> Self {
        Args {
            parser: lexopt::Parser::from_env(),
            usage,
            flag: String::new(),
        }
    }

    /// The next flag or positional value, or `None` after the last; `-h` and `--help` print
    /// the usage and exit.
    pub fn next(&mut self) -> Result<Option<lexopt::Arg<'_>>, Box<dyn Error>> {
        let arg = self.parser.next()?;
        match &arg {
            Some(Short('h') | Long("help")) => {
                println!("{}", self.usage);
                std::process::exit(0);
            }
            Some(Long(name)) => self.flag = format!("--{name}"),
            Some(Short(letter)) => self.flag = format!("-{letter}"),
            Some(Value(_)) | None => {}
        }
        Ok(arg)
    }

    /// The value of the flag just read, as text (`--flag value` or `--flag=value`).
    pub fn text(&mut self) -> Result<String, Box<dyn Error>> {
        // lexopt's only error here is a missing value.
        let value = self
            .parser
            .value()
            .map_err(|_| format!("{} needs a value (try --help)", self.flag))?;
        value
            .into_string()
            .map_err(|raw| format!("{} {raw:?}: not valid UTF-8", self.flag).into())
    }

    /// The value of the flag just read, parsed; an error names the flag and the value.
    pub fn value<T: FromStr>(&mut self) -> Result<T, Box<dyn Error>>
    where
        T::Err: Display,
    {
        self.value_with(|text| text.parse::<T>())
    }

    /// The value of the flag just read, parsed by `parse`; an error names the flag and the
    /// value, then says what `parse` found wrong.
    pub fn value_with<T, E: Display>(
        &mut self,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, Box<dyn Error>> {
        let text = self.text()?;
        parse(&text).map_err(|e| format!("{} {text:?}: {e}", self.flag).into())
    }
}

/// A whole number no smaller than `least`, for [`Args::value_with`].
pub fn at_least(text: &str, least: usize) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= least => Ok(n),
        _ => Err(format!("must be a whole number of at least {least}")),
    }
}

/// A number in `[min, max]`, for [`Args::value_with`].
pub fn within(text: &str, min: f64, max: f64) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(format!("must be a number in [{min}, {max}]")),
    }
}

/// A finite number above 0, for [`Args::value_with`].
pub fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err("must be a finite number above 0".into()),
    }
}

/// The error for an argument the example does not take.
pub fn unexpected(arg: lexopt::Arg<'_>) -> Box<dyn Error> {
    format!("{} (try --help)", arg.unexpected()).into()
}

/// `--epochs N` and `--seed N`, the only flags of the small training examples.
pub fn epochs_and_seed(
    usage: &'static str,
    epochs: usize,
    seed: u64,
) -> Result<(usize, u64), Box<dyn Error>> {
    count_and_seed(usage, "epochs", epochs, seed)
}

/// `--<count_flag> N` and `--seed N`, with their defaults.
pub fn count_and_seed(
    usage: &'static str,
    count_flag: &str,
    count: usize,
    seed: u64,
) -> Result<(usize, u64), Box<dyn Error>> {
    let (mut count, mut seed) = (count, seed);
    let mut args = Args::new(usage);
    while let Some(arg) = args.next()? {
        match arg {
            Long(flag) if flag == count_flag => count = args.value()?,
            Long("seed") => seed = args.value()?,
            _ => return Err(unexpected(arg)),
        }
    }
    Ok((count, seed))
}
