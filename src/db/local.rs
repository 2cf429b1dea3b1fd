//! The zero-configuration database: a private PostgreSQL cluster in a directory of the project,
//! created and started from the installed PostgreSQL binaries when `DATABASE_URL` is unset.
//!
//! It listens on 127.0.0.1 only, trusts local connections (it is for development, demos and
//! tests) and keeps running after Switchboard exits, so the next start is instant. Stop it with
//! `switchboard local-db stop`.
//!
//! PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user (or
//! `nobody`) and its commands run through `runuser`.

use std::{
    fs::{self, File},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use sha2::Digest;

use crate::config::DatabaseUrl;

const SUPERUSER: &str = "switchboard";
const DATABASE: &str = "switchboard";

/// A private cluster: data directory and port.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    data_dir: PathBuf,
    port: u16,
}

/// The OS user the cluster runs as, when we are root.
#[derive(Debug, Clone)]
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
}

impl LocalCluster {
    pub fn new(data_dir: &Path, port: u16) -> Self {
        LocalCluster {
            data_dir: data_dir.to_path_buf(),
            port,
        }
    }

    /// The URL of the cluster's default database.
    pub fn url(&self) -> DatabaseUrl {
        self.url_for(DATABASE)
    }

    pub fn url_for(&self, database: &str) -> DatabaseUrl {
        DatabaseUrl::new(format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{database}",
            self.port
        ))
    }

    /// Creates the cluster if needed, starts it if it is not running, creates the database,
    /// and returns its URL. Safe to call from several processes at once (a file lock
    /// serialises them).
    pub fn ensure_running(&self) -> anyhow::Result<DatabaseUrl> {
        let parent = self.parent_dir()?;
        fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let lock_path = parent.join(".postgres.lock");
        let lock = File::create(&lock_path)
            .with_context(|| format!("cannot create {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;

        let bin = find_bin_dir()?;
        let run_as = run_as_user()?;
        if !self.data_dir.join("PG_VERSION").exists() {
            self.init(&bin, run_as.as_ref())?;
        }
        if !self.is_running(&bin, run_as.as_ref())? {
            self.start(&bin, run_as.as_ref())?;
        }
        self.wait_ready(&bin, run_as.as_ref())?;
        self.create_database(&bin, run_as.as_ref())?;
        Ok(self.url())
    }

    /// Stops the cluster if it runs.
    pub fn stop(&self) -> anyhow::Result<bool> {
        let bin = find_bin_dir()?;
        let run_as = run_as_user()?;
        if !self.data_dir.join("PG_VERSION").exists() || !self.is_running(&bin, run_as.as_ref())? {
            return Ok(false);
        }
        let data_dir = self.data_dir_arg()?;
        let out = pg_command(&bin, "pg_ctl", run_as.as_ref())
            .args(["-D", &data_dir, "-m", "fast", "-w", "stop"])
            .output()
            .context("cannot run pg_ctl")?;
        check(&out, "pg_ctl stop")?;
        Ok(true)
    }

    fn parent_dir(&self) -> anyhow::Result<PathBuf> {
        let absolute = std::path::absolute(&self.data_dir)
            .with_context(|| format!("bad LOCAL_PG_DIR {}", self.data_dir.display()))?;
        Ok(absolute
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/")))
    }

    /// The path handed to PostgreSQL's tools: symlinks resolved, since the cluster's user may
    /// not be able to follow the project's own path (see `relocate_for`).
    fn data_dir_arg(&self) -> anyhow::Result<String> {
        let path =
            fs::canonicalize(&self.data_dir).or_else(|_| std::path::absolute(&self.data_dir))?;
        Ok(path.to_string_lossy().into_owned())
    }

    /// The project sits below a directory the cluster's user cannot enter (a checkout under
    /// /root, say): keep the data in /var/tmp and leave a symlink at the configured place, so
    /// the cluster still belongs to this project and is found there next time.
    fn relocate_for(&self, user: &RunAs) -> anyhow::Result<()> {
        let absolute = std::path::absolute(&self.data_dir)?;
        let digest = sha2::Sha256::digest(absolute.to_string_lossy().as_bytes());
        let target = PathBuf::from(format!(
            "/var/tmp/switchboard-postgres-{}",
            &hex::encode(digest)[..16]
        ));
        tracing::info!(target = %target.display(), "the PostgreSQL user cannot reach the project directory; keeping the cluster's data in /var/tmp");
        fs::remove_dir(&self.data_dir)?;
        fs::create_dir_all(&target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o700))?;
        std::os::unix::fs::chown(&target, Some(user.uid), Some(user.gid))?;
        std::os::unix::fs::symlink(&target, &self.data_dir).with_context(|| {
            format!(
                "cannot link {} to {}",
                self.data_dir.display(),
                target.display()
            )
        })?;
        if !is_reachable(&target, user)? {
            bail!(
                "the PostgreSQL user `{}` cannot use {}. Set LOCAL_PG_DIR to a directory it can \
                 reach, or DATABASE_URL to a running server",
                user.name,
                target.display()
            );
        }
        Ok(())
    }

    fn init(&self, bin: &Path, run_as: Option<&RunAs>) -> anyhow::Result<()> {
        tracing::info!(dir = %self.data_dir.display(), "creating a private PostgreSQL cluster");
        fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create {}", self.data_dir.display()))?;
        fs::set_permissions(&self.data_dir, fs::Permissions::from_mode(0o700))?;
        if let Some(user) = run_as {
            std::os::unix::fs::chown(&self.data_dir, Some(user.uid), Some(user.gid))?;
            if !is_reachable(&self.data_dir, user)? {
                self.relocate_for(user)?;
            }
        }
        let data_dir = self.data_dir_arg()?;
        let out = pg_command(bin, "initdb", run_as)
            .args([
                "-D",
                &data_dir,
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ])
            .output()
            .context("cannot run initdb")?;
        check(&out, "initdb")?;
        // Settings for a development server: TCP on loopback only, no socket file (its path
        // could exceed the 107-byte limit inside deep project directories).
        let conf = format!(
            "\n# added by switchboard\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = ''\nmax_connections = 200\nlogging_collector = off\n",
            self.port
        );
        let conf_path = self.data_dir.join("postgresql.conf");
        let mut existing = fs::read_to_string(&conf_path)?;
        existing.push_str(&conf);
        fs::write(&conf_path, existing)?;
        Ok(())
    }

    fn is_running(&self, bin: &Path, run_as: Option<&RunAs>) -> anyhow::Result<bool> {
        let data_dir = self.data_dir_arg()?;
        let out = pg_command(bin, "pg_ctl", run_as)
            .args(["-D", &data_dir, "status"])
            .output()
            .context("cannot run pg_ctl")?;
        Ok(out.status.success())
    }

    fn start(&self, bin: &Path, run_as: Option<&RunAs>) -> anyhow::Result<()> {
        tracing::info!(port = self.port, dir = %self.data_dir.display(), "starting the private PostgreSQL cluster");
        let data_dir = self.data_dir_arg()?;
        let log = format!("{data_dir}/server.log");
        // The port asked for now, not the one written into the configuration at initdb: a
        // cluster made under another LOCAL_PG_PORT (the tests take a free one under CI) would
        // otherwise come up where nobody looks for it.
        let port_option = format!("-p {}", self.port);
        let out = pg_command(bin, "pg_ctl", run_as)
            .args([
                "-D",
                &data_dir,
                "-l",
                &log,
                "-o",
                &port_option,
                "-w",
                "-t",
                "60",
                "start",
            ])
            .output()
            .context("cannot run pg_ctl")?;
        check(&out, "pg_ctl start").with_context(|| {
            format!(
                "the private PostgreSQL cluster did not start (is port {} taken? see {log})",
                self.port
            )
        })
    }

    fn wait_ready(&self, bin: &Path, run_as: Option<&RunAs>) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = self.port.to_string();
        loop {
            let out = pg_command(bin, "pg_isready", run_as)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    SUPERUSER,
                    "-d",
                    "postgres",
                ])
                .output()
                .context("cannot run pg_isready")?;
            if out.status.success() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the private PostgreSQL cluster on port {port} is not accepting connections");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn create_database(&self, bin: &Path, run_as: Option<&RunAs>) -> anyhow::Result<()> {
        let port = self.port.to_string();
        let exists = pg_command(bin, "psql", run_as)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
                "-tAc",
            ])
            .arg(format!(
                "SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
            ))
            .output()
            .context("cannot run psql")?;
        check(&exists, "psql")?;
        if String::from_utf8_lossy(&exists.stdout).trim() == "1" {
            return Ok(());
        }
        let out = pg_command(bin, "createdb", run_as)
            .args(["-h", "127.0.0.1", "-p", &port, "-U", SUPERUSER, DATABASE])
            .output()
            .context("cannot run createdb")?;
        check(&out, "createdb")
    }
}

/// The newest installed PostgreSQL's binaries: `PG_BIN_DIR`, Debian's
/// `/usr/lib/postgresql/<version>/bin`, or `initdb` on the PATH.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
                return Ok(dir);
            }
        }
    }
    bail!(
        "DATABASE_URL is not set and no PostgreSQL server binaries were found to start a private \
         cluster: install them (Debian/Ubuntu: `apt-get install postgresql`), set PG_BIN_DIR, or \
         set DATABASE_URL to a running server"
    )
}

/// `None` when we are not root; otherwise the unprivileged user that owns the cluster.
#[allow(unsafe_code, reason = "geteuid through libc")]
fn run_as_user() -> anyhow::Result<Option<RunAs>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").context("cannot read /etc/passwd")?;
    for wanted in ["postgres", "nobody"] {
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() >= 4 && fields[0] == wanted {
                let uid = fields[2].parse()?;
                let gid = fields[3].parse()?;
                return Ok(Some(RunAs {
                    name: wanted.to_owned(),
                    uid,
                    gid,
                }));
            }
        }
    }
    bail!(
        "running as root, PostgreSQL needs an unprivileged user (postgres or nobody) and neither exists"
    )
}

/// Whether the cluster's user can write the directory, reaching it through every parent.
fn is_reachable(dir: &Path, user: &RunAs) -> anyhow::Result<bool> {
    let out = Command::new("runuser")
        .args(["-u", &user.name, "--", "test", "-w"])
        .arg(dir)
        .current_dir("/")
        .output()
        .context("cannot run runuser")?;
    Ok(out.status.success())
}

fn pg_command(bin: &Path, program: &str, run_as: Option<&RunAs>) -> Command {
    let path = bin.join(program);
    let mut command = match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", &user.name, "--"]).arg(path);
            c
        }
        None => Command::new(path),
    };
    // The unprivileged user may not be able to read our working directory.
    command.current_dir("/");
    command
        .env_remove("PGDATABASE")
        .env_remove("PGUSER")
        .env_remove("PGHOST");
    command
}

fn check(out: &Output, what: &str) -> anyhow::Result<()> {
    if out.status.success() {
        return Ok(());
    }
    bail!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        String::from_utf8_lossy(&out.stdout).trim()
    )
}
