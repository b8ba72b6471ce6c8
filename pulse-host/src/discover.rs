//! DNS discovery (`LITELLM_PULSE_DISCOVER=dns:HOST:PORT[/path]`): the
//! scrape targets of a round are the A/AAAA records of `HOST` now.
//!
//! By default the system's resolver answers (`getaddrinfo`, as for any other
//! name pulse connects to). With `LITELLM_PULSE_DNS_SERVER=IP:PORT` a real DNS
//! client (hickory) asks that server alone, over UDP and TCP for truncated
//! answers, with no cache: every round sees the records as they are.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use crate::config::Discover;

/// Who answers discovery's questions.
#[derive(Clone)]
pub enum Resolver {
    /// The operating system's resolver.
    System,
    /// A DNS client asking one server.
    Server(SocketAddr, Box<TokioResolver>),
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolver::System => f.write_str("System"),
            Resolver::Server(addr, _) => f.debug_tuple("Server").field(addr).finish(),
        }
    }
}

impl Resolver {
    /// The system's resolver, or a client of `server` giving up on a
    /// question after `timeout` (twice).
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Resolver, String> {
        let Some(addr) = server else {
            return Ok(Resolver::System);
        };
        let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
        for c in &mut ns.connections {
            c.port = addr.port();
        }
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 2;
        opts.cache_size = 0;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        let config = ResolverConfig::from_name_servers(vec![ns]);
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
            .map_err(|e| format!("DNS server {addr}: {e}"))?;
        Ok(Resolver::Server(addr, Box::new(resolver)))
    }

    /// The addresses of `d`'s name with `d`'s port, in the order given,
    /// without repeats.
    pub async fn resolve(&self, d: &Discover) -> Result<Vec<SocketAddr>, String> {
        let found: Vec<SocketAddr> = match self {
            Resolver::System => tokio::net::lookup_host((d.host.as_str(), d.port))
                .await
                .map_err(|e| format!("cannot resolve {d}: {e}"))?
                .collect(),
            Resolver::Server(addr, r) => r
                .lookup_ip(d.host.as_str())
                .await
                .map_err(|e| format!("cannot resolve {d} at {addr}: {e}"))?
                .iter()
                .map(|ip| SocketAddr::new(ip, d.port))
                .collect(),
        };
        let mut out: Vec<SocketAddr> = Vec::with_capacity(found.len());
        for a in found {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discover(host: &str) -> Discover {
        Discover {
            host: host.to_owned(),
            port: 4000,
            path: "/metrics".to_owned(),
        }
    }

    #[tokio::test]
    async fn the_system_resolver_gives_loopback_with_the_port() {
        let r = Resolver::new(None, Duration::from_secs(1)).unwrap();
        let addrs = r.resolve(&discover("127.0.0.3")).await.unwrap();
        assert_eq!(addrs, [SocketAddr::from(([127, 0, 0, 3], 4000))]);
    }

    #[tokio::test]
    async fn a_silent_server_is_an_error_naming_it() {
        // A bound UDP socket that never answers.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let r = Resolver::new(Some(addr), Duration::from_millis(100)).unwrap();
        let e = r.resolve(&discover("litellm.test")).await.unwrap_err();
        assert!(
            e.contains(&addr.to_string()) && e.contains("dns:litellm.test:4000"),
            "{e}"
        );
    }
}
