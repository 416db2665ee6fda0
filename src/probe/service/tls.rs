//! TLS check: a real handshake with the name the world will use (SNI), and a verdict on
//! the certificate the server presents: trusted, for that name, within its dates, and how
//! long it has left.
//!
//! A normal TLS client stops at the first problem and shows nothing of the certificate.
//! On move day the operator needs to see it anyway ("it is the old self-signed one", "it
//! is for the other vhost"), so the handshake runs with a verifier that runs the standard
//! WebPKI checks, records their result and the chain, and accepts. The connection is used
//! for nothing else: no application data is sent over it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::DateTime;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{CryptoProvider, aws_lc_rs, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore,
    SignatureScheme,
};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

use super::{CertInfo, ServiceResult, ServiceState};
use crate::probe::ports;
use crate::sanitize::sanitize;

/// Characters of a name or an error from a certificate or a TLS library shown.
const TEXT_CHARS: usize = 160;

/// Names of the certificate listed in a name-mismatch error before `+N more`.
const NAMES_SHOWN: usize = 3;

/// The trust roots certificates are checked against.
///
/// [`TlsTrust::system`] is the machine's store (what browsers and curl on this machine
/// trust), loaded once per process. [`TlsTrust::with_extra_roots`] adds roots to it, for a
/// private CA or a test's own CA; nothing else weakens the check.
#[derive(Clone)]
pub struct TlsTrust {
    inner: Arc<Trust>,
}

struct Trust {
    roots: RootCertStore,
    /// Why the store is empty, when it is (shown with every untrusted verdict).
    note: Option<String>,
}

impl TlsTrust {
    /// The system's trust store (via `rustls-native-certs`; `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR` are honoured). The first call reads the store from disk and blocks
    /// for a few milliseconds; later calls are free.
    pub fn system() -> TlsTrust {
        SYSTEM.get_or_init(load_system).clone()
    }

    /// The system store if it has been loaded already (no blocking).
    pub(crate) fn system_if_loaded() -> Option<TlsTrust> {
        SYSTEM.get().cloned()
    }

    /// The system store plus `extra` roots (DER certificates). Fails on a root that cannot
    /// be used as a trust anchor.
    pub fn with_extra_roots(
        extra: impl IntoIterator<Item = CertificateDer<'static>>,
    ) -> Result<TlsTrust, String> {
        let system = TlsTrust::system();
        let mut roots = system.inner.roots.clone();
        for (i, der) in extra.into_iter().enumerate() {
            roots
                .add(der)
                .map_err(|e| format!("extra trust root #{}: {e}", i + 1))?;
        }
        Ok(TlsTrust {
            inner: Arc::new(Trust { roots, note: None }),
        })
    }

    /// No roots, because they could not be loaded: every certificate is untrusted, and
    /// the verdict says why.
    pub fn empty_because(why: &str) -> TlsTrust {
        TlsTrust {
            inner: Arc::new(Trust {
                roots: RootCertStore::empty(),
                note: Some(crate::sanitize::sanitize(why, 160)),
            }),
        }
    }

    /// No roots at all: nothing is trusted (used where no certificate is checked).
    pub(crate) fn empty() -> TlsTrust {
        TlsTrust {
            inner: Arc::new(Trust {
                roots: RootCertStore::empty(),
                note: Some("no trust roots loaded".into()),
            }),
        }
    }

    /// A TLS client configuration that trusts these roots, for the HTTP clients (ALPN
    /// offers h2 and http/1.1). Built once and shared: a client built by reqwest itself
    /// would load the system's store again, for every one of hundreds of clients.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| sanitize(&e.to_string(), TEXT_CHARS))?
            .with_root_certificates(self.inner.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// Number of trust anchors.
    pub fn len(&self) -> usize {
        self.inner.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.roots.is_empty()
    }
}

impl fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTrust")
            .field("roots", &self.inner.roots.len())
            .field("note", &self.inner.note)
            .finish()
    }
}

static SYSTEM: OnceLock<TlsTrust> = OnceLock::new();

fn load_system() -> TlsTrust {
    let loaded = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    let note = (added == 0).then(|| {
        let why = loaded
            .errors
            .first()
            .map(|e| format!(" ({})", sanitize(&e.to_string(), TEXT_CHARS)))
            .unwrap_or_default();
        format!("no trusted roots on this machine{why}")
    });
    TlsTrust {
        inner: Arc::new(Trust { roots, note }),
    }
}

/// The crypto provider, chosen explicitly rather than relying on a process default.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(aws_lc_rs::default_provider()))
        .clone()
}

/// Handshakes with `ip:port` as `server_name` and judges the certificate.
#[allow(clippy::too_many_arguments)]
pub(super) async fn probe(
    ip: IpAddr,
    port: u16,
    server_name: &str,
    warn_days: u32,
    timeout: Duration,
    deadline: Instant,
    now: SystemTime,
    trust: &TlsTrust,
) -> ServiceResult {
    let started = Instant::now();
    let name = match ServerName::try_from(server_name.to_string()) {
        Ok(name) => name,
        Err(_) => {
            return ServiceResult::fail(
                format!(
                    "invalid TLS server name \"{}\"",
                    sanitize(server_name, TEXT_CHARS)
                ),
                "TLS check not run",
                Duration::ZERO,
            );
        }
    };
    let recorder = Arc::new(Recorder {
        trust: trust.clone(),
        provider: provider(),
        now: unix_time(now),
        seen: Mutex::new(None),
    });
    let config = match ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth(),
        Err(e) => {
            return ServiceResult::fail(
                format!(
                    "cannot set up TLS: {}",
                    sanitize(&e.to_string(), TEXT_CHARS)
                ),
                "TLS check not run",
                Duration::ZERO,
            );
        }
    };

    let stream = match ports::connect_by(SocketAddr::new(ip, port), deadline, timeout).await {
        Ok(stream) => stream,
        Err(f) => {
            return ServiceResult::fail(
                f.error,
                format!("port {port} {}", f.state.word()),
                started.elapsed(),
            );
        }
    };
    let connector = TlsConnector::from(Arc::new(config));
    let handshake = match tokio::time::timeout_at(deadline, connector.connect(name, stream)).await {
        Ok(Ok(mut tls)) => {
            let version = tls.get_ref().1.protocol_version();
            // A polite close_notify; the peer's answer is not waited for.
            let _ = tokio::time::timeout_at(deadline, tls.shutdown()).await;
            Ok(version)
        }
        Ok(Err(e)) => Err(format!(
            "TLS handshake failed: {}",
            sanitize(&e.to_string(), TEXT_CHARS)
        )),
        Err(_) => Err(format!(
            "timeout: no TLS handshake in {}",
            ports::fmt_timeout(timeout)
        )),
    };
    let latency = started.elapsed();
    let seen = recorder.seen.lock().ok().and_then(|mut s| s.take());
    judge_result(seen, handshake, server_name, warn_days, now, latency)
}

/// Turns what the verifier saw and how the handshake ended into a state and its words.
fn judge_result(
    seen: Option<Seen>,
    handshake: Result<Option<ProtocolVersion>, String>,
    server_name: &str,
    warn_days: u32,
    now: SystemTime,
    latency: Duration,
) -> ServiceResult {
    let Some(seen) = seen else {
        // The handshake ended before a certificate arrived (plain text on the port, no
        // common protocol version, an alert from the server).
        let error = handshake
            .err()
            .unwrap_or_else(|| "no certificate received".into());
        return ServiceResult::fail(error, "no certificate", latency);
    };
    let leaf = match seen.leaf {
        Ok(leaf) => leaf,
        Err(e) => {
            return ServiceResult::fail(
                format!("unreadable certificate: {e}"),
                "bad certificate",
                latency,
            );
        }
    };
    let now_secs = unix_secs(now);
    let days_left = (leaf.not_after - now_secs).div_euclid(86_400);
    let verdict = seen.verdict;
    let (expiry, mut problems) = certificate_problems(&leaf, &verdict, server_name, now_secs);
    if let Err(e) = &handshake {
        problems.push(e.clone());
    }

    let (state, error) = if !problems.is_empty() {
        (ServiceState::Fail, Some(problems.join("; ")))
    } else if days_left < i64::from(warn_days) {
        (
            ServiceState::Warn,
            Some(format!(
                "certificate expires in {} ({}), within warn_days {warn_days}",
                days_or_span(leaf.not_after - now_secs),
                date(leaf.not_after)
            )),
        )
    } else {
        (ServiceState::Ok, None)
    };

    let issuer = if leaf.self_signed {
        "self-signed".to_string()
    } else {
        format!("issuer {}", leaf.issuer_short)
    };
    let mut detail = vec![expiry, issuer];
    if let Ok(Some(version)) = handshake {
        detail.push(version_word(version));
    }
    ServiceResult {
        smtp_names: None,
        command: None,
        state,
        detail: detail.join(" · "),
        error,
        latency,
        age: None,
        cert: Some(Box::new(CertInfo {
            subject: leaf.subject,
            issuer: leaf.issuer,
            not_after: system_time(leaf.not_after),
            days_left,
            name_matches: verdict.name_matches,
            trusted: verdict.trusted,
            chain_error: verdict.chain_error,
        })),
    }
}

/// What is wrong with the certificate at `now_secs` for `server_name` (out of its dates,
/// for another name, untrusted), and the detail line saying when it expires (or expired).
fn certificate_problems(
    leaf: &Leaf,
    verdict: &Verdict,
    server_name: &str,
    now_secs: i64,
) -> (String, Vec<String>) {
    let mut problems: Vec<String> = Vec::new();
    let expiry = if now_secs > leaf.not_after {
        let ago = format!(
            "expired {} ago ({})",
            days_or_span(now_secs - leaf.not_after),
            date(leaf.not_after)
        );
        problems.push(format!("certificate {ago}"));
        format!("cert {ago}")
    } else {
        format!(
            "cert expires in {} ({})",
            days_or_span(leaf.not_after - now_secs),
            date(leaf.not_after)
        )
    };
    if now_secs < leaf.not_before {
        problems.push(format!(
            "certificate not valid before {}",
            date(leaf.not_before)
        ));
    }
    if !verdict.name_matches {
        problems.push(format!(
            "certificate is for {}, not {}",
            names_text(&leaf.names),
            sanitize(server_name, TEXT_CHARS)
        ));
    }
    if !verdict.trusted {
        problems.push(format!("untrusted: {}", verdict.untrusted_reason(leaf)));
    }
    (expiry, problems)
}

/// What the verifier saw during the handshake.
struct Seen {
    leaf: Result<Leaf, String>,
    verdict: Verdict,
}

/// The fields of the end-entity certificate the operator reads (sanitized).
struct Leaf {
    subject: String,
    issuer: String,
    /// The issuer's CN (or O), for a short line.
    issuer_short: String,
    not_before: i64,
    not_after: i64,
    /// DNS and IP subject alternative names, or the subject CN when there are none.
    names: Vec<String>,
    self_signed: bool,
}

struct Verdict {
    /// The standard verification's error at `now` for the name asked, described.
    chain_error: Option<String>,
    /// What kind of chain error, for the `untrusted:` reason.
    unknown_issuer: bool,
    trusted: bool,
    name_matches: bool,
    /// When there are no roots at all, why.
    note: Option<String>,
}

impl Verdict {
    fn untrusted_reason(&self, leaf: &Leaf) -> String {
        let reason = if self.unknown_issuer && leaf.self_signed {
            "self-signed".to_string()
        } else if self.unknown_issuer {
            format!(
                "unknown issuer {} (intermediate missing?)",
                leaf.issuer_short
            )
        } else {
            self.chain_error
                .clone()
                .unwrap_or_else(|| "chain not verified".into())
        };
        match &self.note {
            Some(note) => format!("{reason}; {note}"),
            None => reason,
        }
    }
}

/// A verifier that records the standard verification's verdict and the leaf, and accepts
/// the certificate whatever the verdict. Handshake signatures are still verified for real:
/// the server must hold the certificate's key.
struct Recorder {
    trust: TlsTrust,
    provider: Arc<CryptoProvider>,
    /// The probe's `now`, so the verdict matches `days_left`.
    now: UnixTime,
    seen: Mutex<Option<Seen>>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("trust", &self.trust)
            .finish()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let leaf = parse_leaf(end_entity.as_ref());
        let verdict = verify(
            &self.trust,
            &self.provider,
            end_entity,
            intermediates,
            server_name,
            self.now,
            leaf.as_ref().ok(),
        );
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(Seen { leaf, verdict });
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The WebPKI verification (chain to a trusted root at `now`, then the name), split so
/// that trust, dates and name can be told apart.
fn verify(
    trust: &TlsTrust,
    provider: &CryptoProvider,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    now: UnixTime,
    leaf: Option<&Leaf>,
) -> Verdict {
    let note = trust.inner.note.clone();
    let parsed = match ParsedCertificate::try_from(end_entity) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Verdict {
                chain_error: Some(describe(&e)),
                unknown_issuer: false,
                trusted: false,
                name_matches: false,
                note,
            };
        }
    };
    let algs = provider.signature_verification_algorithms.all;
    let roots = &trust.inner.roots;
    let chain = verify_server_cert_signed_by_trust_anchor(&parsed, roots, intermediates, now, algs);
    let name = verify_server_name(&parsed, server_name);
    let trusted = match &chain {
        Ok(()) => true,
        Err(rustls::Error::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        )) => {
            // Merely outside its dates: is the chain good at a time the leaf was valid?
            leaf.is_some_and(|leaf| {
                let now_secs = now.as_secs() as i64;
                let at = if now_secs > leaf.not_after {
                    leaf.not_after
                } else {
                    leaf.not_before
                };
                let at = UnixTime::since_unix_epoch(Duration::from_secs(at.max(0) as u64));
                verify_server_cert_signed_by_trust_anchor(&parsed, roots, intermediates, at, algs)
                    .is_ok()
            })
        }
        Err(_) => false,
    };
    let unknown_issuer = matches!(
        chain,
        Err(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        ))
    );
    Verdict {
        chain_error: chain.err().or(name.clone().err()).map(|e| describe(&e)),
        unknown_issuer,
        trusted,
        name_matches: name.is_ok(),
        note,
    }
}

/// A verification error in a few words.
fn describe(e: &rustls::Error) -> String {
    use CertificateError as C;
    let text = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "unknown issuer".to_string(),
            C::Expired | C::ExpiredContext { .. } => "expired".to_string(),
            C::NotValidYet | C::NotValidYetContext { .. } => "not yet valid".to_string(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "not valid for the name".to_string()
            }
            C::BadSignature => "bad signature".to_string(),
            C::Revoked => "revoked".to_string(),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "not for server authentication".to_string()
            }
            C::BadEncoding => "malformed certificate".to_string(),
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    };
    sanitize(&text, TEXT_CHARS)
}

fn parse_leaf(der: &[u8]) -> Result<Leaf, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| sanitize(&e.to_string(), TEXT_CHARS))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => names.push(sanitize(n, TEXT_CHARS)),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    if names.is_empty() {
        names.extend(common_name(cert.subject()));
    }
    let validity = cert.validity();
    Ok(Leaf {
        subject: sanitize(&cert.subject().to_string(), TEXT_CHARS),
        issuer: sanitize(&cert.issuer().to_string(), TEXT_CHARS),
        issuer_short: short_name(cert.issuer()),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        names,
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
    })
}

fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(|cn| sanitize(cn, TEXT_CHARS))
}

/// The CN, else the O, else the whole name.
fn short_name(name: &X509Name<'_>) -> String {
    common_name(name)
        .or_else(|| {
            name.iter_organization()
                .next()
                .and_then(|o| o.as_str().ok())
                .map(|o| sanitize(o, TEXT_CHARS))
        })
        .unwrap_or_else(|| {
            let full = name.to_string();
            if full.is_empty() {
                "(empty)".to_string()
            } else {
                sanitize(&full, TEXT_CHARS)
            }
        })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn names_text(names: &[String]) -> String {
    if names.is_empty() {
        return "no name".to_string();
    }
    let mut text = names
        .iter()
        .take(NAMES_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMES_SHOWN {
        text.push_str(&format!(" +{} more", names.len() - NAMES_SHOWN));
    }
    text
}

/// `9 days`, `1 day`, or below a day the hours and minutes (`5h 3m`).
fn days_or_span(secs: i64) -> String {
    let secs = secs.max(0);
    match secs / 86_400 {
        0 => super::span(Duration::from_secs(secs as u64)),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

fn date(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("@{unix}"))
}

fn version_word(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        other => format!("{other:?}"),
    }
}

fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn unix_time(t: SystemTime) -> UnixTime {
    UnixTime::since_unix_epoch(t.duration_since(UNIX_EPOCH).unwrap_or_default())
}

fn system_time(unix: i64) -> SystemTime {
    if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix as u64)
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(unix.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_counts_read_naturally() {
        assert_eq!(days_or_span(9 * 86_400 + 5), "9 days");
        assert_eq!(days_or_span(86_400), "1 day");
        assert_eq!(days_or_span(5 * 3600 + 180), "5h 3m");
        assert_eq!(date(0), "1970-01-01");
    }

    #[test]
    fn many_names_are_shortened() {
        let names: Vec<String> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names_text(&names), "a, b, c +2 more");
        assert_eq!(names_text(&[]), "no name");
    }
}
