//! The demo's own certificate authority and the server certificates it issues, made at
//! start with rcgen: nothing is read from or written to disk, and only a process that
//! trusts [`DemoCa::der`] (the demo's `ProbeEnv`) accepts them.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA's name, as the certificate checks show it (`issuer ...`).
pub const CA_NAME: &str = "moveday demo CA";

/// A certificate authority that lives as long as the demo.
pub struct DemoCa {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

impl DemoCa {
    pub fn new() -> anyhow::Result<DemoCa> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, CA_NAME);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = SystemTime::now();
        set_validity(&mut params, now - days(365), now + days(365));
        let key = KeyPair::generate().context("demo: cannot make the CA's key")?;
        let cert = params
            .self_signed(&key)
            .context("demo: cannot make the CA")?;
        Ok(DemoCa {
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA's certificate, to be trusted by the demo's probes.
    pub fn der(&self) -> CertificateDer<'static> {
        self.der.clone()
    }

    /// A TLS server configuration with a certificate for `names` (the first is also the
    /// common name), valid from `not_before` to `not_after`, issued by this CA.
    pub fn server_config(
        &self,
        names: &[&str],
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = DistinguishedName::new();
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        set_validity(&mut params, not_before, not_after);
        let key = KeyPair::generate().context("demo: cannot make a server key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("demo: cannot issue a server certificate")?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)?;
        Ok(Arc::new(config))
    }
}

pub fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// Sets the certificate's dates (whole seconds, UTC) without naming the `time` crate.
fn set_validity(params: &mut CertificateParams, not_before: SystemTime, not_after: SystemTime) {
    let since_epoch = |t: SystemTime| {
        Duration::from_secs(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
    };
    params.not_before = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(not_before);
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch(not_after);
}
