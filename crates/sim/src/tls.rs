//! TLS on the simulator's one port.
//!
//! Entra's token endpoint and the CI systems' OIDC endpoints are `https` only, and so are the
//! clients that talk to them (azure_identity refuses an authority host that is not `https`).
//! So the simulator answers TLS on the same port as plain HTTP: a connection whose first byte
//! is a TLS handshake record (`0x16`) is served over TLS, any other as plain HTTP.
//!
//! At start it makes a throwaway certificate authority and a server certificate signed by it
//! for `127.0.0.1`, `::1`, `localhost` and the bound address, both with fresh ECDSA P-256 keys
//! that live only in memory. Clients trust the simulator only when told to: the CA certificate
//! is available as PEM from [`crate::SimHandle::ca_pem`] and `aib sim --ca-file FILE`, for a
//! client's extra trust anchors (aib's `AIB_CA_FILE`).

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// The first byte of a TLS record carrying a handshake (a ClientHello starts every TLS
/// connection with it; no HTTP method starts with it).
pub const HANDSHAKE_RECORD: u8 = 0x16;

/// The simulator's certificate authority and the acceptor that serves its server certificate.
#[derive(Clone)]
pub struct SimTls {
    ca_pem: String,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for SimTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTls").finish_non_exhaustive()
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make the simulator's certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot configure TLS: {0}")]
    Config(#[from] rustls::Error),
}

impl SimTls {
    /// A new CA and a server certificate for the loopback names and `host` (the bound
    /// address, e.g. `192.0.2.7` when listening on a LAN address).
    pub fn new(host: &str) -> Result<Self, TlsError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "aib simulator CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let mut names = vec![
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "localhost".to_string(),
        ];
        if !host.is_empty() && !names.iter().any(|n| n == host) {
            names.push(host.to_string());
        }
        let mut params = CertificateParams::new(names)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "aib simulator");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca)?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            ca_pem: ca.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The CA certificate (PEM) a client must trust to talk to the simulator over `https`.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The acceptor for connections that start with a TLS handshake.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}
