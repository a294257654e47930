//! `qa-pipe completions SHELL` and `qa-pipe man`: generated from the clap definition, so
//! they list exactly the commands and flags the binary has.

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};

pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, &mut std::io::stdout());
    Ok(())
}

pub fn man(out_dir: Option<PathBuf>) -> Result<()> {
    let cmd = Cli::command();
    match out_dir {
        Some(dir) => std::fs::create_dir_all(&dir)
            .and_then(|()| clap_mangen::generate_to(cmd, &dir))
            .map_err(|e| {
                Error::Other(anyhow::anyhow!(
                    "writing man pages to {}: {e}",
                    dir.display()
                ))
            }),
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .and_then(|()| std::io::stdout().write_all(&page))
                .map_err(|e| Error::Other(e.into()))
        }
    }
}
