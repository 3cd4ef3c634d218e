//! Test certificates, made at test time with the `openssl` command line (Debian's `openssl`
//! package; scripts/deps.sh installs it): a CA, and server certificates it signs. No private
//! key is kept in the repository.

use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running openssl (scripts/deps.sh --test installs it)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A test certificate authority: its certificate (`NAME.pem`) and key in a directory.
pub struct Ca {
    /// The directory holding its files (and the certificates it issues).
    pub dir: PathBuf,
    /// The name its files start with.
    pub name: String,
    /// Its certificate (what clients get as `--ca-file`).
    pub pem: PathBuf,
}

impl Ca {
    /// Makes a new CA `name` (P-256, valid two days) in `dir`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        let key = format!("{name}.key");
        let pem = format!("{name}.pem");
        let subject = format!("/CN=dnsledger test CA {name}");
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &pem,
                "-days",
                "2",
                "-subj",
                &subject,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Ca { dir: dir.to_path_buf(), name: name.to_string(), pem: dir.join(pem) }
    }

    /// Issues a server certificate `name` for 127.0.0.1 and localhost, valid two days; returns
    /// (certificate, key).
    pub fn issue(&self, name: &str) -> (PathBuf, PathBuf) {
        self.issue_days(name, 2)
    }

    /// Issues a server certificate `name` valid `days` days; returns (certificate, key).
    pub fn issue_days(&self, name: &str, days: u32) -> (PathBuf, PathBuf) {
        let days = days.to_string();
        let (key, csr, pem, ext) =
            (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"), format!("{name}.ext"));
        std::fs::write(
            self.dir.join(&ext),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("writing the extensions file");
        openssl(
            &self.dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                "/CN=localhost",
            ],
        );
        let (ca_pem, ca_key) = (format!("{}.pem", self.name), format!("{}.key", self.name));
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                &days,
                "-extfile",
                &ext,
            ],
        );
        (self.dir.join(pem), self.dir.join(key))
    }
}

/// An HTTPS agent trusting `ca` (and the system's CAs), statuses as values.
pub fn agent(ca: &Path) -> ureq::Agent {
    dnsledger_tls::client::agent_config(Some(ca))
        .expect("CA file")
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}
