//! Writing the commands' output: a reader that went away (`madoguchi recording list |
//! head`) ends the listing quietly instead of a panic from `println!`.

use std::io::{ErrorKind, Write};

/// Writes `text` and a newline. `Ok(false)` when the reader closed the pipe: stop writing.
pub fn line(out: &mut impl Write, text: &str) -> std::io::Result<bool> {
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_stops_quietly() {
        assert!(!line(&mut Closed, "x").unwrap());
        let mut v = Vec::new();
        assert!(line(&mut v, "x").unwrap());
        assert_eq!(v, b"x\n");
    }
}
