//! The CLI's printing. A closed stdout or stderr (`hopcheck list | head -1`,
//! `2>&-`) drops the text: printing never panics and never changes the exit code.

use std::fmt;
use std::io::Write as _;

/// `println!` that ignores a closed or failing stdout.
macro_rules! outln {
    ($($arg:tt)*) => {
        {
            let _still_open = $crate::cli::print::stdout_line(format_args!($($arg)*));
        }
    };
}

/// `eprintln!` that ignores a closed or failing stderr.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::print::stderr_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};

/// One line on stdout; `false` once stdout no longer takes text.
pub fn stdout_line(text: fmt::Arguments<'_>) -> bool {
    writeln!(std::io::stdout().lock(), "{text}").is_ok()
}

/// One line on stderr; a failure is ignored (there is nowhere left to say it).
pub fn stderr_line(text: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Text as it is on stdout, without an added newline.
pub fn stdout_text(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
