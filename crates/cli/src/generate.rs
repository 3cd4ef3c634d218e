//! `dnsledger completions` and `dnsledger man`: shell completion scripts and man pages generated
//! from the command-line definition itself (`clap_complete`, `clap_mangen`), so they never
//! drift from the flags the binary accepts. The Debian package ships both.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

/// `dnsledger completions SHELL`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
EXAMPLES:
  dnsledger completions bash > /etc/bash_completion.d/dnsledger
  dnsledger completions zsh > \"${fpath[1]}/_dnsledger\"
  dnsledger completions fish > ~/.config/fish/completions/dnsledger.fish")]
pub struct CompletionsArgs {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// `dnsledger man DIR`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Directory to write `dnsledger.1` and `dnsledger-<command>.1` into (created if missing).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// Prints the completion script for `a.shell` to standard output.
pub fn completions<C: CommandFactory>(a: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = C::command();
    clap_complete::generate(a.shell, &mut cmd, "dnsledger", &mut std::io::stdout().lock());
    Ok(ExitCode::SUCCESS)
}

/// Writes one man page per command (and nested subcommand) into `a.dir`.
pub fn man<C: CommandFactory>(a: ManArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let cmd = C::command().name("dnsledger");
    let n = write_pages(&cmd, &a.dir)?;
    eprintln!("dnsledger: wrote {n} man pages into {}", a.dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Renders `cmd` and its subcommands as `<name>.1` files; returns how many were written.
fn write_pages(cmd: &clap::Command, dir: &std::path::Path) -> anyhow::Result<usize> {
    let mut cmd = cmd.clone();
    cmd.build();
    write_tree(&cmd, cmd.get_name().to_string(), dir)
}

/// Writes the page of `cmd` (named `name`) and recurses into its subcommands.
fn write_tree(cmd: &clap::Command, name: String, dir: &std::path::Path) -> anyhow::Result<usize> {
    let page = cmd.clone().name(name.clone());
    let mut buf = Vec::new();
    clap_mangen::Man::new(page).render(&mut buf).with_context(|| format!("rendering the man page of {name}"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    let mut n = 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        n += write_tree(sub, format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    #[command(name = "demo", version = "1.0")]
    struct Demo {
        #[command(subcommand)]
        cmd: Sub,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        /// First thing.
        One {
            /// A flag.
            #[arg(long)]
            fast: bool,
        },
        /// Second thing.
        Two,
    }

    #[test]
    fn one_page_per_command_with_its_options() {
        let dir = tempfile::tempdir().unwrap();
        let n = write_pages(&Demo::command(), dir.path()).unwrap();
        assert_eq!(n, 3);
        let one = std::fs::read_to_string(dir.path().join("demo-one.1")).unwrap();
        assert!(one.contains(".TH demo-one"), "{one}");
        assert!(one.contains("fast"), "{one}");
        assert!(dir.path().join("demo-two.1").exists());
        assert!(!dir.path().join("demo-help.1").exists());
    }
}
