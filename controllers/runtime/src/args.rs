//! The command-line flags shared by every controller.

use std::path::PathBuf;

/// Flags every controller accepts (the contract of `gitops install --export`).
#[derive(Debug, Clone, clap::Args)]
pub struct ControllerArgs {
    /// Kubeconfig file; the in-cluster configuration when absent.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Watch objects in all namespaces (`false`: only the controller's own namespace, from
    /// `RUNTIME_NAMESPACE`).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub watch_all_namespaces: bool,
    /// `debug`, `info`, `error` …
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// `json` or `console`.
    #[arg(long, default_value = "json")]
    pub log_encoding: String,
    /// Prometheus metrics address, e.g. `:8080`; empty or `0` to disable.
    #[arg(long, default_value = ":8080")]
    pub metrics_addr: String,
    /// Health probes address, e.g. `:9440`; empty or `0` to disable.
    #[arg(long, default_value = ":9440")]
    pub health_addr: String,
    /// Leader election. This implementation runs as a single replica: the flag is accepted
    /// and has no effect.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub enable_leader_election: bool,
    /// Address of the notification controller's event receiver.
    #[arg(long)]
    pub events_addr: Option<String>,
    /// Reconciles running at once per kind.
    #[arg(long, default_value_t = 8)]
    pub concurrent: u16,
    /// Only reconcile objects matching this label selector (sharding, as Flux's flag);
    /// all objects when empty.
    #[arg(long, default_value = "")]
    pub watch_label_selector: String,
}

/// Parses `:8080`, `0.0.0.0:8080` or `host:port` into a socket address to bind; `None` for
/// an empty or `0` value.
pub fn bind_addr(s: &str) -> Option<std::net::SocketAddr> {
    let s = s.trim();
    if s.is_empty() || s == "0" {
        return None;
    }
    let full = if let Some(port) = s.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else {
        s.to_owned()
    };
    use std::net::ToSocketAddrs;
    full.to_socket_addrs().ok()?.next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        c: ControllerArgs,
    }

    #[test]
    fn install_flags_parse() {
        let cli = Cli::parse_from([
            "x",
            "--watch-all-namespaces=true",
            "--log-level=info",
            "--log-encoding=json",
            "--metrics-addr=:8080",
            "--health-addr=:9440",
            "--enable-leader-election",
            "--events-addr=http://notification-controller.flux-system.svc.cluster.local./",
        ]);
        assert!(cli.c.watch_all_namespaces && cli.c.enable_leader_election);
        assert_eq!(bind_addr(&cli.c.metrics_addr).unwrap().port(), 8080);
        assert_eq!(bind_addr("0"), None);
        assert_eq!(
            bind_addr("127.0.0.1:9090").unwrap().to_string(),
            "127.0.0.1:9090"
        );
    }
}
