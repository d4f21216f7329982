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

/// Flux's `--watch-configs-label-selector` (kustomize, helm and notification controllers).
#[derive(Debug, Clone, clap::Args)]
pub struct WatchConfigsArgs {
    /// Reconcile the objects that read a ConfigMap or Secret (values, variables, keys,
    /// kubeconfigs) as soon as one matching this label selector changes; empty disables it.
    #[arg(long, default_value = "reconcile.fluxcd.io/watch=Enabled")]
    pub watch_configs_label_selector: String,
}

/// Whether feature gate `name` is on in a `--feature-gates` value (`A=true,B=false`);
/// `default` when the value does not name it. A value that is not a boolean is an error;
/// gates not in `known` are logged and ignored (Flux refuses them, but a gate this
/// implementation lacks should not keep a controller from starting).
pub fn feature_gate(
    gates: &str,
    known: &[&str],
    name: &str,
    default: bool,
) -> Result<bool, String> {
    let mut on = default;
    for item in gates.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (gate, value) = item.split_once('=').unwrap_or((item, "true"));
        let value: bool = match value.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            other => {
                return Err(format!(
                    "--feature-gates: invalid value of {gate}: {other:?} (true or false)"
                ));
            }
        };
        if !known.contains(&gate.trim()) {
            tracing::warn!("--feature-gates: ignoring unknown feature gate {gate:?}");
        }
        if gate.trim() == name {
            on = value;
        }
    }
    Ok(on)
}

/// Parses a Go duration flag value (`30s`, `1m30s`, `2h`) for clap's `value_parser`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    gitops_api::duration::parse_go_duration(s).map_err(|e| e.to_string())
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
    #[test]
    fn feature_gates_are_parsed_and_checked() {
        let known = ["DisableConfigWatchers", "OOMWatch"];
        let g = |v: &str, name: &str| super::feature_gate(v, &known, name, false);
        assert_eq!(g("", "OOMWatch"), Ok(false));
        assert_eq!(g("OOMWatch=true", "OOMWatch"), Ok(true));
        assert_eq!(g("OOMWatch", "OOMWatch"), Ok(true));
        assert_eq!(
            g(
                " DisableConfigWatchers=True , OOMWatch=false",
                "DisableConfigWatchers"
            ),
            Ok(true)
        );
        assert_eq!(g("OOMWatch=false", "DisableConfigWatchers"), Ok(false));
        assert_eq!(g("Nope=true,OOMWatch", "OOMWatch"), Ok(true));
        assert!(
            g("OOMWatch=yes", "OOMWatch")
                .unwrap_err()
                .contains("invalid value")
        );
    }

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
