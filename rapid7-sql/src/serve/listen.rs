//! Where the server listens, and whether it may: a non-loopback address
//! needs TLS and tokens.

use std::net::SocketAddr;
use std::path::Path;

use tonic::transport::{Identity, ServerTlsConfig};

use super::args::ServeArgs;

/// The one address `spec` (`HOST:PORT`) resolves to (the first, for a
/// name with several), and whether every address it resolves to is loopback.
pub(crate) async fn resolve(flag: &str, spec: &str) -> Result<(SocketAddr, bool), String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(spec)
        .await
        .map_err(|e| format!("{flag} {spec}: {e}; give HOST:PORT, e.g. 127.0.0.1:8815"))?
        .collect();
    let first = addrs
        .first()
        .copied()
        .ok_or_else(|| format!("{flag} {spec}: resolves to no address; give HOST:PORT"))?;
    Ok((first, addrs.iter().all(|a| a.ip().is_loopback())))
}

/// Refuse a non-loopback Flight SQL address without TLS and tokens, naming
/// what is missing.
pub(crate) fn check_policy(
    args: &ServeArgs,
    addr: SocketAddr,
    loopback: bool,
) -> Result<(), String> {
    if loopback {
        return Ok(());
    }
    let mut missing = Vec::new();
    if args.tls_cert.is_none() {
        missing.push(
            "TLS (--tls-cert and --tls-key, or RAPID7_SERVE_TLS_CERT and RAPID7_SERVE_TLS_KEY)",
        );
    }
    if args.serve_tokens.is_none() {
        missing.push("tokens (--serve-tokens FILE or RAPID7_SERVE_TOKENS)");
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {addr} (not loopback) without {}: anyone on the network could \
         read the logs and spend the key's quota. Give them, or listen on 127.0.0.1",
        missing.join(" and ")
    ))
}

/// The TLS configuration of `--tls-cert` / `--tls-key`, if given.
pub(crate) fn tls(args: &ServeArgs) -> Result<Option<ServerTlsConfig>, String> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let read = |flag: &str, path: &Path| {
        std::fs::read(path).map_err(|e| format!("{flag} {}: cannot read it ({e})", path.display()))
    };
    let identity = Identity::from_pem(read("--tls-cert", cert)?, read("--tls-key", key)?);
    Ok(Some(ServerTlsConfig::new().identity(identity)))
}
