//! `LITELLM_PULSE_MQTT_*`: the broker, the discovery prefix, the base topic
//! and the certificate authority of a broker with a private certificate.
//!
//! The URL is taken as plain text by clap and parsed here, so that no error
//! message ever repeats it (it carries the password). The CA file is read
//! and checked here too, so a bad one stops start-up naming the file.

use std::fmt;
use std::path::{Path, PathBuf};

use reqwest::Url;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Where and how pulse publishes to Home Assistant.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttSettings {
    /// Broker host name or address.
    pub host: String,
    /// Broker port (1883 for `mqtt`, 8883 for `mqtts` unless given).
    pub port: u16,
    /// TLS (`mqtts://`), verified against the Mozilla root certificates or
    /// [`MqttSettings::ca_certs`].
    pub tls: bool,
    /// The certificates of `LITELLM_PULSE_MQTT_CA_FILE`: when given, the
    /// broker's certificate must chain to one of them (instead of the
    /// Mozilla roots).
    pub ca_certs: Vec<CertificateDer<'static>>,
    /// Where [`MqttSettings::ca_certs`] came from, for logs.
    pub ca_file: Option<PathBuf>,
    /// User name, percent-decoded (empty: none).
    pub username: String,
    /// Password, percent-decoded (empty: none). Never logged or shown.
    pub password: String,
    /// Home Assistant's discovery prefix (`homeassistant`).
    pub prefix: String,
    /// Pulse's own topics live under this (`litellm-pulse`).
    pub base_topic: String,
    /// The broker URL without credentials, for logs.
    pub shown: String,
}

impl fmt::Debug for MqttSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttSettings")
            .field("broker", &self.shown)
            .field(
                "username",
                &(!self.username.is_empty()).then_some("<redacted>"),
            )
            .field(
                "password",
                &(!self.password.is_empty()).then_some("<redacted>"),
            )
            .field("prefix", &self.prefix)
            .field("base_topic", &self.base_topic)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl MqttSettings {
    /// Resolves the options; `None` when the URL is empty (MQTT off). An
    /// error names the variable and says why, never quoting the URL.
    pub fn resolve(
        url: &str,
        prefix: &str,
        base_topic: &str,
        ca_file: Option<&Path>,
    ) -> Result<Option<MqttSettings>, (&'static str, String)> {
        let url = url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let bad = |reason: &str| ("LITELLM_PULSE_MQTT_URL", reason.to_owned());
        let parsed = Url::parse(url).map_err(|e| bad(&format!("not a URL ({e})")))?;
        let tls = match parsed.scheme() {
            "mqtt" => false,
            "mqtts" => true,
            _ => return Err(bad("the scheme must be mqtt:// or mqtts://")),
        };
        let host = match parsed.host_str() {
            Some(h) if !h.is_empty() => h.trim_matches(['[', ']']).to_owned(),
            _ => return Err(bad("the URL has no host")),
        };
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
            return Err(bad("expected mqtt[s]://[user:password@]host[:port] only"));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("the user name or password is not UTF-8 once decoded"))
        };
        let username = decode(parsed.username())?;
        let password = decode(parsed.password().unwrap_or(""))?;
        let port = parsed.port().unwrap_or(if tls { 8883 } else { 1883 });
        let prefix = topic_part("LITELLM_PULSE_MQTT_PREFIX", prefix)?;
        let base_topic = topic_part("LITELLM_PULSE_MQTT_BASE_TOPIC", base_topic)?;
        let ca_certs = match ca_file {
            None => Vec::new(),
            Some(_) if !tls => {
                return Err((
                    CA_FILE_VAR,
                    "only applies to mqtts:// (the URL is mqtt://, without TLS)".into(),
                ));
            }
            Some(path) => read_ca_file(path).map_err(|reason| (CA_FILE_VAR, reason))?,
        };
        Ok(Some(MqttSettings {
            host,
            port,
            tls,
            ca_certs,
            ca_file: ca_file.map(Path::to_owned),
            username,
            password,
            prefix,
            base_topic,
            shown: crate::config::redact_url(&parsed),
        }))
    }

    /// Replaces the credentials in `text` (an error from the MQTT client)
    /// with `<redacted>`, in case a library ever echoes them.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in [&self.password, &self.username] {
            if !secret.is_empty() {
                out = out.replace(secret.as_str(), "<redacted>");
            }
        }
        out
    }
}

/// The variable naming a private certificate authority.
const CA_FILE_VAR: &str = "LITELLM_PULSE_MQTT_CA_FILE";

/// The PEM certificates in `path`: at least one, each a certificate rustls
/// accepts as a trust anchor. The reason names the file.
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{shown}: not PEM certificates ({e})"))?;
    if certs.is_empty() {
        return Err(format!(
            "{shown} holds no certificate (expected -----BEGIN CERTIFICATE-----)"
        ));
    }
    let mut roots = rustls::RootCertStore::empty();
    let (_, ignored) = roots.add_parsable_certificates(certs.iter().cloned());
    if ignored > 0 {
        return Err(format!(
            "{shown}: {ignored} of {} certificates cannot be parsed",
            certs.len()
        ));
    }
    Ok(certs)
}

/// A topic prefix: not empty, no wildcards, no leading or trailing `/`.
fn topic_part(setting: &'static str, raw: &str) -> Result<String, (&'static str, String)> {
    let s = raw.trim();
    if s.is_empty() || s.starts_with('/') || s.ends_with('/') {
        return Err((
            setting,
            "must be a topic such as `homeassistant` (no leading or trailing /)".into(),
        ));
    }
    if s.contains(['+', '#', '\0']) || s.split('/').any(str::is_empty) {
        return Err((
            setting,
            "must not contain +, #, NUL or an empty level".into(),
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> MqttSettings {
        MqttSettings::resolve(url, "homeassistant", "litellm-pulse", None)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn an_empty_url_turns_mqtt_off() {
        assert_eq!(MqttSettings::resolve(" ", "x", "y", None), Ok(None));
    }

    #[test]
    fn urls_give_host_port_tls_and_decoded_credentials() {
        let s = ok("mqtt://ha%40home:p%3Ass%2Fw@broker.lan");
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("broker.lan", 1883, false)
        );
        assert_eq!(s.username, "ha@home");
        assert_eq!(s.password, "p:ss/w");
        assert_eq!(s.shown, "mqtt://broker.lan");
        let s = ok("mqtts://10.0.0.2:9883/");
        assert_eq!((s.host.as_str(), s.port, s.tls), ("10.0.0.2", 9883, true));
        assert_eq!(ok("mqtts://b").port, 8883);
        assert_eq!(ok("mqtt://[::1]:1884").host, "::1");
    }

    #[test]
    fn errors_never_repeat_the_url() {
        for url in [
            "http://user:hunter2@b:1883",
            "mqtt://user:hunter2@b:1883/topic",
            "mqtt://user:hunter2@b:1883?x=1",
            "mqtt://user:hunter2@b:99999",
            "mqtt://user:hunter2@",
        ] {
            let (setting, reason) =
                MqttSettings::resolve(url, "homeassistant", "litellm-pulse", None).unwrap_err();
            assert_eq!(setting, "LITELLM_PULSE_MQTT_URL");
            assert!(!reason.contains("hunter2"), "{url}: {reason}");
        }
    }

    #[test]
    fn debug_and_scrub_hide_the_credentials() {
        let s = ok("mqtt://homeuser:hunter2@b");
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("homeuser"),
            "{shown}"
        );
        assert_eq!(
            s.scrub("auth failed for homeuser/hunter2"),
            "auth failed for <redacted>/<redacted>"
        );
    }

    #[test]
    fn topics_without_wildcards_or_empty_levels() {
        for bad in ["", "/ha", "ha/", "a//b", "ha/#", "ha/+/x"] {
            assert!(
                MqttSettings::resolve("mqtt://b", bad, "litellm-pulse", None).is_err(),
                "{bad:?}"
            );
            assert!(
                MqttSettings::resolve("mqtt://b", "homeassistant", bad, None).is_err(),
                "{bad:?}"
            );
        }
        let s = MqttSettings::resolve("mqtt://b", "ha/disc", "home/pulse 2", None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (s.prefix.as_str(), s.base_topic.as_str()),
            ("ha/disc", "home/pulse 2")
        );
    }

    #[test]
    fn a_ca_file_must_hold_certificates_and_needs_mqtts() {
        let dir = tempfile::tempdir().unwrap();
        let resolve = |url: &str, path: &Path| {
            MqttSettings::resolve(url, "homeassistant", "litellm-pulse", Some(path))
        };
        let missing = dir.path().join("missing.pem");
        let (var, reason) = resolve("mqtts://u:hunter2@b", &missing).unwrap_err();
        assert_eq!(var, "LITELLM_PULSE_MQTT_CA_FILE");
        assert!(
            reason.starts_with("cannot read ") && reason.contains("missing.pem"),
            "{reason}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let (_, reason) = resolve("mqtts://b", &empty).unwrap_err();
        assert!(reason.contains("holds no certificate"), "{reason}");
        let junk = dir.path().join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let (_, reason) = resolve("mqtts://b", &junk).unwrap_err();
        assert!(reason.contains("cannot be parsed"), "{reason}");
        let (var, reason) = resolve("mqtt://u:hunter2@b", &junk).unwrap_err();
        assert_eq!(var, "LITELLM_PULSE_MQTT_CA_FILE");
        assert!(reason.contains("only applies to mqtts://") && !reason.contains("hunter2"));
    }
}
