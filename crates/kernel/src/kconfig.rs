//! The running kernel's build configuration (`CONFIG_*`) and version, as libbpf gives them to
//! `__kconfig` externs: the config from `/boot/config-<release>`, else `/proc/config.gz`;
//! `LINUX_KERNEL_VERSION` from the release string `uname -r` reports.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::KernelError;

/// Where the compressed config of the running kernel is, when CONFIG_IKCONFIG_PROC is on.
const PROC_CONFIG: &str = "/proc/config.gz";

/// `CONFIG_NAME` → its raw value as the config file writes it: `y`, `m`, `250`, `0x10`,
/// `"a string"` (options that are not set are absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kconfig {
    values: HashMap<String, String>,
    /// The file the values came from, for messages.
    pub source: PathBuf,
}

impl Kconfig {
    /// Reads the running kernel's config.
    pub fn read() -> Result<Kconfig, KernelError> {
        let boot = PathBuf::from(format!("/boot/config-{}", release()?));
        if let Ok(text) = std::fs::read_to_string(&boot) {
            return Ok(Kconfig::parse(&text, boot));
        }
        let path = PathBuf::from(PROC_CONFIG);
        let io = |source| KernelError::Io {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => io(std::io::Error::new(
                e.kind(),
                format!(
                    "the kernel's config is in neither {} nor {PROC_CONFIG}",
                    boot.display()
                ),
            )),
            _ => io(e),
        })?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .map_err(io)?;
        Ok(Kconfig::parse(&text, path))
    }

    /// Parses the text of a config file (`CONFIG_X=value` lines; comments ignored).
    pub fn parse(text: &str, source: impl AsRef<Path>) -> Kconfig {
        let values = text
            .lines()
            .filter(|l| l.starts_with("CONFIG_"))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Kconfig {
            values,
            source: source.as_ref().to_path_buf(),
        }
    }

    /// The raw value of `CONFIG_NAME` (the full name, prefix included).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// The kernel release (`uname -r`), e.g. `6.18.44-fc-v669`.
pub fn release() -> Result<String, KernelError> {
    // SAFETY: utsname is plain bytes; uname fills it or fails.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } != 0 {
        return Err(KernelError::Io {
            path: PathBuf::from("uname()"),
            source: std::io::Error::last_os_error(),
        });
    }
    let bytes: Vec<u8> = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `KERNEL_VERSION(a, b, c)` of a release string, the sublevel capped at 255 as the kernel's
/// own macro does since 4.9.256; `None` when it does not start with `a.b`.
pub fn version_code(release: &str) -> Option<u32> {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let sub = parts.next().flatten().unwrap_or(0).min(255);
    Some((major << 16) | (minor.min(255) << 8) | sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines_and_versions() {
        let k = Kconfig::parse(
            "# comment\nCONFIG_HZ=250\nCONFIG_BPF=y\n# CONFIG_FOO is not set\nCONFIG_S=\"a b\"\n",
            "<test>",
        );
        assert_eq!(k.get("CONFIG_HZ"), Some("250"));
        assert_eq!(k.get("CONFIG_BPF"), Some("y"));
        assert_eq!(k.get("CONFIG_S"), Some("\"a b\""));
        assert_eq!(k.get("CONFIG_FOO"), None);
        assert_eq!(version_code("6.18.44-fc-v669"), Some(0x06122c));
        assert_eq!(version_code("4.9.337"), Some(0x0409ff));
        assert_eq!(version_code("6.1"), Some(0x060100));
        assert_eq!(version_code("x"), None);
    }
}
